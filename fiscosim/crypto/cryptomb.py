"""ctypes binding to Intel's multi-buffer crypto_mb: SM2 verification 8 and SM3 16 at a time.

crypto_mb ships as ``libcrypto_mb.so`` in the PyPI wheel ``ipp-crypto`` (the ``accel`` extra),
with its Intel compiler runtime (``libsvml.so``, ``libirng.so``, ``libimf.so``,
``libintlc.so.5``, ``libirc.so``) in the wheel ``intel-cmplr-lib-rt``; both put their shared
libraries in ``sys.prefix + "/lib"``, which is not on the loader's search path, so the runtime
is preloaded with ``RTLD_GLOBAL`` before crypto_mb itself. ``FISCOSIM_CRYPTO_MB_DIR`` names a
directory to look in first. There is no compiled code of ours.

The library's SM2 and SM3 functions need AVX-512 IFMA (Ice Lake server or later); on other CPUs
they return "unsupported ISA" for every lane, so :func:`available` asks the library's own
applicability check first, then runs known answers through the 16-lane SM3. The SM2 suite adds
a signature self-check the first time it uses crypto_mb and calls :func:`disable` if crypto_mb
disagrees with the fallback.

ABI facts this binding relies on (headers in ``include/crypto_mb/`` of ``ipp-crypto-include``,
sources in intel/cryptography-primitives ``sources/ippcp/crypto_mb/src/sm2/``):

- ``mbx_sm2_ecdsa_verify_mb8(r[8], s[8], id[8], id_len[8], msg[8], msg_len[8], x[8], y[8],
  z[8], pBuffer)``: r and s are ``int8u*`` 32-byte **big-endian** strings (read with
  ``ifma_HexStr8_to_mb8``); the public key coordinates are ``int64u*`` 4-word **little-endian**
  numbers (read with ``ifma_BNU_to_mb8``); ``msg`` is the message itself, the library computes
  Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA) and e = SM3(Z‖msg); ``z`` must be a NULL *array* for affine
  keys (``use_jproj_coords = NULL != pa_pubz``); ``pBuffer`` is unused and may be NULL. The key
  is range-checked but **not** checked to be on the curve, so callers must do that.
- the return value ``mbx_status`` holds 4 bits per lane (``MBX_GET_STS``), 0 meaning valid.
- ``mbx_sm3_msg_digest_mb16(msg[16], len[16], hash[16])`` returns ``mbx_status16``, 4 bits
  per lane in a 64-bit word; digests are the standard big-endian 32 bytes.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path

import numpy as np

ENV_DIR = "FISCOSIM_CRYPTO_MB_DIR"
"""Environment variable naming a directory to look for libcrypto_mb.so in before the others."""

LIBRARY = "libcrypto_mb.so"
# Each of these needs only libc and the ones before it, so loading them in this order with
# RTLD_GLOBAL satisfies libcrypto_mb.so's NEEDED entries (libsvml, libirng, libimf, libintlc).
RUNTIME_LIBRARIES = ("libintlc.so.5", "libirc.so", "libimf.so", "libsvml.so", "libirng.so")

SM2_LANES = 8
SM3_LANES = 16
DEFAULT_USER_ID = b"1234567812345678"
"""The SM2 signer ID of GM/T 0009 that FISCO BCOS (and OpenSSL, Tongsuo, GmSSL) use."""

# enum MBX_ALGO and enum MBX_WIDTH of cpu_features.h (2025.x/2026.x headers).
_MBX_ALGO_EC_SM2 = 8
_MBX_ALGO_SM3 = 9
_MBX_WIDTH_MB8 = 8
_MBX_WIDTH_MB16 = 16
# MBX_AVX512_GENERAL_ISA of cpu_features.h, named so a refusal can say what the CPU lacks.
_REQUIRED_FEATURES = {
    "BMI2": 0x8000000000,
    "AVX512F": 0x00100000,
    "AVX512DQ": 0x02000000,
    "AVX512BW": 0x01000000,
    "AVX512IFMA": 0x100000000,
    "AVX512VBMI2": 0x2000000000,
    "AVX-512 enabled by the OS": 0x200000000,
}

_SM3_KNOWN_ANSWERS = (
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
)


class LibraryVersion(ctypes.Structure):
    """The version record Intel's crypto libraries return (crypto_mb's ``mbx_getversion``,
    IPP Crypto's ``cryptoGetLibVersion``: the same layout)."""

    _fields_ = (
        ("major", ctypes.c_int),
        ("minor", ctypes.c_int),
        ("patch", ctypes.c_int),
        ("targetCpu", ctypes.c_char * 4),
        ("name", ctypes.c_char_p),
        ("buildDate", ctypes.c_char_p),
        ("strVersion", ctypes.c_char_p),
    )


