"""fiscosim: a discrete-event simulator of FISCO BCOS-style consortium blockchains.

The package is layered (see docs/architecture.md): ``fiscosim.crypto`` and ``fiscosim.chain``
are the bottom layer and know nothing about simulated time; ``fiscosim.consensus`` holds the
sans-I/O PBFT core; ``fiscosim.net`` and ``fiscosim.node`` the simulated network and nodes;
``fiscosim.schema`` says what a scenario is; ``fiscosim.sim`` builds and runs a world from one
(:class:`Simulation`); ``fiscosim.scenario`` loads one from a file (:func:`load_simulation`).
"""

from typing import Any

from fiscosim.version import MODEL_EPOCH, __version__

__all__ = ["MODEL_EPOCH", "Simulation", "__version__", "load_simulation"]


def __getattr__(name: str) -> Any:
    # Lazy, so that "import fiscosim" (and the CLI's --version) stays fast.
    if name == "Simulation":
        from fiscosim.sim.simulation import Simulation

        return Simulation
    if name == "load_simulation":
        from fiscosim.scenario import load_simulation

        return load_simulation
    raise AttributeError(f"module 'fiscosim' has no attribute {name!r}")
