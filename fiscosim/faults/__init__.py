"""Layer 3: fault injection — crashes and restarts, partitions, loss, delay and slow nodes."""

from fiscosim.faults.injector import schedule_faults

__all__ = ["schedule_faults"]
