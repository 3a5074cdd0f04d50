"""Layer 3: the simulated node: roles (sealer, observer), the runtime that drives protocol cores
with simulated timers, CPU cores and the hardware cost model, the txpool and the sealer.

Work on a node takes simulated time from its :class:`~fiscosim.node.costs.CostModel`, never from
the wall clock (docs/architecture.md rule 3).
"""
