"""Workloads: clients and the transactions they send (modelled, or really signed).

Clients submit transactions at a rate, in a closed loop or as a count under a rate cap
(:mod:`fiscosim.workload.modes`, docs/clients.md); in real-crypto mode the transactions
come from a corpus signed once and cached on disk (:mod:`fiscosim.workload.corpus`).
"""
