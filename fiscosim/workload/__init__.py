"""Workloads: clients and the transactions they send (modelled, or really signed).

Clients submit transactions at a rate or in a closed loop; in real-crypto mode the transactions
come from a corpus signed once and cached on disk (:mod:`fiscosim.workload.corpus`).
"""
