"""ctypes binding to Intel IPP Crypto's GFpEC API: SM2 verification on CPUs without AVX-512 IFMA.

crypto_mb (:mod:`fiscosim.crypto.cryptomb`) verifies eight SM2 signatures per call but only on
CPUs with AVX-512 IFMA. The same ``ipp-crypto`` wheel (the ``accel`` extra) also installs
``libippcp.so``, the general IPP Crypto library, whose GFpEC functions run on any x86-64 CPU
(AVX2/BMI2/ADX code on a Zen 3 EPYC). This module drives its ``ippsGFpECVerifySM2``, one
signature per native call, with every buffer allocated once per thread, and is the SM2 suite's
middle backend: crypto_mb where it runs, else this, else tongsuopy (:mod:`fiscosim.crypto.sm2`).
There is no compiled code of ours: ``libippcp.so`` needs only libc.

The library is looked for in ``FISCOSIM_IPPCP_DIR`` first, then where crypto_mb is looked for
(``FISCOSIM_CRYPTO_MB_DIR``, ``sys.prefix/lib``, ``sys.base_prefix/lib``). Absent, it leaves
the backend unavailable (:func:`why_unavailable` says why); importing this module never fails.

Facts of the API this binding relies on (``include/ippcp.h`` and ``include/ippcpdefs.h`` of
intel/cryptography-primitives, the renamed ipp-crypto; sources in ``sources/ippcp/gfpec/``),
and what the ipp-crypto wheels 2025.0.0 to 2026.2.0 did when tried on a Zen 4 EPYC:

- the field and curve come from ``ippsGFpInitFixed(256, ippsGFpMethod_p256sm2())`` and
  ``ippsGFpECInitStdSM2``, the GB/T 32918.5 recommended curve built into the library
  (``pcpgfpecinitstdsm2.c``); ``ippsGFpECBindGxyTblStdSM2`` attaches the library's precomputed
  table of multiples of G, which ``ippsGFpECVerifySM2`` uses for [s]G (1.1-1.5× faster than
  without it). There is no public call that builds such a table for another point, so
  per-sender tables cannot be had through this API (docs/performance.md);
- ``ippsGFpECVerifySM2(e, Q, r, s, &result, ec, scratch)`` takes the message representative e
  itself, not the message: e = SM3(Z_A ‖ M) is computed by the caller
  (:func:`fiscosim.crypto.sm2.message_digests`), because ``ippsGFpECMessageRepresentationSM2``
  did not give a usable e in the prototype of issue 21. e may be any 256-bit number (the
  library reduces it mod n). ``result`` is ``ippECValid`` (0) or ``ippECInvalidSignature``
  (17, the last member of ``IppECResult``); any status but ``ippStsNoErr`` (0) is a rejection;
- t = (r + s) mod n = 0: the 2024 sources skip [s]G + [t]Q then and compare r with e mod n
  alone, so r = e mod n, s = n − r verifies against **any** key; ipp-crypto 2025.0.0 (library
  1.0.0) does accept it, 2025.1.0 and later reject it. The standard (GB/T 32918.2 §7.1 B5)
  rejects t = 0, and so does :func:`verify_digests`, before calling the library;
- the code path: on AVX-512 CPUs ``ippcpInit`` dispatches to the ``k1`` code, whose
  ``ippsGFpECVerifySM2`` rejected every valid signature (its own ``ippsGFpECSignSM2`` output
  included) in 2025.1.0 to 2026.0.1 with or without the G table, and in 2025.0.0 with the
  table (which there is a radix-2^52 one, ``pcpgfpecbindstdsm2.c``); only 2026.2.0 was right
  both ways. The ``l9`` (AVX2) code was right in every release tried, and the faster of the
  two (10,200/s against 9,100/s on one Zen 4 core), so it is the default (:data:`ENV_CPU`); a
  CPU without AVX-512 gets it anyway. With ``native`` the G table is bound only where IFMA is
  not enabled. Whatever the path, the SM2 suite's self-check
  (:func:`fiscosim.crypto.sm2.ipp_usable`) turns the backend off if it gets a known answer
  wrong;
- the public key is taken as given: callers must have checked that it lies on the curve, and
  r, s in [1, n − 1] (:func:`fiscosim.crypto.sm2._screen` does both);
- contexts hold pointers into themselves (``ippsGFpECPointInit``, ``ippsBigNumInit``), so each
  lives in one buffer that is never moved, and they are per thread: the library keeps scratch
  pools inside the curve context.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

import numpy as np

from fiscosim.crypto.cryptomb import LibraryVersion

ENV_DIR = "FISCOSIM_IPPCP_DIR"
"""Environment variable naming a directory to look for libippcp.so in before the others."""
ENV_CPU = "FISCOSIM_IPPCP_CPU"
"""Environment variable choosing libippcp's code path: ``avx2`` (the default) runs the code it
runs on CPUs without AVX-512 (``l9`` on AVX2 CPUs), through ``ippcpSetCpuFeatures`` with every
AVX-512 feature bit cleared; ``native`` lets ``ippcpInit`` pick the best path for this CPU.
Worker processes inherit it, so it reaches the whole batch core."""

LIBRARY = "libippcp.so"

IPP_STS_NO_ERR = 0
"""``ippStsNoErr`` of ippcpdefs.h."""
IPP_EC_VALID = 0
"""``ippECValid``, the first member of ``IppECResult`` in ippcpdefs.h."""
IPP_CPUID_AVX512IFMA = 0x100000000
"""``ippCPUID_AVX512IFMA`` of ippcpdefs.h, a bit of ``ippcpGetEnabledCpuFeatures()``."""
_FEATURE_NAMES = {
    "AVX2": 0x8000,
    "ADX": 0x10000,
    "BMI2": 0x40000,
    "AVX512F": 0x100000,
    "AVX512IFMA": IPP_CPUID_AVX512IFMA,
}
"""Bits of ``ippcpGetEnabledCpuFeatures()`` (ippcpdefs.h ``ippCPUID_*``), named for reports."""
_AVX512_BITS = (
    0x0F00000  # ippCPUID_AVX512F, CD, ER, PF
    | 0xF000000  # ippCPUID_AVX512BW, DQ, VL, VBMI
    | 0x60000000  # ippCPUID_AVX512_4FMADDPS, _4VNNIW
    | 0x100000000  # ippCPUID_AVX512IFMA
    | 0x200000000  # ippAVX512_ENABLEDBYOS
    | 0x3C00000000  # ippCPUID_AVX512GFNI, VAES, VCLMUL (= FP16), VBMI2
)
"""Every AVX-512 bit of ippcpdefs.h's ``ippCPUID_*`` list (cleared for ``avx2``)."""

