"""Curve keys derived from Ed25519 identities, key files, the allow-list, and the clock."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import Box, PrivateKey, PublicKey
from zmq.utils import z85

from voisin.errors import InvalidInput
from voisin.protocol import Interval, KeyPair
from voisin.protocol.clock import Clock, FakeClock, Phase, Timetable
from voisin.transport.curve import (
    AllowList,
    curve_keypair,
    curve_public,
    read_key_file,
    write_key_file,
)

NOON = datetime(2026, 6, 22, 12, 0, tzinfo=UTC)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_one_identity_serves_both_layers(seed: bytes) -> None:
    key = KeyPair.from_seed_hex(seed.hex())
    public, secret = curve_keypair(key)
    assert curve_public(key.public_hex) == public
    assert len(public) == len(secret) == 40
    # The derived pair is a working Curve25519 pair: a box made with it opens.
    other = PrivateKey.generate()
    box = Box(PrivateKey(z85.decode(secret)), other.public_key)
    sealed = box.encrypt(b"kWh")
    assert Box(other, PublicKey(z85.decode(public))).decrypt(sealed) == b"kWh"


def test_a_non_key_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        curve_public("zz")
    assert info.value.code == "bad-key"


def test_key_file_round_trip_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "me.key"
    key = KeyPair.generate()
    write_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).public_hex == key.public_hex
    with pytest.raises(InvalidInput) as info:
        write_key_file(path, KeyPair.generate())
    assert info.value.code == "key-exists"
    (tmp_path / "junk.key").write_text("{}")
    with pytest.raises(InvalidInput):
        read_key_file(tmp_path / "junk.key")


def test_allow_list_denies_by_default_and_counts() -> None:
    allow = AllowList()
    member, stranger = KeyPair.derive("a"), KeyPair.derive("b")
    assert not allow.callback("*", curve_public(member.public_hex))
    allow.allow(member.public_hex)
    assert allow.callback("*", curve_public(member.public_hex))
    assert not allow.callback("*", curve_public(stranger.public_hex))
    assert allow.owner(curve_public(member.public_hex).decode()) == member.public_hex
    allow.revoke(member.public_hex)
    assert not allow.callback("*", curve_public(member.public_hex))
    assert (allow.admitted, allow.refused) == (1, 3)


def test_accelerated_clock_runs_an_interval_per_second() -> None:
    clock = FakeClock(NOON, speed=900)
    clock.advance(1.0)
    assert clock.now() == NOON + timedelta(minutes=15)
    assert clock.wall_at(NOON + timedelta(minutes=30)) == pytest.approx(clock.wall() + 1.0)
    with pytest.raises(InvalidInput):
        Clock(NOON, speed=0)
    with pytest.raises(InvalidInput):
        Clock(datetime(2026, 1, 1), speed=1)  # noqa: DTZ001 - the point of the test


def test_timetable_orders_phases_and_overlaps_intervals() -> None:
    intervals = [Interval(start=NOON + timedelta(minutes=15 * i)) for i in range(3)]
    steps = Timetable().plan(intervals)
    assert [s[0] for s in steps] == sorted(s[0] for s in steps)
    for iv in intervals:
        mine = [s for s in steps if s[2] == iv]
        assert [s[1] for s in mine] == [
            Phase.OPEN_GATE,
            Phase.CLOSE_GATE,
            Phase.DELIVERED,
            Phase.SETTLE,
        ]
        assert mine[1][0] == iv.start - timedelta(minutes=15) * 0.25
    # The next gate opens exactly as this interval starts, before earlier ones settle.
    first, second = intervals[:2]
    table = Timetable()
    assert table.at(second, Phase.OPEN_GATE) == first.start
    assert table.at(second, Phase.CLOSE_GATE) < table.at(first, Phase.SETTLE)
