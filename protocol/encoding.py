"""Canonical bytes: the one encoding that is hashed and signed, and the hashes over it.

The encoding is the JSON Canonicalization Scheme, RFC 8785 (JCS), which any language
reproduces from the RFC alone:

* no white space; object members sorted by their names as UTF-16 code units (RFC 8785
  section 3.2.3), so ``"\\ue000"`` sorts *after* ``"\\U0001f600"``;
* strings as ECMAScript ``JSON.stringify`` writes them: UTF-8, only ``"``, ``\\`` and
  the controls below U+0020 escaped (``\\b \\t \\n \\f \\r`` short, the rest ``\\u00xx``
  in lower case); a lone surrogate is refused;
* numbers as IEEE 754 doubles written by ECMAScript ``Number.prototype.toString``
  (ECMA-262, Number::toString): the shortest digits that round-trip, positional for
  1e-7 <= |x| < 1e21 and ``d.ddde+n`` otherwise, with no ``.0`` on whole numbers and
  ``-0`` written ``0``. So ``2``, ``2.0`` and ``2e0`` are the same number and encode
  as ``2`` whoever wrote them;
* NaN and infinities are refused, and so is an integer beyond +-(2^53 - 1) (RFC 7493,
  I-JSON, section 2.2) unless its decimal text is already the canonical text of the
  double it denotes (``2**53`` is; ``2**53 + 1`` and ``2**60`` are not): any other
  would be read back as a different number. Protocol fields stay within +-(2^53 - 1)
  (``MAX_SAFE_INTEGER``).

Input is what ``json.loads`` returns (dict with ``str`` keys, list, str, int, float,
bool, None), tuples as lists, or a pydantic model (its JSON-mode dump). Anything else
raises ``TypeError``; an unencodable value ``ValueError``.

RFC 6962 section 2.1 hashes live here too, so every Merkle leaf and node in voisin is
made by exactly these two functions: a leaf is SHA-256(0x00 || data), a node
SHA-256(0x01 || left || right).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring
from typing import Any

from pydantic import BaseModel

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON reader holds exactly (ECMAScript Number.MAX_SAFE_INTEGER)."""

_quote = encode_basestring  # the C escaper: exactly the JSON.stringify rules above


def number_text(value: int | float) -> str:
    """The RFC 8785 form of a number: ECMAScript Number::toString of the double."""
    if value.__class__ is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return int.__repr__(value)
        try:
            text = number_text(float(value))
        except OverflowError:
            text = ""
        if text == int.__repr__(value):  # already the text a double reader writes back
            return text
        raise ValueError(
            f"integer {value} is beyond +-(2^53 - 1) and not the canonical text of a double"
        )
    if value != value or value in (_INF, -_INF):
        raise ValueError(f"{value} is not a JSON number")
    if value == 0:
        return "0"
    text = float.__repr__(float(value))
    if "e" not in text:  # Python writes 1e-4 <= |x| < 1e16 positionally, as ECMAScript does
        return text[:-2] if text.endswith(".0") else text
    return _exponent_form(text)


_INF = float("inf")


