"""Sealing to an Ed25519 id: only its key opens the box, which is as long as its padded
size and shows nothing of its content, not even its length."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import SealedBox
from nacl.signing import VerifyKey

from voisin.errors import InvalidInput
from voisin.protocol import KeyPair
from voisin.protocol.sealing import curve_public, open_sealed, seal_to

ALICE, BOB = KeyPair.derive("test", "alice"), KeyPair.derive("test", "bob")
SIZE = 2048


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=2000))
def test_only_the_recipient_opens_it(data: bytes) -> None:
    sealed = seal_to(ALICE.public_hex, data, padded_to=SIZE)
    assert open_sealed(sealed, ALICE) == data
    assert len(data) < 16 or data not in base64.b64decode(sealed)
    with pytest.raises(InvalidInput) as wrong:
        open_sealed(sealed, BOB)
    assert wrong.value.code == "wrong-key"


def test_two_boxes_of_the_same_bytes_differ() -> None:
    one, two = (seal_to(ALICE.public_hex, b"reading", padded_to=64) for _ in range(2))
    assert one != two


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 1024).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.binary(max_size=n - 1)))
    )
)
def test_every_box_of_one_size_is_one_length_and_opens_to_itself(
    case: tuple[int, list[bytes]],
) -> None:
    """Records of any length below the size seal to boxes of one length (the size and
    48 bytes), and each opens to its own bytes: the padding (ISO/IEC 7816-4) is stripped
    whatever the record ends in, 0x80 and 0x00 bytes included."""
    size, many = case
    many += [b"", b"\x80" * (size - 1), b"x\x80\x00"[: size - 1]]
    boxes = [seal_to(ALICE.public_hex, data, padded_to=size) for data in many]
    assert {len(base64.b64decode(box)) for box in boxes} == {size + 48}
    assert [open_sealed(box, ALICE) for box in boxes] == many


def test_a_record_that_does_not_fit_its_size_is_refused() -> None:
    """Sealed to a length of its own it would stand out: refused, one line."""
    assert open_sealed(seal_to(ALICE.public_hex, b"x" * 63, padded_to=64), ALICE) == b"x" * 63
    with pytest.raises(InvalidInput) as refused:
        seal_to(ALICE.public_hex, b"x" * 64, padded_to=64, what="reading")
    assert refused.value.code == "record-too-large"
    assert str(refused.value.message).startswith("the reading is 64 bytes, more than the 63")


def test_a_box_without_its_padding_is_damaged_unless_sealed_before_padding() -> None:
    bare = SealedBox(curve_public(ALICE.public_hex)).encrypt(b'{"a":1}')
    sealed = base64.b64encode(bare).decode("ascii")
    assert open_sealed(sealed, ALICE, padded=False) == b'{"a":1}'
    with pytest.raises(InvalidInput) as damaged:
        open_sealed(sealed, ALICE, "link")
    assert damaged.value.code == "bad-padding"
    assert "link opens but its padding is damaged" in str(damaged.value)


def test_a_damaged_box_or_a_bad_recipient_is_refused() -> None:
    sealed = seal_to(ALICE.public_hex, b"reading", padded_to=64)
    with pytest.raises(InvalidInput, match="another key, or damaged"):
        open_sealed(sealed[:-8] + "AAAAAAA=", ALICE)
    with pytest.raises(InvalidInput) as bad:
        seal_to("not-a-key", b"x", padded_to=64)
    assert bad.value.code == "bad-key"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from(["alice", "bob", "carol"]), min_size=1, max_size=12))
def test_the_cached_key_is_each_recipients_own(names: list[str]) -> None:
    """Sealing to members in any order, with their keys cached, opens for each member
    only; a refused id is refused again, not cached."""
    keys = {name: KeyPair.derive("test", name) for name in names}
    for n, name in enumerate(names):
        data = f"{name}/{n}".encode()
        assert (
            curve_public(keys[name].public_hex)
            == VerifyKey(bytes.fromhex(keys[name].public_hex)).to_curve25519_public_key()
        )
        sealed = seal_to(keys[name].public_hex, data, padded_to=64)
        assert open_sealed(sealed, keys[name]) == data
        for other in set(keys) - {name}:
            with pytest.raises(InvalidInput):
                open_sealed(sealed, keys[other])
    for _ in range(2):
        with pytest.raises(InvalidInput):
            seal_to("ab" * 31, b"x", padded_to=64)
