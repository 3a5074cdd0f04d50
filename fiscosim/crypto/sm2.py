"""FISCO BCOS's guomi crypto suite: SM2 signatures with SM3 (docs/fisco-reference.md §3).

A transaction signature is 128 bytes r‖s‖public key (32 + 32 + 64), as ``SM2Crypto::sign``
writes it with ``_signatureWithPub``: SM2 cannot recover a key, so the key travels with the
signature and "recovering" the sender means verifying r‖s against the embedded key and hashing
that key. Signing follows the standard: e = SM3(Z_A ‖ M) with the default signer ID
``"1234567812345678"`` and M the 32-byte transaction hash. The sender address is the last 20
bytes of SM3(X‖Y).

Three backends verify (signing always uses the fallback library: it is not on the hot path),
and :func:`make_sm2_suite` picks the first that runs here, in this order:

- ``"crypto_mb"``: Intel's multi-buffer ``mbx_sm2_ecdsa_verify_mb8``, eight signatures per
  native call, on CPUs with AVX-512 IFMA (:mod:`fiscosim.crypto.cryptomb`);
- ``"ipp"``: Intel IPP Crypto's ``ippsGFpECVerifySM2`` from ``libippcp.so``, which the same
  ``accel`` extra installs, one signature per call on any x86-64 CPU (AVX2 code on a Zen 3
  EPYC; :mod:`fiscosim.crypto.sm2_ipp`). It takes e = SM3(Z_A ‖ M) rather than the message,
  so :func:`message_digests` computes Z_A once per distinct key and e once per row;
- ``"fallback"``: tongsuopy (Tongsuo, the OpenSSL fork with SM2), one signature per call.

Measured single-signature verification on the development machine (AMD EPYC Zen 3, one core,
a shared and noisy host: the ranges are two sessions' readings), ``python -m timeit`` with a
key built per signature as the kernel does, except where noted::

    gmssl-pyx 2.1 sm2_verify (GmSSL 3)                      930-1,400/s   (1.08-0.72 ms)
    tongsuopy 1.0.1 from_encoded_point + verify           1,750-2,400/s   (576-420 µs)
    tongsuopy 1.0.1 verify, key object reused             2,050-2,200/s   (488-453 µs)
    gmssl (pure Python; not installed here, the lead's figure)      ~65/s
    verify_shard, fallback, 4,000 rows by 256 senders           ~2,650/s   (screening included)

    SETUP='import gmssl_pyx; pub, priv = gmssl_pyx.sm2_key_generate(); m = bytes(32);
           sig = gmssl_pyx.sm2_sign(priv, pub, m);
           from tongsuopy.crypto.asymciphers import ec; from tongsuopy.crypto.hashes import SM3'
    python -m timeit -s "$SETUP" "gmssl_pyx.sm2_verify(pub, m, sig)"
    python -m timeit -s "$SETUP" "ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(),
        b'\\x04' + pub).verify(sig, m, ec.ECDSA(SM3()))"

On an Intel Xeon with AVX-512 IFMA (16 cores, Python 3.12; ``benchmarks/cryptomb_selfcheck.py``)
``verify_shard`` ran 40,000-50,000 verifications/s on one core with crypto_mb (screening and
addresses included; the bare native calls 46,000-48,000/s) against 1,400-2,900/s with
tongsuopy, over three machines of that kind; 16 workers of ``verify_batch`` reached 340,000/s.

Without IFMA, the ``"ipp"`` backend (libippcp's AVX2 code, its default) verified 8,600-10,400/s
on one core of the Zen 4 EPYC development machine against tongsuopy's 2,300-3,300/s, and
14,200-21,300/s on its two cores (docs/performance.md, "Without AVX-512 IFMA").

So the last fallback is tongsuopy, with key objects reused within a shard (senders repeat). GmSSL
also prints an error trace to stderr for every signature that fails, which a workload with
tampered transactions would flood. Both libraries compute Z with the default ID themselves and
cross-check each other (``tests/test_sm2.py``); gmssl-pyx is only a test-time reference.

Malformed input never raises in :meth:`Sm2Suite.verify_shard`: r or s outside [1, n−1], a key
coordinate ≥ p or a key off the curve are screened out in NumPy and Python integers before any
lane reaches native code, so one bad row cannot poison a call of eight.
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np

from fiscosim.crypto import cryptomb
from fiscosim.crypto.single import check_hash, recover_one
from fiscosim.crypto.sm3 import sm3, sm3_rows

SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""Order of the SM2 group (GB/T 32918.5 recommended curve)."""
SM2_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
SM2_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