FIELD_BITS = 256
"""Bits of the SM2 prime p (GB/T 32918.5), as ``ippsGFpInitFixed`` wants it."""
BIGNUM_WORDS = 8
"""32-bit words of each big number (e, r, s): 256 bits."""
SCALARS = 2
"""``ippsGFpECScratchBufferSize`` for [s]G + [t]Q: two scalar multiplications."""

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""Order of the SM2 group (GB/T 32918.5), the same as :data:`fiscosim.crypto.sm2.SM2_N`."""
_N_LIMBS = np.array([(SM2_N >> (32 * i)) & 0xFFFFFFFF for i in range(8)], dtype=np.uint64)
"""n as 8 little-endian 32-bit limbs, for the vectorised r + s = n test."""


class _State:
    """What this process found out about libippcp; filled once, on first use."""

    loaded = False
    library: ctypes.CDLL | None = None
    reason = ""
    version = ""
    features = 0


_state = _State()
_load_lock = threading.Lock()
_local = threading.local()


def available() -> bool:
    """Whether libippcp loaded here and a curve context for SM2 could be built."""
    _ensure_loaded()
    return _state.library is not None


def why_unavailable() -> str:
    """Why :func:`available` is False, in words; an empty string when it is True."""
    _ensure_loaded()
    return _state.reason


def version() -> str:
    """libippcp's own version string and the code path it dispatched to."""
    _ensure_loaded()
    return _state.version


