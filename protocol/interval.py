"""Market intervals: a delivery period named by its start instant in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MINUTES = 15


class Interval(BaseModel):
    """A delivery interval ``[start, start + minutes)``; ``id`` is its ledger name."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    minutes: int = Field(default=DEFAULT_MINUTES, ge=1, le=1440)

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("interval start must carry a time zone (UTC)")
        return value.astimezone(UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def hours(self) -> float:
        """Length in hours, to turn kW into kWh."""
        return self.minutes / 60.0

    @cached_property
    def id(self) -> str:
        """``YYYY-MM-DDTHH:MMZ``; cached, since the gate compares it for every bid."""
        return self.start.strftime("%Y-%m-%dT%H:%MZ")

    @classmethod
    def parse(cls, interval_id: str, minutes: int = DEFAULT_MINUTES) -> Interval:
        start = datetime.strptime(interval_id, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
        return cls(start=start, minutes=minutes)


def day_intervals(day: date, minutes: int = DEFAULT_MINUTES, days: int = 1) -> list[Interval]:
    """Every interval of ``days`` consecutive UTC days starting at ``day``."""
    if 1440 % minutes:
        raise ValueError(f"interval length {minutes} min does not divide a day")
    first = datetime.combine(day, time(0, 0), tzinfo=UTC)
    count = days * 1440 // minutes
    return [
        Interval(start=first + timedelta(minutes=i * minutes), minutes=minutes)
        for i in range(count)
    ]
