"""The names of the byzantine behaviours a scenario may give a node, and their defaults.

Kept apart from :mod:`fiscosim.faults.byzantine` (which implements them) so that the scenario
schema can validate the names without importing numpy or the simulation: this module imports
nothing.
"""

BEHAVIOURS = (
    "silent",
    "equivocate",
    "withhold_votes",
    "wrong_votes",
    "forge_signatures",
    "forge_txs",
    "reorder",
    "forge_light",
)
"""What ``faults: - kind: byzantine, behaviour: ...`` accepts (the module docstring)."""

DEFAULT_REORDER_MS = 50.0
"""The longest hold of a ``reorder`` node's message when its fault gives no ``delay_ms``."""
