"""A real household's own meter data, read onto a run's intervals.

Two formats:

- **CSV** (comma-separated, a header row, ``#`` comments allowed). Column ``time`` is the
  start of each period in ISO 8601 (``2026-06-22T10:15:00+02:00``; without an offset it
  is the site's local time). Periods are 15 minutes or an hour, all the same length.
  Energy columns are ``import_kwh`` and ``export_kwh`` (energy over the period), or
  ``import_w`` and ``export_w`` (mean power over it); ``pv_kwh``/``pv_w`` and
  ``load_kwh``/``load_w`` are optional and, when both are there, replace import and
  export as the home's own PV and load.
- **DSMR P1 telegrams** (the Dutch/Belgian/Luxembourg smart meter port), one after the
  other in a text file, parsed with ``dsmr-parser`` (DSMR 5, CRC checked). The meter's
  cumulative import (1.8.1 + 1.8.2) and export (2.8.1 + 2.8.2) counters are read at each
  telegram's timestamp, interpolated to the interval boundaries and differenced.

Without PV and load columns a reading can only say what crossed the connection: the
replayed home's load is its import and its PV its export, which keeps the net (what
settlement uses) and loses the self-consumed part. A bad file is refused with its line
number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from voisin.errors import InvalidInput
from voisin.protocol import Interval
from voisin.protocol.reading_checks import CONNECTION_MAX_KW

ALLOWED_MINUTES = (15, 60)


@dataclass(frozen=True)
class MeterSeries:
    """Energy per run interval (kWh) from a meter file."""

    pv_kwh: np.ndarray
    load_kwh: np.ndarray


def _bad(path: Path, line: int, why: str) -> InvalidInput:
    return InvalidInput(f"{path.name} line {line}: {why}", code="bad-meter-data")


def _instant(text: str, timezone: str, path: Path, line: int) -> float:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _bad(path, line, f"time {text!r} is not ISO 8601") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.timestamp()


def _number(row: dict[str, str], column: str, path: Path, line: int) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        raise _bad(path, line, f"{column} {row.get(column)!r} is not a number") from None
    if not np.isfinite(value) or value < 0:
        raise _bad(path, line, f"{column} must be a non-negative number, got {value}")
    return value


def _pair(header: Sequence[str]) -> tuple[str, str, str]:
    """Which two flows the file gives and in which unit ("kwh" or "w")."""
    for first, second in (("pv", "load"), ("import", "export")):
        for unit in ("kwh", "w"):
            if {f"{first}_{unit}", f"{second}_{unit}"} <= set(header):
                return first, second, unit
    raise InvalidInput(
        "meter CSV needs columns import_kwh and export_kwh (or _w, or pv_ and load_)",
        code="bad-meter-data",
    )


def read_csv(path: Path, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Period starts (s), the two flows' energy (kWh) per period, period minutes."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read meter data {path}: {exc.strerror}", code="bad-meter-data"
        ) from None
    lines = [
        (n, line)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InvalidInput(f"{path.name}: no rows", code="bad-meter-data")
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    if "time" not in header:
        raise _bad(path, lines[0][0], "no 'time' column")
    first, second, unit = _pair(header)
    starts, a, b = [], [], []
    for (number, _), row in zip(lines[1:], reader, strict=True):
        starts.append(_instant(row["time"], timezone, path, number))
        a.append(_number(row, f"{first}_{unit}", path, number))
        b.append(_number(row, f"{second}_{unit}", path, number))
    steps = np.diff(starts)
    if len(starts) < 2 or np.any(steps != steps[0]) or steps[0] / 60 not in ALLOWED_MINUTES:
        bad = 1 + (
            int(np.flatnonzero(steps != steps[0])[0]) + 1
            if len(starts) > 2 and np.any(steps != steps[0])
            else 0
        )
        raise _bad(
            path,
            lines[min(bad, len(lines) - 1)][0],
            "periods must all be 15 minutes or all an hour",
        )
    minutes = int(steps[0] // 60)
    scale = minutes / 60 / 1000 if unit == "w" else 1.0
    energy_a, energy_b = np.array(a) * scale, np.array(b) * scale
    if first == "import":  # load is what came in, PV what went out
        energy_a, energy_b = energy_b, energy_a
    return np.array(starts), energy_a, energy_b, minutes


def _cumulative(
    starts: np.ndarray, energy: np.ndarray, minutes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Counter readings at period boundaries, from energy per period."""
    edges = np.append(starts, starts[-1] + minutes * 60)
    return edges, np.concatenate([[0.0], np.cumsum(energy)])