def _exponent_form(text: str) -> str:
    """Rewrite Python's exponent ``repr`` (same shortest digits) the ECMAScript way."""
    sign = "-" if text[0] == "-" else ""
    mantissa, exponent = text.lstrip("-").split("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exponent) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    k, n = len(digits), point  # value = 0.digits * 10^n, as ECMA-262 names them
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{head}e{'+' if e >= 0 else '-'}{abs(e)}"


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


_LAYOUTS: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
"""Member order and quoted names per key set: bodies of one kind share one layout."""
_LAYOUTS_MAX, _LAYOUT_KEYS_MAX = 4096, 64


def _layout(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(name, '"name":')`` pairs in RFC 8785 order (UTF-16 code units)."""
    layout = _LAYOUTS.get(keys)
    if layout is None:
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("object member names must be strings")
        layout = tuple((k, _quote(k) + ":") for k in sorted(keys, key=_utf16))
        if len(_LAYOUTS) < _LAYOUTS_MAX and len(keys) <= _LAYOUT_KEYS_MAX:
            _LAYOUTS[keys] = layout
    return layout


def _members(value: dict[str, Any]) -> str:
    parts = []
    for key, head in _layout(tuple(value)):
        item = value[key]
        kind = item.__class__
        if kind is str:
            parts.append(head + _quote(item))
        elif kind is float:
            text = float.__repr__(item)  # the common case inline; number_text is the rule
            if text[-2:] == ".0" or "e" in text or text[-1] in "fn":
                text = number_text(item)
            parts.append(head + text)
        elif kind is int:
            parts.append(head + number_text(item))
        else:
            parts.append(head + _encode(item))
    return "{" + ",".join(parts) + "}"


def _column(head: str, values: Sequence[Any]) -> list[str]:
    """``head`` + the canonical text of each value: one column of ``canonical_columns``."""
    if all(v.__class__ is str for v in values):
        return [head + text for text in map(_quote, values)]
    if all(v.__class__ is float for v in values):
        out = []
        for value in values:
            text = float.__repr__(value)  # the common case inline; number_text is the rule
            if text[-2:] == ".0" or "e" in text or text[-1] in "fn":
                text = number_text(value)
            out.append(head + text)
        return out
    return [head + _encode(value) for value in values]


def canonical_objects(names: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> list[bytes]:
    """``canonical_bytes(dict(zip(names, row)))`` of each row: many objects of one
    shape (a block's transfers), encoded column by column (``canonical_columns``)."""
    table = list(rows)
    if not table:
        _layout(names)  # names that are not strings are refused, rows or none
        return []
    if any(len(row) != len(names) for row in table):
        raise ValueError("every row needs one value per name")
    return canonical_columns(names, list(zip(*table, strict=True)))


def canonical_columns(names: tuple[str, ...], columns: Sequence[Sequence[Any]]) -> list[bytes]:
    """``canonical_objects`` of the rows these columns hold (``columns[i]`` the values of
    ``names[i]``): a block's trades straight from their table, with the member order
    worked out once."""
    if len(columns) != len(names):
        raise ValueError("one column per name")
    layout = _layout(names)
    if not columns or not len(columns[0]):
        return []
    if any(len(column) != len(columns[0]) for column in columns):
        raise ValueError("every column needs one value per row")
    at = {name: i for i, name in enumerate(names)}
    heads = [
        (("," if k else "{") + head, columns[at[name]]) for k, (name, head) in enumerate(layout)
    ]
    out: list[bytes] = []
    for start in range(0, len(columns[0]), _COLUMN_ROWS):
        stop = start + _COLUMN_ROWS
        texts = [_column(head, values[start:stop]) for head, values in heads]
        out += [_utf8("".join(parts) + "}") for parts in zip(*texts, strict=True)]
    return out


_COLUMN_ROWS = 8192
"""Rows ``canonical_columns`` encodes at a time: the texts of a block's half a million
trades, member by member, would otherwise all be alive at once (docs/performance.md)."""


def _encode(value: Any) -> str:
    kind = value.__class__
    if kind is dict:
        return _members(value)
    if kind is str:
        return _quote(value)
    if kind is float or kind is int:
        return number_text(value)
    if kind is list or kind is tuple:
        return "[" + ",".join([_encode(item) for item in value]) + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, BaseModel):
        return _encode(value.model_dump(mode="json"))
    if isinstance(value, str | int | float | dict | list | tuple) and not isinstance(value, bool):
        # subclasses (str enums, numpy floats): their plain JSON value
        base: type[Any] = next(
            t for t in (str, int, float, dict, list, tuple) if isinstance(value, t)
        )
        return _encode(base(value))
    raise TypeError(f"{kind.__name__} is not a JSON value")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate, which is not Unicode") from None


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``: what is hashed and signed."""
    return _utf8(_encode(value))


def canonical_text(value: Any) -> str:
    """``canonical_bytes`` as text (what the ledger stores in its TEXT columns)."""
    text = _encode(value)
    _utf8(text)
    return text


class _NotPlain(Exception):
    """A number written other than RFC 8785 writes it (``plain_json``)."""


def _plain_float(text: str) -> float:
    value = float(text)
    if float.__repr__(value) == text and "e" not in text and text[-2:] != ".0":
        return value  # the common case inline: number_text would give ``repr``
    try:
        if number_text(value) == text:
            return value
    except ValueError:
        pass
    raise _NotPlain


def _plain_int(text: str) -> int:
    value = int(text)
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    raise _NotPlain


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_PLAIN_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_float=_plain_float, parse_int=_plain_int
)
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False
)


def plain_json(text: str) -> tuple[Any, bool]:
    """``json.loads(text)`` (NaN and infinities refused: ``ValueError``), and whether
    ``plain_text`` may stand in for ``canonical_text`` on what it returns.

    RFC 8785 and Python's C encoder (sorted keys, no white space, the same string
    escaper) write an ASCII value alike except for numbers: a whole or an exponent
    float (Python's ``repr``) and an integer beyond 2^53. Each number's text is checked
    as it is read; when every one is written canonically and the text is ASCII, a text
    equal to ``plain_text`` of its value is canonical (each float's ``repr`` is then its
    canonical text). ``plain_text`` differing proves nothing: ask ``canonical_text``.
    """
    if text.isascii():
        try:
            return _PLAIN_DECODER.decode(text), True
        except _NotPlain:
            pass
    return _DECODER.decode(text), False


def plain_text(value: Any) -> str:
    """The C encoder's compact, key-sorted text of ``value`` (see ``plain_json``)."""
    return _PLAIN_ENCODER.encode(value)


def loads_canonical(text: str) -> Any:
    """The JSON value ``text`` holds, if ``text`` is its RFC 8785 form; ``ValueError``
    (or ``RecursionError``) otherwise. Checking stored bodies is what verification does
    most: most take the C encoder's path (``plain_json``), the rest the exact one."""
    value, plain = plain_json(text)
    if not (plain and plain_text(value) == text) and canonical_text(value) != text:
        raise ValueError("not the RFC 8785 form of its value")
    return value


def without_last_member(data: bytes, name: str, value: str) -> bytes:
    """The canonical bytes of an object without its last member ``name`` (a string value).

    A signature field whose name sorts after every other member (a bid's or a meter
    reading's ``signature``) is the last member of the object's RFC 8785 bytes, so the
    bytes the signature covers are the received bytes with that member cut off: exactly
    ``canonical_bytes`` of the object without it, found without encoding anything.
    Raises ``ValueError`` if ``data`` does not end with that member.
    """
    tail = f",{_quote(name)}:{_quote(value)}}}".encode()
    if len(data) <= len(tail) or not data.endswith(tail):
        raise ValueError(f"the object does not end with its {name!r} member")
    return data[: -len(tail)] + b"}"


def with_last_member(data: bytes, name: str, value: str) -> bytes:
    """``data``, the canonical bytes of an object, with member ``name`` (a string value)
    added last: the inverse of ``without_last_member``, for a ``name`` that sorts after
    every member ``data`` holds (a signature). What a signer hands on is then the bytes
    it signed and its signature, never a second encoding of the object."""
    if not data.startswith(b"{") or not data.endswith(b"}"):
        raise ValueError("not the bytes of an object")
    member = f"{_quote(name)}:{_quote(value)}}}".encode()
    return data[:-1] + (b"," if len(data) > 2 else b"") + member


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical bytes of ``value``."""
    return sha256_hex(canonical_bytes(value))


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF + data).digest()


def framed_leaf_hashes(head: bytes, items: Iterable[bytes], tail: bytes) -> list[bytes]:
    """``leaf_hash(head + item + tail)`` of each item, in one loop: a block's leaves of
    one kind, without three calls per leaf (docs/performance.md, round 6)."""
    sha, start = hashlib.sha256, _LEAF + head
    return [sha(start + item + tail).digest() for item in items]


_LEAF = b"\x00"


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()