DEFAULT_ID = cryptomb.DEFAULT_USER_ID
SIGNATURE_SIZE = 128
BACKENDS = ("crypto_mb", "fallback", "ipp")
"""Backend names :func:`make_sm2_suite` accepts; its automatic order is crypto_mb, ipp, fallback.
A fourth, ``tables`` (:func:`fiscosim.crypto.sm2_tables.make_tables_suite`, or
``fiscosim bench verify --backend tables``), is had by name only: it pays only where senders
repeat."""
FALLBACK_WORDS = "tongsuopy (Tongsuo)"
CRYPTO_MB_WORDS = "crypto_mb mbx_sm2_ecdsa_verify_mb8 (AVX-512 IFMA)"
IPP_WORDS = "IPP Crypto ippsGFpECVerifySM2 (libippcp, no IFMA needed)"
_WORDS = {"crypto_mb": CRYPTO_MB_WORDS, "ipp": IPP_WORDS, "fallback": FALLBACK_WORDS}

# Z_A's fixed prefix (GB/T 32918.2 §5.5): ENTL, the ID's length in bits as 2 big-endian bytes,
# then the ID, a, b, xG and yG; the signer's xA‖yA follows.
_Z_PREFIX = (
    (8 * len(cryptomb.DEFAULT_USER_ID)).to_bytes(2, "big")
    + cryptomb.DEFAULT_USER_ID
    + b"".join(v.to_bytes(32, "big") for v in (SM2_A, SM2_B, SM2_GX, SM2_GY))
)


def _words(value: int) -> np.ndarray:
    """A 256-bit number as 4 big-endian 64-bit words, to compare with rows viewed as ``>u8``."""
    return np.array([(value >> (64 * i)) & (2**64 - 1) for i in (3, 2, 1, 0)], dtype=np.uint64)


_N_WORDS = _words(SM2_N)
_P_WORDS = _words(SM2_P)

# A signature made by the fallback (tongsuopy) with key d = SM3("fiscosim sm2 self-check key")
# over SM3("fiscosim sm2 self-check message"), and verified by gmssl-pyx when it was written;
# crypto_mb must accept it and reject its tampered copies before this process trusts it.
_SELF_CHECK_HASH = bytes.fromhex("a0a53ebcf51806589972559e62945a2ce24f91e8c120b72399f42eafaefc7232")
_SELF_CHECK_SIGNATURE = bytes.fromhex(
    "e2c46c5eef443503b1437f7e7d9a83f73d86da0a3814a7fec10f538cee0563cf"
    "388124b091b7c3c25d2ec0e204ea3aa8db976c0db97e95c3c4967933c5a07f3b"
    "4c67a70e4a183944f965bb25f5d6557882faf9f4e28507e4616688898071ac8f"
    "ec778e809dbd084e6da45db0ef153051147961c3e03a9ab6f57d428214a955ba"
)


def make_sm2_suite(backend: str | None = None) -> Sm2Suite:
    """The SM2 suite verifying with ``backend``: ``"crypto_mb"``, ``"ipp"``, ``"fallback"`` or
    None (auto).

    None picks crypto_mb where it runs and passes its self-check, else ipp where libippcp
    loads and passes its self-check, else the fallback. ``"crypto_mb"`` and ``"ipp"`` raise
    RuntimeError, saying why, where they cannot run.

    >>> make_sm2_suite("fallback").signature_size
    128
    """
    if backend is None:
        if crypto_mb_usable():
            return Sm2Suite("crypto_mb")
        return Sm2Suite("ipp" if ipp_usable() else "fallback")
    if backend == "crypto_mb":
        if not crypto_mb_usable():
            raise RuntimeError(
                f"the crypto_mb SM2 backend cannot run: {cryptomb.why_unavailable()}"
            )
        return Sm2Suite("crypto_mb")
    if backend == "ipp":
        if not ipp_usable():
            raise RuntimeError(f"the ipp SM2 backend cannot run: {_ipp().why_unavailable()}")
        return Sm2Suite("ipp")
    if backend == "fallback":
        return Sm2Suite("fallback")
    raise ValueError(f"suite sm2 has no backend {backend!r}; use one of {', '.join(BACKENDS)}")


