"""One clock for live and accelerated markets, and the timetable of an interval.

Market time is UTC; wall time is seconds on the ``time.time()`` scale, read once when the
clock starts and advanced by ``time.monotonic()`` from then on, so a step of the system
clock (NTP, a suspended laptop) is not multiplied by the speed into market time; the
wall times published to agents stay comparable with theirs. ``speed`` is market seconds
per wall second: 1 runs in real time, 900 runs a 15-minute interval per wall second.
Tests use ``FakeClock`` and move it by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from voisin.errors import InvalidInput
from voisin.protocol.interval import Interval


class Clock:
    """Market time running ``speed`` times faster than the wall from ``origin``."""

    def __init__(
        self, origin: datetime, speed: float = 1.0, wall_origin: float | None = None
    ) -> None:
        if not speed > 0:
            raise InvalidInput(f"clock speed must be positive, got {speed}", code="bad-speed")
        if origin.tzinfo is None:
            raise InvalidInput("clock origin must carry a time zone (UTC)", code="bad-time")
        self.origin = origin
        self.speed = speed
        self._epoch_at_start = time.time()
        self._monotonic_at_start = time.monotonic()
        self.wall_origin = self.wall() if wall_origin is None else wall_origin

    def wall(self) -> float:
        """Seconds on the epoch scale, measured with the monotonic clock."""
        return self._epoch_at_start + (time.monotonic() - self._monotonic_at_start)

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(self.wall() - self.wall_origin) * self.speed)

    def wall_at(self, instant: datetime) -> float:
        """The wall time (``time.time()`` scale) at which market time reaches ``instant``."""
        return self.wall_origin + (instant - self.origin).total_seconds() / self.speed


class FakeClock(Clock):
    """A clock whose wall time only moves when a test calls ``advance``."""

    def __init__(self, origin: datetime, speed: float = 1.0) -> None:
        self._wall = 1_000_000.0
        super().__init__(origin, speed, wall_origin=self._wall)

    def wall(self) -> float:
        return self._wall

    def advance(self, wall_seconds: float) -> None:
        self._wall += wall_seconds


class Phase(IntEnum):
    """What happens to an interval, in the order ties are broken at equal instants."""

    SETTLE = 0
    CLOSE_GATE = 1
    OPEN_GATE = 2
    DELIVERED = 3


@dataclass(frozen=True)
class Timetable:
    """When each phase of interval ``t`` happens, relative to its start (market time).

    The gate opens one interval ahead, closes ``gate_lead`` of an interval before the
    start, readings are asked for at the end and the interval settles ``grace`` of an
    interval after that, so four intervals are in flight at once, as in a real market.
    """

    gate_lead: float = 0.25
    grace: float = 0.5

    def at(self, interval: Interval, phase: Phase) -> datetime:
        length = interval.end - interval.start
        return {
            Phase.OPEN_GATE: interval.start - length,
            Phase.CLOSE_GATE: interval.start - length * self.gate_lead,
            Phase.DELIVERED: interval.end,
            Phase.SETTLE: interval.end + length * self.grace,
        }[phase]

    def plan(
        self,
        intervals: list[Interval],
        phases: Callable[[Interval], Iterable[Phase]] = lambda _: Phase,
    ) -> list[tuple[datetime, Phase, Interval]]:
        """Every phase of every interval (or those ``phases`` names for it: a restarted
        operator still owes some intervals their delivery and settlement only), in the
        order they must run."""
        steps = [(self.at(iv, ph), ph, iv) for iv in intervals for ph in phases(iv)]
        return sorted(steps, key=lambda s: (s[0], s[1], s[2].id))
