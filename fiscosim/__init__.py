"""fiscosim: a discrete-event simulator of FISCO BCOS-style consortium blockchains.

The package is layered (see docs/architecture.md): ``fiscosim.crypto`` and ``fiscosim.chain``
are the bottom layer and know nothing about simulated time; ``fiscosim.consensus`` holds the
sans-I/O PBFT core; ``fiscosim.net`` and ``fiscosim.node`` the simulated network and nodes;
``fiscosim.sim`` builds and runs a world from a scenario (:class:`Simulation`).
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("fiscosim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

MODEL_EPOCH = 1
"""Version of what a run computes. A change meant to change results (a cost, a protocol rule)
bumps it; tests/golden holds outputs recorded at this epoch, and manifest.json records it."""

__all__ = ["MODEL_EPOCH", "Simulation", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that "import fiscosim" (and the CLI's --version) stays fast.
    if name == "Simulation":
        from fiscosim.sim.simulation import Simulation

        return Simulation
    raise AttributeError(f"module 'fiscosim' has no attribute {name!r}")
