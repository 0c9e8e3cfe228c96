"""RFC 8785 conformance: the RFC's own examples, then the `rfc8785` package as an oracle.

The number table is RFC 8785 Appendix B (IEEE 754 bit patterns and their JSON text), the
sorting example is section 3.2.3 and the whole-document example section 3.2.4. The
`rfc8785` package (an independent implementation, a test dependency only) must agree
with ``canonical_bytes`` on random JSON values.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.protocol.encoding import (
    MAX_SAFE_INTEGER,
    canonical_bytes,
    canonical_text,
    leaf_hash,
    loads_canonical,
    node_hash,
    number_text,
    with_last_member,
    without_last_member,
)

# RFC 8785 Appendix B: IEEE 754 double (hex) -> its JSON text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]
APPENDIX_B_REFUSED = ["7fffffffffffffff", "7ff0000000000000"]  # NaN, Infinity


def _double(bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(bits))[0]


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_appendix_b_numbers(bits: str, text: str) -> None:
    value = _double(bits)
    assert number_text(value) == text
    assert canonical_bytes([value]) == f"[{text}]".encode()
    assert rfc8785.dumps(value) == text.encode()  # the oracle agrees with our reading


@pytest.mark.parametrize("bits", APPENDIX_B_REFUSED)
def test_appendix_b_nan_and_infinity_are_refused(bits: str) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        canonical_bytes({"x": _double(bits)})


def test_section_3_2_3_members_sort_by_utf16_code_units() -> None:
    names = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    in_text_order = list(json.loads(canonical_bytes(names)).values())  # dicts keep order
    assert in_text_order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    assert sorted(names)[-1] == "\U0001f600"  # code-point order would differ here


SECTION_3_2_4_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
SECTION_3_2_4_OUTPUT_HEX = """
7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d"""


def test_section_3_2_4_whole_document() -> None:
    expected = bytes.fromhex(SECTION_3_2_4_OUTPUT_HEX)
    assert canonical_bytes(json.loads(SECTION_3_2_4_INPUT)) == expected
    assert expected.decode() == (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
        '1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2, "2"),
        (2.0, "2"),
        (-0.0, "0"),
        (0.5, "0.5"),
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (123456789.0, "123456789"),
        (MAX_SAFE_INTEGER, "9007199254740991"),
        (-MAX_SAFE_INTEGER, "-9007199254740991"),
    ],
)
def test_integers_and_floats_encode_as_a_javascript_client_writes_them(
    value: float, text: str
) -> None:
    assert number_text(value) == text


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 2, -MAX_SAFE_INTEGER - 2, 10**30, 10**400])
def test_integers_that_no_double_holds_are_refused(value: int) -> None:
    with pytest.raises(ValueError, match="not the canonical text of a double"):
        canonical_bytes({"seq": value})


def test_big_integers_written_as_their_double_are_kept() -> None:
    assert canonical_bytes([2**53, 49612917522885180]) == (b"[9007199254740992,49612917522885180]")
    with pytest.raises(ValueError, match="canonical text"):
        canonical_bytes(2**60)  # a double reader writes it back as 1152921504606847000


def test_strings_escape_as_json_stringify() -> None:
    assert canonical_text('\b\t\n\f\r\x00\x1f\x7f\u2028"\\/é') == (
        '"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\u2028\\"\\\\/é"'
    )


@pytest.mark.parametrize("value", ["\ud800", {"\udfff": 1}, ["a\ud83d"]])
def test_lone_surrogates_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        canonical_bytes(value)


@pytest.mark.parametrize("value", [{1: "a"}, {None: 1}, b"bytes", {1, 2}, object()])
def test_non_json_values_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_bytes(value)


def test_rfc6962_hashes() -> None:
    # RFC 6962 2.1: the empty leaf and a node over two empty-leaf hashes.
    empty = leaf_hash(b"")
    assert empty.hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert node_hash(empty, empty).hex() != leaf_hash(empty + empty).hex()


# -- the oracle ------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_floats = st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 2**64 - 1).map(
    lambda b: struct.unpack(">d", b.to_bytes(8))[0]
).filter(math.isfinite)
"""Hypothesis's floats and any finite bit pattern: number formatting is where the two
encoders are most likely to part."""
_scalars = (
    st.none() | st.booleans() | _text | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _floats
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_agrees_with_the_rfc8785_package(value: object) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_floats, min_size=1, max_size=8))
def test_numbers_agree_with_the_rfc8785_package(numbers: list[float]) -> None:
    """Many numbers cheaply, where the nested values above spend their draws on shape."""
    assert canonical_bytes(numbers) == rfc8785.dumps(numbers)


@settings(max_examples=500, deadline=None)
@given(_values)
def test_canonical_form_is_a_fixed_point(value: object) -> None:
    once = canonical_bytes(value)
    assert canonical_bytes(json.loads(once)) == once


_SCALARS = st.one_of(
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.booleans(),
    st.none(),
)


@given(
    names=st.lists(st.text(min_size=1), min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_canonical_objects_is_canonical_bytes_of_each_object(names, data) -> None:
    from voisin.protocol.encoding import canonical_objects

    rows = data.draw(st.lists(st.tuples(*[_SCALARS for _ in names]), max_size=5), label="rows")
    assert canonical_objects(tuple(names), rows) == [
        canonical_bytes(dict(zip(names, row, strict=True))) for row in rows
    ]


def test_canonical_columns_across_its_row_blocks_is_canonical_bytes_of_each_row() -> None:
    """Rows are encoded a block at a time: the rows on either side of each block's edge
    (and a last, short block) come out as ``canonical_bytes`` of each, in order."""
    from voisin.protocol.encoding import _COLUMN_ROWS, canonical_columns

    count = 2 * _COLUMN_ROWS + 3
    names = ("b", "a", "kind")
    columns = (
        [f"p{i}" for i in range(count)],
        [i / 7 + (1e21 if i % 5000 == 0 else 0.0) for i in range(count)],
        ["p2p" if i % 2 else "grid" for i in range(count)],
    )
    rows = list(zip(*columns, strict=True))
    encoded = canonical_columns(names, columns)
    assert len(encoded) == count
    for k in (0, _COLUMN_ROWS - 1, _COLUMN_ROWS, 2 * _COLUMN_ROWS, count - 1):
        assert encoded[k] == canonical_bytes(dict(zip(names, rows[k], strict=True)))
    assert encoded == [canonical_bytes(dict(zip(names, row, strict=True))) for row in rows]
    with pytest.raises(ValueError, match="one value per row"):
        canonical_columns(names, (columns[0], columns[1][:-1], columns[2]))


@given(st.dictionaries(_text, _values, max_size=5), _text)
def test_with_last_member_is_the_inverse_of_without_last_member(
    members: dict[str, Any], signature: str
) -> None:
    """Appending a member whose name sorts after every other gives the canonical bytes
    of the object with it, and cutting it off gives the object back."""
    members = {
        k: v for k, v in members.items() if k.encode("utf-16-be") < "signature".encode("utf-16-be")
    }
    data = canonical_bytes(members)
    appended = with_last_member(data, "signature", signature)
    assert appended == canonical_bytes({**members, "signature": signature})
    if members:  # the cut needs a member before the signature's comma
        assert without_last_member(appended, "signature", signature) == data


@given(_values)
def test_loads_canonical_takes_exactly_the_canonical_text(value: Any) -> None:
    """Its fast path (the C encoder) must never take a text RFC 8785 would not write:
    Python's own spelling of the same value is taken only where it is the canonical
    one (``repr`` floats, code-point key order)."""
    try:
        canonical = canonical_text(value)
    except ValueError:  # an integer beyond 2^53 that no double writes: no canonical form
        return
    assert canonical_text(loads_canonical(canonical)) == canonical
    python = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if python == canonical:
        assert canonical_text(loads_canonical(python)) == canonical
    else:
        with pytest.raises(ValueError, match="RFC 8785"):
            loads_canonical(python)
