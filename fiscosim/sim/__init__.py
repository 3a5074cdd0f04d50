"""Running a scenario: building its world, running it, and the host-side services of a run.

Among those services is real-crypto mode's shared verdict table
(:mod:`fiscosim.sim.verdicts`): each distinct transaction is really verified once per run and
its verdict shared by every simulated node (docs/architecture.md rule 4).
"""
