"""The canonical byte encoding of ledger objects: msgpack arrays of fields in a fixed order.

Hashes (transaction, header, receipt) and sizes on the wire are computed over these bytes, so the
encoding must be *canonical*: one value, one byte string. msgpack gives that when we keep to a
small subset, which :func:`encode_fields` enforces:

- an object is an **array** of its fields in the order the specification lists them (never a
  map, whose key order would be a second way to write the same value);
- fields are ``int`` (msgpack always picks the shortest integer form), ``bytes`` (bin), ``str``
  (UTF-8 str), ``bool``, ``None``, or arrays of these; **no floats**, whose several widths would
  again give two encodings of one number.

FISCO BCOS itself encodes with Tars and hashes a concatenation of the fields
(docs/fisco-reference.md §2.1, §2.6); we hash the msgpack array instead, so our hashes cover the
same fields in the same order but are not byte-compatible with a real chain's.

>>> encode_fields([1, b"\\x00", "a", [2, 3]]).hex()
'9401c40100a161920203'
>>> decode_fields(encode_fields([1, b"x"]), 2, "example")
[1, b'x']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack

_ALLOWED = (int, bytes, str, type(None))  # bool is an int subclass and is allowed too


def _check(value: Any, where: str) -> None:
    if isinstance(value, _ALLOWED):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check(item, where)
        return
    raise TypeError(
        f"{where}: {type(value).__name__} is not part of the canonical encoding "
        "(use int, bytes, str, bool, None and lists of them)"
    )


def encode_fields(fields: Sequence[Any]) -> bytes:
    """The canonical encoding of an object given as the sequence of its field values."""
    _check(fields, "encode_fields")
    return msgpack.packb(list(fields), use_bin_type=True)


def decode_fields(data: bytes, count: int, what: str) -> list[Any]:
    """Decodes ``data`` as an array of exactly ``count`` fields (a ``what``), or ValueError.

    Nested arrays come back as lists; bin as ``bytes``; str as ``str``. Trailing bytes, maps,
    floats and non-shortest forms are errors, so a decoded object re-encodes to the bytes it came
    from.
    """
    try:
        fields = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, msgpack.UnpackException) as error:  # truncated, trailing bytes, bad type
        raise ValueError(f"not a {what} encoding: {error}") from error
    if not isinstance(fields, list) or len(fields) != count:
        raise ValueError(f"a {what} encodes as an array of {count} fields, got {fields!r:.80}")
    try:
        canonical = encode_fields(fields)
    except TypeError as error:  # a map or a float inside
        raise ValueError(f"not a canonical {what} encoding: {error}") from error
    # Rejecting non-shortest forms keeps "one value, one byte string" true for received bytes too.
    if canonical != bytes(data):
        raise ValueError(f"not a canonical {what} encoding (a field is not in its shortest form)")
    return fields


def check_field_types(fields: Sequence[Any], types: Sequence[type], what: str) -> None:
    """ValueError unless each decoded field has its expected type (``bool`` is not an ``int``).

    Decoders call this before building an object, so bytes from a faulty or byzantine peer
    fail with a clear message instead of producing an object with fields of the wrong kind.

    >>> check_field_types([1, b"x"], [int, bytes], "example")
    >>> check_field_types([True], [int], "example")
    Traceback (most recent call last):
    ...
    ValueError: example field 0 must be int, got bool
    """
    for position, (value, expected) in enumerate(zip(fields, types, strict=True)):
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(
                f"{what} field {position} must be {expected.__name__}, got {type(value).__name__}"
            )
