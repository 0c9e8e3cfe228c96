"""Where the neighbourhood is, and how an interval is sampled in time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from voisin.errors import InvalidInput
from voisin.protocol import Interval


@dataclass(frozen=True)
class Site:
    """Where the neighbourhood is: location, clock, calendar and climate.

    Loads follow the local clock of ``timezone``; public holidays are those of
    ``country`` (ISO 3166 code, ``subdivision`` for regional ones, from the ``holidays``
    package); the weather resamples the reference year of ``climate``
    (:mod:`voisin.meters.climate`). Lyon has no reference year that ships offline, so the
    default borrows Mannheim's (Upper Rhine valley, 450 km north-east): Lyon's sun with
    Mannheim's clouds, a little cloudier than Lyon really is.
    """

    name: str = "Lyon"
    latitude: float = 45.76
    longitude: float = 4.84
    altitude_m: float = 170.0
    timezone: str = "Europe/Paris"
    country: str = "FR"
    subdivision: str | None = None
    climate: str = "mannheim"


LYON = Site()


@dataclass(frozen=True)
class Orientation:
    """A PV plane: tilt from horizontal and azimuth clockwise from north, in degrees."""

    tilt_deg: float = 30.0
    azimuth_deg: float = 180.0

    def __post_init__(self) -> None:
        if not 0 <= self.tilt_deg <= 90 or not 0 <= self.azimuth_deg < 360:
            raise InvalidInput(
                f"PV orientation {self.tilt_deg}/{self.azimuth_deg} deg is "
                "outside tilt 0-90, azimuth 0-360",
                code="bad-pv",
            )


SOUTH_30 = Orientation()
"""The default plane: facing south, tilted 30 degrees."""


def sample_times(
    intervals: Sequence[Interval], sample_minutes: float
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Midpoints of equal sub-steps (about ``sample_minutes`` long) of each interval, in UTC.

    Returns the instants and, for each, the index of the interval it belongs to, so a
    per-sample quantity averages back to one value per interval with ``np.bincount``.
    """
    minutes = np.array([iv.minutes for iv in intervals], dtype=float)
    counts = np.maximum(1, np.rint(minutes / sample_minutes)).astype(int)
    owner = np.repeat(np.arange(len(intervals)), counts)
    first = np.cumsum(counts) - counts
    k = np.arange(owner.size) - first[owner]
    offset_s = (k + 0.5) * (minutes[owner] * 60.0 / counts[owner])
    starts = np.array([iv.start.timestamp() for iv in intervals])
    ns = np.rint((starts[owner] + offset_s) * 1e9).astype("int64")
    import pandas as pd  # only where time is sampled: the scenario types do without it

    return pd.DatetimeIndex(pd.to_datetime(ns, unit="ns", utc=True)), owner


def per_interval_mean(values: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
    """Average per-sample ``values`` back onto their ``count`` intervals."""
    totals = np.bincount(owner, weights=values, minlength=count)
    return totals / np.maximum(np.bincount(owner, minlength=count), 1)
