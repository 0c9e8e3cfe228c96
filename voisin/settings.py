"""The defaults every command shares, in one place.

Flags, settings models and scenario files take their defaults from here, so the seed,
size, first day, interval length and port of the demo neighbourhood are written once.
"""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field, field_validator, model_validator

from voisin.protocol.validation import NumbersOnly

FIRST_DAY = date(1900, 1, 1)
END_DAY = date(2201, 1, 1)
"""Runs lie in [FIRST_DAY, END_DAY): the meters' sun and weather models work on pandas
timestamps (years 1677-2262; year 1 gave NaN sun positions) and an interval's end must
still be a date (9999-12-31 plus a day overflowed)."""
MAX_DAYS = 366
"""The longest run, a leap year: a city or scenario's intervals are made up front."""


def check_run_days(start: date, days: int) -> None:
    """Refuse (``ValueError``, one line) a run of ``days`` from ``start`` that leaves
    the supported dates or lasts more than ``MAX_DAYS``: the one rule for
    ``simulate --start/--days``, scenario files and city files."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a run lasts 1 to {MAX_DAYS} days, not {days}")
    if start < FIRST_DAY or start.toordinal() + days > END_DAY.toordinal():
        raise ValueError(
            f"a run from {start} for {days} days leaves the supported dates "
            f"{FIRST_DAY} to {END_DAY.replace(year=END_DAY.year - 1, month=12, day=31)}"
        )


class RunDefaults(NumbersOnly):
    """The demo run: which neighbourhood (seed, size) and when (first day, interval)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=7, ge=0)
    households: int = Field(default=30, ge=1, le=5000)
    start: date = date(2026, 6, 22)
    """A summer Monday: the school is open."""
    days: int = Field(default=1, ge=1, le=MAX_DAYS)
    minutes: int = Field(default=15, ge=5, le=60)
    gift_share: float = Field(default=0.3, ge=0, le=1)
    """Share of the sunniest household's surplus it gives the school by contract."""
    rotate_pseudonyms: bool = False
    """Trade and meter under one-time keys per member and day (docs/privacy.md). Off by
    default: a member's registry key is its identity in the live market, which does
    not rotate yet, and off keeps simulated and live ledgers alike."""

    @field_validator("minutes")
    @classmethod
    def _divides_day(cls, minutes: int) -> int:
        if 1440 % minutes:
            raise ValueError(f"{minutes} min does not divide a day into whole intervals")
        return minutes

    @model_validator(mode="after")
    def _supported_dates(self) -> RunDefaults:
        check_run_days(self.start, self.days)
        return self


DEFAULTS = RunDefaults()
LIVE_START_HOUR = 10
"""The live demo starts mid-morning of the default day (UTC), when PV is up."""
PORT = 5555
"""The operator's request port on 127.0.0.1; events are published on the next one."""
ROUTER = f"tcp://127.0.0.1:{PORT}"
LIVE_START = f"{DEFAULTS.start.isoformat()}T{LIVE_START_HOUR:02d}:00"
