"""The simulated node: the runtime that drives a protocol core with simulated time, CPU and network.

Its parts: roles (sealer, observer, light node), CPU cores and the hardware cost model, the
run-wide transaction table, and a full node's stages — intake and the txpool, the sealer,
proposal fill, execution and commit, block sync — over the node context they share, wired
by the runtime (docs/architecture.md, decision 24).

Work on a node takes simulated time from its :class:`~fiscosim.node.costs.CostModel`, never from
the wall clock (docs/architecture.md rule 3).
"""
