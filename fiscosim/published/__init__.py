"""FISCO BCOS's published figures as versioned reference points, and the simulator's predictions
of them (issue 16, part 3; docs/validation.md)."""
