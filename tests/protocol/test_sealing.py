"""Sealing to an Ed25519 id: only its key opens the box, which shows its length and
nothing of its content."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import VerifyKey

from voisin.errors import InvalidInput
from voisin.protocol import KeyPair
from voisin.protocol.sealing import curve_public, open_sealed, seal_to

ALICE, BOB = KeyPair.derive("test", "alice"), KeyPair.derive("test", "bob")


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=2000))
def test_only_the_recipient_opens_it(data: bytes) -> None:
    sealed = seal_to(ALICE.public_hex, data)
    assert open_sealed(sealed, ALICE) == data
    assert len(data) < 16 or data not in base64.b64decode(sealed)
    with pytest.raises(InvalidInput) as wrong:
        open_sealed(sealed, BOB)
    assert wrong.value.code == "wrong-key"


def test_two_boxes_of_the_same_bytes_differ() -> None:
    assert seal_to(ALICE.public_hex, b"reading") != seal_to(ALICE.public_hex, b"reading")


def test_a_damaged_box_or_a_bad_recipient_is_refused() -> None:
    sealed = seal_to(ALICE.public_hex, b"reading")
    with pytest.raises(InvalidInput, match="another key, or damaged"):
        open_sealed(sealed[:-8] + "AAAAAAA=", ALICE)
    with pytest.raises(InvalidInput) as bad:
        seal_to("not-a-key", b"x")
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
        sealed = seal_to(keys[name].public_hex, data)
        assert open_sealed(sealed, keys[name]) == data
        for other in set(keys) - {name}:
            with pytest.raises(InvalidInput):
                open_sealed(sealed, keys[other])
    for _ in range(2):
        with pytest.raises(InvalidInput):
            seal_to("ab" * 31, b"x")
