"""What a run reports: the block log, the summary, result files and the report table."""
