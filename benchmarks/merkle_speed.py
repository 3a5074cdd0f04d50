"""How long a Merkle root of a block's transactions takes (fiscosim.crypto.merkle).

    python benchmarks/merkle_speed.py               # 10,000 leaves
    python benchmarks/merkle_speed.py 1000 100000   # other sizes

Per size, width (3.x binary, 2.x 16-ary) and hash (keccak256, SM3): the best of five builds
of the root from an n×32 array, in milliseconds, and the time per leaf. Building is linear (one
hash call per parent); tests/test_merkle.py checks that by counting hash calls, this measures
the speed on the machine at hand (about 17 ms for 10,000 leaves, either width or hash, on
the 2-core development host). Nothing here is an assertion.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

from fiscosim.crypto.hashing import keccak256
from fiscosim.crypto.merkle import WIDTH_V2, WIDTH_V3, merkle_root
from fiscosim.crypto.sm3 import sm3

REPEATS = 5


def best_ms(leaves: np.ndarray, hash_fn, width: int) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        merkle_root(leaves, hash_fn, width)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [10_000]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{'leaves':>8} {'width':>5} {'hash':>9} {'best ms':>9} {'µs/leaf':>8}")
    for count in sizes:
        leaves = np.random.default_rng(5).integers(0, 256, size=(count, 32), dtype=np.uint8)
        for width in (WIDTH_V3, WIDTH_V2):
            for name, hash_fn in (("keccak256", keccak256), ("sm3", sm3)):
                ms = best_ms(leaves, hash_fn, width)
                print(f"{count:>8} {width:>5} {name:>9} {ms:>9.2f} {ms * 1e3 / count:>8.2f}")


if __name__ == "__main__":
    main()
