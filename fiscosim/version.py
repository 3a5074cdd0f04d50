"""The package's version and the version of what a run computes (imports nothing of fiscosim)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fiscosim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

MODEL_EPOCH = 6
"""Version of what a run computes. A change meant to change results (a cost, a protocol rule)
bumps it; tests/golden holds outputs recorded at this epoch, and manifest.json records it."""
