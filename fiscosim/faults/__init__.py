"""Fault injection: crashes and restarts, partitions, loss, delay, slow and byzantine nodes."""

from fiscosim.faults.injector import schedule_faults

__all__ = ["schedule_faults"]
