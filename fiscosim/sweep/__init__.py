"""Parameter sweeps: a plan of scenario variants over seeds, run on a local process pool or a
Dask cluster, resumable, with tidy tables, confidence intervals and plots (docs/sweeps.md)."""