class _State:
    """What this process found out about crypto_mb; filled once, on first use."""

    loaded = False
    library: ctypes.CDLL | None = None
    reason = ""
    version = ""


_state = _State()
# Worker threads of the batch core may reach crypto_mb first at the same moment.
_load_lock = threading.Lock()


def available() -> bool:
    """Whether crypto_mb's SM2 and SM3 run (and agree with known answers) in this process."""
    _ensure_loaded()
    return _state.library is not None


def why_unavailable() -> str:
    """Why :func:`available` is False, in words; an empty string when it is True."""
    _ensure_loaded()
    return _state.reason


def version() -> str:
    """crypto_mb's own version string (for example ``"crypto_mb (k1) (ver: 2.3.0 ...)"``)."""
    _ensure_loaded()
    return _state.version


def disable(reason: str) -> None:
    """Stops using crypto_mb in this process; :func:`why_unavailable` will say ``reason``."""
    _ensure_loaded()
    with _load_lock:
        _state.library = None
        _state.reason = reason


def _candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]))
    dirs += [Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"]
    unique: list[Path] = []
    for directory in dirs:
        if directory not in unique:
            unique.append(directory)
    return unique


def _open_library() -> tuple[ctypes.CDLL | None, str]:
    """libcrypto_mb.so with its runtime preloaded, or None and why not."""
    searched = _candidate_dirs()
    for directory in searched:
        path = directory / LIBRARY
        if not path.is_file():
            continue
        try:
            for runtime in RUNTIME_LIBRARIES:
                if (directory / runtime).is_file():
                    ctypes.CDLL(str(directory / runtime), mode=ctypes.RTLD_GLOBAL)
            return ctypes.CDLL(str(path)), ""
        except OSError as error:
            return None, (
                f"{path} did not load ({error}); crypto_mb needs intel-cmplr-lib-rt's runtime "
                "(libsvml.so, libirng.so, libimf.so, libintlc.so.5, libirc.so) beside it"
            )
    return None, (
        f"{LIBRARY} not found in {', '.join(map(str, searched))} (install the 'accel' extra: "
        f"ipp-crypto and intel-cmplr-lib-rt, or set {ENV_DIR})"
    )


def _declare(lib: ctypes.CDLL) -> None:
    """Argument and return types; every pointer array is passed as a raw address."""
    lib.mbx_get_cpu_features.restype = ctypes.c_uint64
    lib.mbx_get_cpu_features.argtypes = ()
    lib.mbx_is_crypto_mb_applicable.restype = ctypes.c_int
    lib.mbx_is_crypto_mb_applicable.argtypes = (ctypes.c_uint64,)
    lib.mbx_get_algo_info.restype = ctypes.c_uint64
    lib.mbx_get_algo_info.argtypes = (ctypes.c_int,)
    lib.mbx_getversion.restype = ctypes.POINTER(LibraryVersion)
    lib.mbx_getversion.argtypes = ()
    lib.mbx_sm2_ecdsa_verify_mb8.restype = ctypes.c_uint32
    lib.mbx_sm2_ecdsa_verify_mb8.argtypes = (ctypes.c_void_p,) * 10
    lib.mbx_sm3_msg_digest_mb16.restype = ctypes.c_uint64
    lib.mbx_sm3_msg_digest_mb16.argtypes = (ctypes.c_void_p,) * 3


def _applicability(lib: ctypes.CDLL) -> str:
    """Empty when crypto_mb's SM2 (8 lanes) and SM3 (16 lanes) run on this CPU, else why not."""
    # Passed explicitly rather than relying on 0 meaning "detect this CPU", which the header
    # does not promise.
    features = lib.mbx_get_cpu_features()
    if not lib.mbx_is_crypto_mb_applicable(features):
        missing = [name for name, bit in _REQUIRED_FEATURES.items() if not features & bit]
        return (
            "this CPU lacks AVX-512 IFMA: crypto_mb's mbx_is_crypto_mb_applicable() says no "
            f"(missing: {', '.join(missing) or 'unknown'}); it needs an Ice Lake or later Xeon"
        )
    if not lib.mbx_get_algo_info(_MBX_ALGO_EC_SM2) & _MBX_WIDTH_MB8:
        return "crypto_mb reports no 8-lane SM2 on this CPU (mbx_get_algo_info)"
    if not lib.mbx_get_algo_info(_MBX_ALGO_SM3) & _MBX_WIDTH_MB16:
        return "crypto_mb reports no 16-lane SM3 on this CPU (mbx_get_algo_info)"
    return ""


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
    lib, reason = _open_library()
    if lib is None:
        return None, reason
    try:
        _declare(lib)
    except AttributeError as error:  # a crypto_mb too old or too new for these names
        return None, f"{LIBRARY} lacks a function this binding calls: {error}"
    info = lib.mbx_getversion().contents
    _state.version = (info.strVersion or b"").decode(errors="replace")
    reason = _applicability(lib)
    if reason:
        return None, reason
    reason = _sm3_self_check(lib)
    return (None, reason) if reason else (lib, "")


def _sm3_self_check(lib: ctypes.CDLL) -> str:
    """Empty when the 16-lane SM3 gives the standard's known answers, else what it gave."""
    for message, expected in _SM3_KNOWN_ANSWERS:
        rows = np.frombuffer(message * 3, dtype=np.uint8).reshape(3, len(message))
        try:
            digests = {row.tobytes().hex() for row in _sm3_rows(lib, rows)}
        except RuntimeError as error:
            return f"self-check: crypto_mb's SM3 failed on {message!r}: {error}"
        if digests != {expected}:
            return (
                f"self-check: crypto_mb's SM3 of {message!r} gave {sorted(digests)}, "
                f"expected {expected}"
            )
    return ""


def _library() -> ctypes.CDLL:
    _ensure_loaded()
    if _state.library is None:
        raise RuntimeError(f"crypto_mb is not usable: {_state.reason}")
    return _state.library


def _lane_indices(count: int, lanes: int) -> np.ndarray:
    """0..count-1 padded to a whole number of groups by repeating the last lane.

    The repeats are real, valid work whose verdicts are discarded: a NULL or garbage lane
    would set an error status that some library versions let spread to the whole call.
    """
    padded = -(-count // lanes) * lanes
    return np.minimum(np.arange(padded, dtype=np.uint64), np.uint64(count - 1))


def _lane_statuses(statuses: np.ndarray, lanes: int, count: int) -> np.ndarray:
    """The 4-bit status of each lane (``MBX_GET_STS``), flattened in lane order."""
    shifts = (4 * np.arange(lanes, dtype=np.uint64)).astype(statuses.dtype)
    return ((statuses[:, None] >> shifts) & 0xF).reshape(-1)[:count]


def sm2_verify_rows(
    messages: np.ndarray, signatures: np.ndarray, user_id: bytes = DEFAULT_USER_ID
) -> np.ndarray:
    """Standard SM2 verification of each row: True where ``r‖s`` signs the message.

    ``messages`` is m×L uint8 (the signed messages themselves; the library hashes Z‖message),
    ``signatures`` is m×128 uint8 rows ``r‖s‖x‖y``, all big-endian. Callers must have checked
    that r and s lie in [1, n−1] and that (x, y) is on the curve: crypto_mb does not check the
    curve equation. Raises RuntimeError where crypto_mb is not usable.
    """
    lib = _library()
    messages = np.ascontiguousarray(messages, dtype=np.uint8)
    signatures = np.ascontiguousarray(signatures, dtype=np.uint8)
    count = len(messages)
    if count == 0:
        return np.zeros(0, dtype=bool)
    if signatures.shape != (count, 128) or messages.ndim != 2:
        raise ValueError("expected m×L messages and m×128 signatures")
    length = messages.shape[1]
    # x and y as little-endian 4×64-bit words: reverse each 32-byte big-endian coordinate.
    public_le = np.ascontiguousarray(signatures[:, 64:128].reshape(count, 2, 32)[:, :, ::-1])
    lane = _lane_indices(count, SM2_LANES)
    padded = len(lane)
    # One row of addresses per argument; each group passes 8 consecutive addresses of a row.
    pointers = np.empty((5, padded), dtype=np.uint64)
    pointers[0] = signatures.ctypes.data + 128 * lane  # r
    pointers[1] = pointers[0] + 32  # s
    pointers[2] = messages.ctypes.data + length * lane  # message
    pointers[3] = public_le.ctypes.data + 64 * lane  # x
    pointers[4] = pointers[3] + 32  # y
    user_id_buffer = ctypes.create_string_buffer(user_id, len(user_id))
    user_ids = np.full(SM2_LANES, ctypes.addressof(user_id_buffer), dtype=np.uint64)
    user_id_lengths = np.full(SM2_LANES, len(user_id), dtype=np.int32)
    message_lengths = np.full(SM2_LANES, length, dtype=np.int32)

    verify = lib.mbx_sm2_ecdsa_verify_mb8
    base = pointers.ctypes.data
    row = 8 * padded
    user_ids_at = user_ids.ctypes.data
    user_id_lengths_at = user_id_lengths.ctypes.data
    message_lengths_at = message_lengths.ctypes.data
    statuses = np.empty(padded // SM2_LANES, dtype=np.uint32)
    for group in range(len(statuses)):
        at = base + 8 * SM2_LANES * group
        statuses[group] = verify(
            at,
            at + row,
            user_ids_at,
            user_id_lengths_at,
            at + 2 * row,
            message_lengths_at,
            at + 3 * row,
            at + 4 * row,
            None,  # affine keys: a NULL array, not an array of NULLs
            None,  # pBuffer: unused by the library
        )
    # Keep every buffer the addresses point into alive until the calls are done.
    del user_id_buffer, public_le
    return _lane_statuses(statuses, SM2_LANES, count) == 0


def sm3_rows(rows: np.ndarray) -> np.ndarray:
    """SM3 of every row of an n×L uint8 array (L ≥ 1), 16 rows per native call; n×32 uint8.

    Raises RuntimeError where crypto_mb is not usable or reports an error for a lane.
    """
    return _sm3_rows(_library(), rows)


def _sm3_rows(lib: ctypes.CDLL, rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    count, length = rows.shape
    if count == 0:
        return np.zeros((0, 32), dtype=np.uint8)
    lane = _lane_indices(count, SM3_LANES)
    padded = len(lane)
    digests = np.empty((padded, 32), dtype=np.uint8)  # padding lanes write to their own rows
    message_at = rows.ctypes.data + length * lane
    digest_at = digests.ctypes.data + 32 * np.arange(padded, dtype=np.uint64)
    # The length array is not const in the header; each group gets its own 16 entries.
    lengths = np.full(padded, length, dtype=np.int32)

    digest = lib.mbx_sm3_msg_digest_mb16
    messages_base = message_at.ctypes.data
    digests_base = digest_at.ctypes.data
    lengths_base = lengths.ctypes.data
    statuses = np.empty(padded // SM3_LANES, dtype=np.uint64)
    for group in range(len(statuses)):
        statuses[group] = digest(
            messages_base + 8 * SM3_LANES * group,
            lengths_base + 4 * SM3_LANES * group,
            digests_base + 8 * SM3_LANES * group,
        )
    if statuses.any():
        bad = np.flatnonzero(_lane_statuses(statuses, SM3_LANES, count))
        raise RuntimeError(f"mbx_sm3_msg_digest_mb16 reported errors for rows {bad[:8].tolist()}")
    return digests[:count]
