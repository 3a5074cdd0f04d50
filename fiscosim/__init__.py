"""fiscosim: a discrete-event simulator of FISCO BCOS-style consortium blockchains.

The package is layered (see docs/architecture.md): ``fiscosim.crypto`` and ``fiscosim.chain``
are the bottom layer and know nothing about simulated time.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fiscosim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
