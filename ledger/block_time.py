"""What a block header's ``time`` may say: one rule for the writer and the verifier.

A header's ``time`` is UTC ISO-8601 exactly as ``datetime.isoformat`` writes a UTC
instant (``2026-06-21T12:15:00+00:00``, microseconds only when not 0), so one instant
has one spelling. Genesis opens the chain's clock and no block is stamped before it. A
block that seals interval t (its header names t) is stamped with t's end, the interval
length being the ``minutes`` of the market terms in force (15 before any terms); any
other block (registrations, contracts, transfers) is stamped by the operator's clock,
never earlier than the newest stamp before it. The live market clears t+1 before it
settles t, so an interval block may be stamped before the block preceding it, but never
anywhere its interval id does not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from voisin.protocol.interval import DEFAULT_MINUTES, Interval

_SHOWN = 40
"""How much of a bad stamp a finding quotes."""


class BadTime(ValueError):
    """A block's ``time`` breaks the rule above; ``why`` is the finding."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def parse_time(text: object) -> datetime:
    """The instant a header's ``time`` names, or ``BadTime``."""
    if not isinstance(text, str):
        raise BadTime("time is not a string")
    shown = repr(text[:_SHOWN])
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise BadTime(f"time {shown} is not an ISO-8601 timestamp") from None
    if instant.utcoffset() != timedelta(0) or instant.isoformat() != text:
        raise BadTime(f"time {shown} is not UTC ISO-8601 as YYYY-MM-DDTHH:MM:SS+00:00")
    return instant


@dataclass
class BlockClock:
    """The stamps seen so far; ``check`` one block's, then ``advance`` once it is kept."""

    genesis: datetime | None = None
    newest: datetime | None = None
    minutes: int = DEFAULT_MINUTES
    """Interval length of the market terms in force."""

    def terms(self, body: dict[str, Any]) -> None:
        """Take the interval length of market terms (checked as terms elsewhere)."""
        minutes = body.get("minutes")
        if type(minutes) is int and 1 <= minutes <= 1440:
            self.minutes = minutes

    def check(self, time: object, interval: object) -> datetime:
        """The instant of a block stamped ``time`` that seals ``interval`` (or None)."""
        instant = parse_time(time)
        if self.genesis is not None and instant < self.genesis:
            raise BadTime(f"time {time} is before the genesis time {self.genesis.isoformat()}")
        if interval is None:
            if self.newest is not None and instant < self.newest:
                raise BadTime(
                    f"time {time} goes back before the previous stamp {self.newest.isoformat()}"
                )
            return instant
        try:
            sealed = Interval.parse(str(interval), self.minutes)
            if sealed.id != interval:
                raise ValueError
        except ValueError:
            raise BadTime(f"interval {str(interval)[:_SHOWN]!r} is not an interval id") from None
        end = sealed.end
        if instant != end:
            raise BadTime(f"time {time} is not the end of interval {interval} ({end.isoformat()})")
        return instant

    def advance(self, instant: datetime) -> None:
        """Record a kept block's stamp."""
        if self.genesis is None:
            self.genesis = instant
        self.newest = instant if self.newest is None else max(self.newest, instant)
