"""The simulated node: the runtime that drives a protocol core with simulated time, CPU and network.

Its parts: roles (sealer, observer, light node), CPU cores and the hardware cost model, the
txpool and the sealer, block sync, and the run-wide transaction table they share.

Work on a node takes simulated time from its :class:`~fiscosim.node.costs.CostModel`, never from
the wall clock (docs/architecture.md rule 3).
"""