def crypto_mb_usable() -> bool:
    """Whether crypto_mb runs here and agrees with the fallback on a known signature.

    The check runs once per process. On disagreement crypto_mb is disabled for the whole
    process (SM3 rows included) and :func:`cryptomb.why_unavailable` says what went wrong.
    """
    # available() again: disable() may have been called since the check passed.
    return _crypto_mb_self_check() and cryptomb.available()


@functools.cache
def _crypto_mb_self_check() -> bool:
    if not cryptomb.available():
        return False
    good = np.frombuffer(_SELF_CHECK_SIGNATURE, dtype=np.uint8)
    hashes = np.tile(np.frombuffer(_SELF_CHECK_HASH, dtype=np.uint8), (3, 1))
    signatures = np.tile(good, (3, 1))
    hashes[1, 0] ^= 1  # tampered message
    signatures[2, 63] ^= 1  # tampered s
    expected = [True, False, False]
    try:
        verdicts = cryptomb.sm2_verify_rows(hashes, signatures).tolist()
    except (RuntimeError, OSError, ValueError) as error:
        cryptomb.disable(f"self-check: crypto_mb's SM2 verification failed: {error}")
        return False
    if verdicts != expected:
        cryptomb.disable(
            f"self-check: crypto_mb's SM2 verdicts {verdicts} on a known-good signature and "
            f"two tampered copies disagree with the fallback's {expected}"
        )
        return False
    addresses = cryptomb.sm3_rows(signatures[:1, 64:])
    if addresses[0].tobytes() != sm3(_SELF_CHECK_SIGNATURE[64:]):
        cryptomb.disable("self-check: crypto_mb's SM3 of a public key disagrees with OpenSSL's")
        return False
    return True


def ipp_usable() -> bool:
    """Whether libippcp's GFpEC runs here and agrees with the fallback on a known signature.

    The check runs once per process; on disagreement the ipp backend is disabled for the
    process and ``sm2_ipp.why_unavailable()`` says what went wrong.
    """
    return _ipp_self_check() and _ipp().available()


def reset_ipp() -> None:
    """Loads libippcp again on next use and runs its self-check again (tests and benchmarks
    that change ``FISCOSIM_IPPCP_CPU`` within one process)."""
    _ipp().reset()
    _ipp_self_check.cache_clear()


def _ipp() -> ModuleType:
    """:mod:`fiscosim.crypto.sm2_ipp`, imported on first use (it loads a native library)."""
    from fiscosim.crypto import sm2_ipp

    return sm2_ipp


@functools.cache
def _ipp_self_check() -> bool:
    sm2_ipp = _ipp()
    if not sm2_ipp.available():
        return False
    good = np.frombuffer(_SELF_CHECK_SIGNATURE, dtype=np.uint8)
    hashes = np.tile(np.frombuffer(_SELF_CHECK_HASH, dtype=np.uint8), (4, 1))
    signatures = np.tile(good, (4, 1))
    hashes[1, 0] ^= 1  # tampered message
    signatures[2, 63] ^= 1  # tampered s
    same_key = np.zeros(4, dtype=np.intp)
    keys = signatures[:1, 64:]
    expected = [True, False, False, False]
    try:
        digests = message_digests(hashes, same_key, keys)
        # Row 3: r = e mod n, s = n − r, so t = 0: ipp-crypto 2025.0.0 accepts it for any key.
        r = int.from_bytes(digests[3].tobytes(), "big") % SM2_N
        forged = r.to_bytes(32, "big") + (SM2_N - r).to_bytes(32, "big")
        signatures[3, :64] = np.frombuffer(forged, dtype=np.uint8)
        verdicts = sm2_ipp.verify_digests(digests, signatures, same_key, keys).tolist()
    except (RuntimeError, OSError, ValueError) as error:
        sm2_ipp.disable(f"self-check: libippcp's SM2 verification failed: {error}")
        return False
    if verdicts != expected:
        sm2_ipp.disable(
            f"self-check: libippcp's SM2 verdicts {verdicts} on a known-good signature, two "
            f"tampered copies and a t = 0 forgery disagree with the fallback's {expected}"
        )
        return False
    return True