def read_dsmr(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Telegram instants (s) and the cumulative export and import counters (kWh)."""
    from dsmr_parser import obis_references as obis
    from dsmr_parser import telegram_specifications
    from dsmr_parser.exceptions import InvalidChecksumError, ParseError
    from dsmr_parser.parsers import TelegramParser

    try:
        text = path.read_bytes().decode("ascii", errors="replace")  # CRC covers the CRLFs
    except OSError as exc:
        raise InvalidInput(
            f"cannot read meter data {path}: {exc.strerror}", code="bad-meter-data"
        ) from None
    parser = TelegramParser(telegram_specifications.V5)
    times, exported, imported = [], [], []
    line = 1
    for chunk in text.split("/")[1:]:
        telegram = "/" + chunk
        start = line
        line += telegram.count("\n")
        if "!" not in telegram:
            raise _bad(path, start, "telegram does not end with '!CRC'")
        telegram = telegram[: telegram.index("!") + 5] + "\r\n"
        try:
            parsed = parser.parse(telegram, throw_ex=True)
            stamp = parsed[obis.P1_MESSAGE_TIMESTAMP].value
            used = sum(
                float(parsed[o].value)
                for o in (obis.ELECTRICITY_USED_TARIFF_1, obis.ELECTRICITY_USED_TARIFF_2)
            )
            given = sum(
                float(parsed[o].value)
                for o in (obis.ELECTRICITY_DELIVERED_TARIFF_1, obis.ELECTRICITY_DELIVERED_TARIFF_2)
            )
        except InvalidChecksumError:
            raise _bad(path, start, "telegram CRC does not match") from None
        except (ParseError, KeyError, ValueError, TypeError) as exc:
            raise _bad(path, start, f"telegram cannot be read ({exc})") from None
        times.append(stamp.timestamp())
        exported.append(given)
        imported.append(used)
    if len(times) < 2:
        raise InvalidInput(f"{path.name}: fewer than two telegrams", code="bad-meter-data")
    if (
        np.any(np.diff(times) <= 0)
        or np.any(np.diff(imported) < 0)
        or np.any(np.diff(exported) < 0)
    ):
        raise InvalidInput(
            f"{path.name}: telegrams out of order or counters going back", code="bad-meter-data"
        )
    return np.array(times), np.array(exported), np.array(imported)


def on_intervals(
    edges_s: np.ndarray, counters: Sequence[np.ndarray], intervals: Sequence[Interval], path: Path
) -> list[np.ndarray]:
    """Energy per interval from counters read at ``edges_s`` (linear in between)."""
    bounds = np.array([iv.start.timestamp() for iv in intervals] + [intervals[-1].end.timestamp()])
    if bounds[0] < edges_s[0] or bounds[-1] > edges_s[-1]:
        first = datetime.fromtimestamp(edges_s[0]).isoformat()
        last = datetime.fromtimestamp(edges_s[-1]).isoformat()
        raise InvalidInput(
            f"{path.name} covers {first} to {last}, not the whole run", code="bad-meter-data"
        )
    return [np.diff(np.interp(bounds, edges_s, c)) for c in counters]


def read_meter_data(
    path: Path, fmt: str, intervals: Sequence[Interval], timezone: str
) -> MeterSeries:
    """The file's PV and load on the run's intervals (kWh)."""
    if fmt == "dsmr":
        times, exported, imported = read_dsmr(path)
        pv, load = on_intervals(times, [exported, imported], intervals, path)
    else:
        starts, pv_per, load_per, minutes = read_csv(path, timezone)
        edges, pv_c = _cumulative(starts, pv_per, minutes)
        _, load_c = _cumulative(starts, load_per, minutes)
        pv, load = on_intervals(edges, [pv_c, load_c], intervals, path)
    for name, kwh in (("pv", pv), ("load", load)):
        _within_connection(path, name, kwh, intervals)
    return MeterSeries(pv_kwh=np.clip(pv, 0, None), load_kwh=np.clip(load, 0, None))


def _within_connection(
    path: Path, name: str, kwh: np.ndarray, intervals: Sequence[Interval]
) -> None:
    """Refuse energy no connection of a low-voltage member carries in an interval
    (``CONNECTION_MAX_KW``): a file is read before any reading is signed, so an absurd
    value is its owner's error to fix, not a day of refused readings."""
    limit = np.array([CONNECTION_MAX_KW * iv.hours for iv in intervals])
    over = np.flatnonzero(kwh > limit)
    if len(over):
        i = int(over[0])
        raise InvalidInput(
            f"{path.name}: {name} {kwh[i]:.6g} kWh in the interval starting "
            f"{intervals[i].id}, beyond a {CONNECTION_MAX_KW:g} kW connection",
            code="bad-meter-data",
        )
