"""The market clock measures elapsed time with the monotonic clock: a step of the system
clock does not move market time (at speed 900 a one-minute NTP step would otherwise skip
fifteen hours of market)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from voisin.protocol import Clock

ORIGIN = datetime(2026, 6, 22, 10, 0, tzinfo=UTC)


def test_a_system_clock_step_does_not_move_market_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(ORIGIN, speed=900.0)
    before = clock.now()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600.0)  # the wall jumps an hour
    after = clock.now()
    assert timedelta(0) <= after - before < timedelta(minutes=15)  # well under 1 s of wall


def test_market_time_runs_at_speed_and_wall_at_inverts_now() -> None:
    clock = Clock(ORIGIN, speed=900.0)
    start = time.monotonic()
    time.sleep(0.02)
    elapsed = time.monotonic() - start
    ran = (clock.now() - ORIGIN).total_seconds()
    assert ran >= elapsed * 900.0 * 0.99
    instant = ORIGIN + timedelta(minutes=15)
    assert clock.wall_at(instant) == pytest.approx(clock.wall_origin + 1.0)
    assert abs(clock.wall() - time.time()) < 1.0  # published wall times stay on the epoch scale
