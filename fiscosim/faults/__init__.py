"""Fault injection: crashes and restarts, partitions, loss, delay, slow and byzantine nodes.

- :mod:`~fiscosim.faults.injector` carries out a scenario's ``faults:`` at their times;
- :mod:`~fiscosim.faults.byzantine` is what a byzantine node does to its core's messages;
- :mod:`~fiscosim.faults.behaviours` names the behaviours (imports nothing, for the schema).
"""