def cpu_features() -> list[str]:
    """The named CPU features libippcp enabled for itself (AVX2, ADX, BMI2, AVX512IFMA)."""
    _ensure_loaded()
    return [name for name, bit in _FEATURE_NAMES.items() if _state.features & bit]


def disable(reason: str) -> None:
    """Stops using libippcp in this process; :func:`why_unavailable` will say ``reason``."""
    _ensure_loaded()
    with _load_lock:
        _state.library = None
        _state.reason = reason


def reset() -> None:
    """Forgets what this process found, so the next call loads libippcp again.

    For tests and benchmarks that change ``FISCOSIM_IPPCP_CPU`` within one process: the
    dispatcher is process-wide, so the reload re-dispatches and every thread's context is
    rebuilt on its next use. :func:`fiscosim.crypto.sm2.reset_ipp` also forgets the SM2
    suite's self-check (this module imports nothing of sm2: sm2 imports it).
    """
    global _state
    with _load_lock:
        _state = _State()


def _candidate_dirs() -> list[Path]:
    from fiscosim.crypto import cryptomb  # the accel extra puts both libraries together

    dirs = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    for directory in cryptomb._candidate_dirs():
        if directory not in dirs:
            dirs.append(directory)
    return dirs


def _declare(lib: ctypes.CDLL) -> None:
    """Argument and return types; every context is passed as a raw address."""
    p = ctypes.c_void_p
    i = ctypes.c_int
    status = ctypes.c_int
    signatures: dict[str, tuple[object, tuple]] = {
        "ippcpInit": (status, ()),
        "ippcpGetEnabledCpuFeatures": (ctypes.c_uint64, ()),
        "ippcpGetCpuFeatures": (status, (p,)),
        "ippcpSetCpuFeatures": (status, (ctypes.c_uint64,)),
        "cryptoGetLibVersion": (ctypes.POINTER(LibraryVersion), ()),
        "ippsGFpMethod_p256sm2": (p, ()),
        "ippsGFpGetSize": (status, (i, p)),
        "ippsGFpInitFixed": (status, (i, p, p)),
        "ippsGFpECGetSize": (status, (p, p)),
        "ippsGFpECInitStdSM2": (status, (p, p)),
        "ippsGFpECBindGxyTblStdSM2": (status, (p,)),
        "ippsGFpECScratchBufferSize": (status, (i, p, p)),
        "ippsGFpECPointGetSize": (status, (p, p)),
        "ippsGFpECPointInit": (status, (p, p, p, p)),
        "ippsGFpECSetPointOctString": (status, (p, i, p, p)),
        "ippsBigNumGetSize": (status, (i, p)),
        "ippsBigNumInit": (status, (i, p)),
        "ippsSetOctString_BN": (status, (p, i, p)),
        "ippsGFpECVerifySM2": (status, (p, p, p, p, p, p, p)),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


def _ensure_loaded() -> None:
    if _state.loaded:
        return
    with _load_lock:
        if _state.loaded:
            return
        _state.library, _state.reason = _load()
        _state.loaded = True


def _load() -> tuple[ctypes.CDLL | None, str]:
    """The usable library, or None and why not."""
    searched = _candidate_dirs()
    path = next((d / LIBRARY for d in searched if (d / LIBRARY).is_file()), None)
    if path is None:
        return None, (
            f"{LIBRARY} not found in {', '.join(map(str, searched))} (install the 'accel' "
            f"extra: ipp-crypto, or set {ENV_DIR})"
        )
    try:
        lib = ctypes.CDLL(str(path))
        _declare(lib)
    except OSError as error:
        return None, f"{path} did not load: {error}"
    except AttributeError as error:  # a libippcp too old or too new for these names
        return None, f"{path} lacks a function this binding calls: {error}"
    cpu = os.environ.get(ENV_CPU, "avx2").strip().lower() or "avx2"
    if cpu == "native":
        status = lib.ippcpInit()  # dispatch to the best code path for this CPU
    elif cpu == "avx2":
        features = ctypes.c_uint64()
        status = lib.ippcpGetCpuFeatures(ctypes.byref(features))
        if status >= 0:
            status = lib.ippcpSetCpuFeatures(features.value & ~_AVX512_BITS)
    else:
        return None, f"{ENV_CPU}={cpu!r} is neither 'native' nor 'avx2'"
    if status < 0:  # positive statuses are warnings (e.g. "not all features enabled")
        return None, f"libippcp's dispatcher ({cpu}) failed with status {status}"
    _state.features = int(lib.ippcpGetEnabledCpuFeatures())
    info = lib.cryptoGetLibVersion().contents
    _state.version = (info.strVersion or info.name or b"").decode(errors="replace")
    try:
        _Context(lib)  # builds the field and the curve once, so failures show here
    except RuntimeError as error:
        return None, str(error)
    return lib, ""


def _library() -> ctypes.CDLL:
    _ensure_loaded()
    if _state.library is None:
        raise RuntimeError(f"libippcp is not usable: {_state.reason}")
    return _state.library


def _buffer(size: int) -> ctypes.Array:
    """A zeroed buffer of ``size`` bytes plus 64 for the library's own alignment."""
    return ctypes.create_string_buffer(size + 64)


class _Context:
    """One thread's SM2 curve, scratch space, big numbers and public-key points."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        size = ctypes.c_int()

        def check(status: int, what: str) -> None:
            if status != IPP_STS_NO_ERR:
                raise RuntimeError(f"libippcp: {what} failed with status {status}")

        check(lib.ippsGFpGetSize(FIELD_BITS, ctypes.byref(size)), "ippsGFpGetSize")
        self.field = _buffer(size.value)
        method = lib.ippsGFpMethod_p256sm2()
        check(lib.ippsGFpInitFixed(FIELD_BITS, method, self.field), "ippsGFpInitFixed")
        check(lib.ippsGFpECGetSize(self.field, ctypes.byref(size)), "ippsGFpECGetSize")
        self.curve = _buffer(size.value)
        check(lib.ippsGFpECInitStdSM2(self.field, self.curve), "ippsGFpECInitStdSM2")
        self.table_bound = not _state.features & IPP_CPUID_AVX512IFMA
        if self.table_bound:
            check(lib.ippsGFpECBindGxyTblStdSM2(self.curve), "ippsGFpECBindGxyTblStdSM2")
        check(
            lib.ippsGFpECScratchBufferSize(SCALARS, self.curve, ctypes.byref(size)),
            "ippsGFpECScratchBufferSize",
        )
        self.scratch = _buffer(size.value)
        check(lib.ippsGFpECPointGetSize(self.curve, ctypes.byref(size)), "ippsGFpECPointGetSize")
        self.point_size = -(-(size.value + 64) // 64) * 64
        check(lib.ippsBigNumGetSize(BIGNUM_WORDS, ctypes.byref(size)), "ippsBigNumGetSize")
        self.numbers = []
        for _ in range(3):  # e, r, s
            number = _buffer(size.value)
            check(lib.ippsBigNumInit(BIGNUM_WORDS, number), "ippsBigNumInit")
            self.numbers.append(number)
        self.result = ctypes.c_int()
        self.points = _buffer(0)
        self.point_count = 0

    def points_for(self, keys: np.ndarray) -> list[int | None]:
        """Addresses of points set to the k×64 public keys ``keys`` (valid until the next call).

        A key the library refuses (a coordinate ≥ p: never after screening) gets None. The
        library copies the coordinates, so ``keys`` need not outlive the call.
        """
        lib = self.lib
        count = len(keys)
        if count > self.point_count:
            self.point_count = max(count, 2 * self.point_count, 256)
            self.points = _buffer(self.point_size * self.point_count)
        base = ctypes.addressof(self.points)
        base += -base % 64
        keys = np.ascontiguousarray(keys, dtype=np.uint8)
        key_at = keys.ctypes.data
        addresses = []
        for i in range(count):
            point = base + self.point_size * i
            # Initialised afresh for every shard: cheap next to a verification.
            if lib.ippsGFpECPointInit(None, None, point, self.curve) != IPP_STS_NO_ERR:
                addresses.append(None)
                continue
            status = lib.ippsGFpECSetPointOctString(key_at + 64 * i, 64, point, self.curve)
            addresses.append(point if status == IPP_STS_NO_ERR else None)
        return addresses


def _context() -> _Context:
    context = getattr(_local, "context", None)
    lib = _library()
    if context is None or context.lib is not lib:
        context = _local.context = _Context(lib)
    return context


def t_is_zero(signatures: np.ndarray) -> np.ndarray:
    """Rows whose r + s equals n, i.e. t = (r + s) mod n = 0 for r, s in [1, n − 1].

    ``signatures`` is m×128 (or m×64) uint8, r‖s big-endian first. Vectorised with 32-bit limbs
    in 64-bit lanes so the carries fit.

    >>> row = np.zeros((1, 64), np.uint8); row[0, 31] = 1
    >>> row[0, 32:] = np.frombuffer((SM2_N - 1).to_bytes(32, "big"), np.uint8)
    >>> t_is_zero(row).tolist()
    [True]
    """
    signatures = np.ascontiguousarray(signatures, dtype=np.uint8)
    limbs = signatures[:, :64].view(">u4").astype(np.uint64)  # m×16: r then s, big-endian
    r, s = limbs[:, 7::-1], limbs[:, 15:7:-1]  # little-endian limb order
    equal = np.ones(len(signatures), dtype=bool)
    carry = np.zeros(len(signatures), dtype=np.uint64)
    for limb in range(8):
        total = r[:, limb] + s[:, limb] + carry
        equal &= (total & 0xFFFFFFFF) == _N_LIMBS[limb]
        carry = total >> 32
    return equal & (carry == 0)


def verify_digests(
    digests: np.ndarray, signatures: np.ndarray, key_of_lane: np.ndarray, keys: np.ndarray
) -> np.ndarray:
    """SM2 verdicts of screened rows: True where r‖s signs e under the row's key.

    ``digests`` is m×32 uint8, each row e = SM3(Z_A ‖ M) big-endian; ``signatures`` m×128
    uint8 r‖s‖x‖y (only r‖s are read); ``key_of_lane[i]`` indexes the row's key in the k×64
    uint8 ``keys``. Callers must have checked that r and s lie in [1, n − 1] and that every
    key is on the curve; t = (r + s) mod n = 0 is rejected here. Raises RuntimeError where
    libippcp is not usable.
    """
    context = _context()
    count = len(digests)
    verdicts = np.zeros(count, dtype=bool)
    if count == 0:
        return verdicts
    digests = np.ascontiguousarray(digests, dtype=np.uint8)
    signatures = np.ascontiguousarray(signatures, dtype=np.uint8)
    if digests.shape != (count, 32) or signatures.shape != (count, 128):
        raise ValueError("expected m×32 digests and m×128 signatures")
    points = context.points_for(keys)
    lib = context.lib
    set_number = lib.ippsSetOctString_BN
    verify = lib.ippsGFpECVerifySM2
    e_number, r_number, s_number = (ctypes.addressof(n) for n in context.numbers)
    result = context.result
    result_at = ctypes.addressof(result)
    curve = ctypes.addressof(context.curve)
    scratch = ctypes.addressof(context.scratch)
    digest_at = digests.ctypes.data
    signature_at = signatures.ctypes.data
    skip = t_is_zero(signatures).tolist()
    for i, key_index in enumerate(np.asarray(key_of_lane).tolist()):
        point = points[key_index]
        if point is None or skip[i]:
            continue
        row = signature_at + 128 * i
        set_number(digest_at + 32 * i, 32, e_number)
        set_number(row, 32, r_number)
        set_number(row + 32, 32, s_number)
        result.value = -1
        status = verify(e_number, point, r_number, s_number, result_at, curve, scratch)
        verdicts[i] = status == IPP_STS_NO_ERR and result.value == IPP_EC_VALID
    return verdicts