def z_digests(keys: np.ndarray) -> np.ndarray:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) of each k×64 uint8 public key, k×32.

    The default ID ``"1234567812345678"`` (GM/T 0009), as FISCO BCOS, Tongsuo, GmSSL and
    crypto_mb use it.
    """
    keys = np.ascontiguousarray(keys, dtype=np.uint8)
    data = keys.tobytes()
    digests = b"".join(sm3(_Z_PREFIX + data[64 * i : 64 * i + 64]) for i in range(len(keys)))
    return np.frombuffer(digests, dtype=np.uint8).reshape(len(keys), 32).copy()


def message_digests(hashes: np.ndarray, key_of_lane: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """e = SM3(Z_A ‖ M) of each row: ``hashes`` m×32 (M), the row's key ``keys[key_of_lane]``.

    Z_A is computed once per distinct key. Returns m×32 uint8, big-endian.
    """
    rows = np.empty((len(hashes), 64), dtype=np.uint8)
    rows[:, :32] = z_digests(keys)[key_of_lane]
    rows[:, 32:] = hashes
    return sm3_rows(rows)


class Sm2Suite:
    """SM2 + SM3 with 128-byte r‖s‖public-key signatures, FISCO's guomi suite.

    Holds only the backend's name, so it pickles to worker processes; native handles are
    resolved in each process on first use.
    """

    name = "sm2"
    signature_size = SIGNATURE_SIZE

    def __init__(self, backend_name: str = "fallback") -> None:
        if backend_name not in BACKENDS:
            raise ValueError(f"suite sm2 has no backend {backend_name!r}")
        self.backend_name = backend_name
        """``"crypto_mb"``, ``"ipp"`` or ``"fallback"``: what :func:`make_sm2_suite` chose."""

    @property
    def backend(self) -> str:
        """The verifying implementation, in words."""
        return _WORDS[self.backend_name]

    def __reduce__(self) -> tuple:
        return (Sm2Suite, (self.backend_name,))

    def __repr__(self) -> str:
        return f"Sm2Suite({self.backend_name!r})"

    def hash(self, data: bytes) -> bytes:
        """SM3 of ``data``."""
        return sm3(data)

    def generate_keypair(self, rng: np.random.Generator) -> tuple[bytes, bytes]:
        """Draws a private key from ``rng`` (rejection sampling into [1, n−2], as SM2 needs)."""
        while True:
            secret = rng.bytes(32)
            if 1 <= int.from_bytes(secret, "big") <= SM2_N - 2:
                break
        return secret, _signing_key(secret)[1]

    def sign(self, msg_hash: bytes, private_key: bytes) -> bytes:
        """SM2 signature r‖s‖public key of a 32-byte hash, with the default signer ID.

        The nonce is random (as in FISCO's ``SM2Crypto``), so two signatures of the same hash
        differ; both verify.
        """
        check_hash(msg_hash)
        key, public = _signing_key(bytes(private_key))
        r, s = _der_decode(key.sign(bytes(msg_hash), _fallback().algorithm))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big") + public

    def address_of(self, public_key: bytes) -> bytes:
        """``right160(SM3(pub64))``."""
        if len(public_key) != 64:
            raise ValueError(f"public key must be 64 bytes X‖Y, got {len(public_key)}")
        return sm3(public_key)[-20:]

    def recover_address(self, msg_hash: bytes, signature: bytes) -> bytes | None:
        """The embedded key's address if r‖s verifies against it, else None."""
        return recover_one(self, msg_hash, signature)

    def verify_shard(
        self,
        hashes: np.ndarray,
        signatures: np.ndarray,
        ok_out: np.ndarray,
        addr_out: np.ndarray,
    ) -> None:
        """Verifies each r‖s against its embedded key; see :class:`CryptoSuite`.

        Rows are screened first (ranges in NumPy, the curve equation once per distinct key),
        then the survivors go to the backend in one batch; addresses are hashed once per
        distinct key.
        """
        count = len(hashes)
        ok_out[:count] = False
        addr_out[:count] = 0
        if count == 0:
            return
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
        signatures = np.ascontiguousarray(signatures, dtype=np.uint8)
        lanes, key_of_lane, keys = _screen(signatures)
        if len(lanes) == 0:
            return
        verdicts = self.verify_lanes(hashes, signatures, lanes, key_of_lane, keys)
        good = lanes[verdicts]
        if len(good) == 0:
            return
        ok_out[good] = True
        used = np.unique(key_of_lane[verdicts])
        addresses = np.zeros((len(keys), 20), dtype=np.uint8)
        addresses[used] = sm3_rows(keys[used])[:, 12:]
        addr_out[good] = addresses[key_of_lane[verdicts]]

    def verify_lanes(self, hashes: np.ndarray, signatures: np.ndarray, lanes: np.ndarray,
                     key_of_lane: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """The backend's verdicts of rows :func:`_screen` passed (``lanes``, each with its key
        among ``keys``), in ``lanes``' order; a subclass's backend overrides it."""
        if self.backend_name == "crypto_mb":
            if not crypto_mb_usable():  # e.g. unpickled in a process where it cannot run
                raise RuntimeError(f"crypto_mb cannot run here: {cryptomb.why_unavailable()}")
            verdicts = cryptomb.sm2_verify_rows(hashes[lanes], signatures[lanes])
        elif self.backend_name == "ipp":
            if not ipp_usable():  # e.g. unpickled in a process where it cannot run
                raise RuntimeError(f"libippcp cannot run here: {_ipp().why_unavailable()}")
            verdicts = _ipp_verify(hashes, signatures, lanes, key_of_lane, keys)
        else:
            verdicts = _fallback_verify(hashes[lanes], signatures[lanes], key_of_lane, keys)
        return verdicts


def _ipp_verify(hashes: np.ndarray, signatures: np.ndarray, lanes: np.ndarray,
                key_of_lane: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """libippcp's verdicts of screened rows (``lanes``), in their order."""
    digests = message_digests(hashes[lanes], key_of_lane, keys)
    return _ipp().verify_digests(digests, signatures[lanes], key_of_lane, keys)


def _below(words: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Rows of 4 big-endian 64-bit words that are < ``limit``, compared lexicographically."""
    less = np.zeros(len(words), dtype=bool)
    equal = np.ones(len(words), dtype=bool)
    for column in range(4):
        less |= equal & (words[:, column] < limit[column])
        equal &= words[:, column] == limit[column]
    return less


def _screen(signatures: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows worth verifying: r, s in [1, n−1] and the key on the curve.

    Returns (row indices, index of each such row's key in ``keys``, ``keys`` as distinct
    k×64 uint8 public keys). Distinct keys are found by sorting the rows' 64 key bytes, so the
    Python-integer curve check runs once per sender, not once per signature.
    """
    words = signatures.view(">u8")  # k×16: r, s, x, y as 4 words each
    r, s, x, y = words[:, 0:4], words[:, 4:8], words[:, 8:12], words[:, 12:16]
    in_range = (
        r.any(axis=1)
        & _below(r, _N_WORDS)
        & s.any(axis=1)
        & _below(s, _N_WORDS)
        & _below(x, _P_WORDS)
        & _below(y, _P_WORDS)
    )
    lanes = np.flatnonzero(in_range)
    if len(lanes) == 0:
        return lanes, lanes, np.zeros((0, 64), dtype=np.uint8)
    publics = np.ascontiguousarray(signatures[lanes, 64:128])
    distinct, key_of_lane = np.unique(publics.view("V64").ravel(), return_inverse=True)
    keys = distinct.view(np.uint8).reshape(len(distinct), 64)
    on_curve = np.fromiter((_on_curve(key) for key in distinct.tolist()), bool, len(distinct))
    keep = on_curve[key_of_lane]
    # Renumber the keys that survive so that keys[key_of_lane] stays the lane's key.
    renumber = np.cumsum(on_curve) - 1
    return lanes[keep], renumber[key_of_lane[keep]], keys[on_curve]


def _on_curve(public_key: bytes) -> bool:
    """y² = x³ + ax + b (mod p) for a 64-byte X‖Y whose coordinates are already < p."""
    x = int.from_bytes(public_key[:32], "big")
    y = int.from_bytes(public_key[32:], "big")
    return (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P == 0


# --- the fallback: tongsuopy, imported on first use -------------------------------------------


class _Tongsuo:
    """tongsuopy's names, imported once per process (cffi and Tongsuo load on import)."""

    def __init__(self) -> None:
        from tongsuopy.crypto.asymciphers import ec
        from tongsuopy.crypto.exceptions import InvalidSignature
        from tongsuopy.crypto.hashes import SM3

        self.ec = ec
        self.curve = ec.SM2()
        # ECDSA(SM3) on an SM2 key is Tongsuo's SM2 signature: it computes Z_A with the
        # default ID and signs e = SM3(Z_A ‖ M), M being the data passed (our 32-byte hash).
        self.algorithm = ec.ECDSA(SM3())
        self.invalid_signature = InvalidSignature

    def public_key(self, public: bytes):
        return self.ec.EllipticCurvePublicKey.from_encoded_point(self.curve, b"\x04" + public)


@functools.cache
def _fallback() -> _Tongsuo:
    return _Tongsuo()


@functools.lru_cache(maxsize=4096)
def _signing_key(private_key: bytes) -> tuple[object, bytes]:
    """(tongsuopy private key, 64-byte public key); cached because senders sign repeatedly."""
    if len(private_key) != 32:
        raise ValueError(f"private key must be 32 bytes, got {len(private_key)}")
    secret = int.from_bytes(private_key, "big")
    if not 1 <= secret <= SM2_N - 2:
        raise ValueError("SM2 private key must lie in [1, n−2]")
    tongsuo = _fallback()
    key = tongsuo.ec.derive_private_key(secret, tongsuo.curve)
    numbers = key.public_key().public_numbers()
    return key, numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def _der_integer(value: bytes) -> bytes:
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return b"\x02" + bytes((len(value),)) + value


def _der_encode(r: bytes, s: bytes) -> bytes:
    """ASN.1 DER SEQUENCE { r INTEGER, s INTEGER } of two 32-byte big-endian numbers."""
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes((len(body),)) + body


def _der_decode(der: bytes) -> tuple[int, int]:
    """(r, s) of a DER signature as Tongsuo writes it (short-form lengths)."""
    r_length = der[3]
    r = int.from_bytes(der[4 : 4 + r_length], "big")
    s_at = 4 + r_length
    s = int.from_bytes(der[s_at + 2 : s_at + 2 + der[s_at + 1]], "big")
    return r, s


def _fallback_verify(
    hashes: np.ndarray, signatures: np.ndarray, key_of_lane: np.ndarray, keys: np.ndarray
) -> np.ndarray:
    """tongsuopy verdicts of screened rows, one native verification per row."""
    tongsuo = _fallback()
    algorithm = tongsuo.algorithm
    invalid = tongsuo.invalid_signature
    key_objects: dict[int, object] = {}
    verdicts = np.zeros(len(hashes), dtype=bool)
    hash_bytes = hashes.tobytes()
    signature_bytes = signatures.tobytes()
    for i, key_index in enumerate(key_of_lane.tolist()):
        row = signature_bytes[SIGNATURE_SIZE * i : SIGNATURE_SIZE * (i + 1)]
        try:
            key = key_objects.get(key_index)
            if key is None:
                key = key_objects[key_index] = tongsuo.public_key(keys[key_index].tobytes())
            key.verify(
                _der_encode(row[:32], row[32:64]), hash_bytes[32 * i : 32 * i + 32], algorithm
            )
        except invalid:
            continue
        except Exception:  # any other library error on odd input is a rejection, never a crash
            continue
        verdicts[i] = True
    return verdicts
