"""Layer 4: metrics of a run — the block log, the summary, result files and the report table."""
