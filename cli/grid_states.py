"""What the market scheduled and what the meters measured, read back from a ledger: the
one adapter `voisin grid check` reads through.

**Scheduled.** A clearing on a physical grid publishes its ``physics`` part
(``ClearingResult.physics``, a ``protocol.physics.GridState``), which the clearing
transaction records: each bus's net injection in kW/kvar (everything connected there,
curtailment applied) and the voltages the LP predicted. An interval whose clearing
carries none had an empty book: nothing scheduled, no injection. A ledger none of whose
clearings carries one was cleared on a transport grid and has no schedule to check.

**Metered.** Each bus's export minus import from the signed meter readings, reactive
power from the metered load (lagging) and PV (absorbing, under-excited, when its power
factor is below 1) at the grid's power factors; no predicted voltages.

The ledger records the grid only by its hash, so the grid itself comes from ``--grid``
(a file, or ``simbench:CODE``), or is recognised as the default neighbourhood's feeder
(``simulated_feeder``); ``ledger_grid_hashes`` lets the caller say when a given grid is
not the one cleared on. Only this module knows where a ledger keeps any of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voisin.errors import InvalidInput
from voisin.grid.day_check import ScheduledState, interval_minutes
from voisin.grid.injections import Injections
from voisin.ledger.store import open_store
from voisin.market.network import tan_phi
from voisin.protocol import Grid, TxKind, parse
from voisin.protocol.physics import GridState


@dataclass
class _LedgerRecord:
    """What the check needs of a ledger, read in one pass: each participant's bus, the
    household count, the cleared intervals with their grid hashes and published physics,
    and the meter readings per interval."""

    bus_of: dict[str, str] = field(default_factory=dict)
    spans: list[tuple[str | None, str | None]] = field(default_factory=list)
    """Each registration's validity (the ledger shows no member kinds)."""
    intervals: list[str] = field(default_factory=list)
    grid_hashes: set[str] = field(default_factory=set)
    readings: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    physics: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, ledger_path: str | Path) -> _LedgerRecord:
        record = cls()
        store = open_store(ledger_path, read_only=True)
        try:
            for block in store.blocks():
                for t in block.transactions:
                    record._add(t.kind, t.body)
        finally:
            store.close()
        return record

    def _add(self, kind: TxKind, body: dict[str, Any]) -> None:
        if kind is TxKind.REGISTRATION:
            self.bus_of[body["participant_id"]] = body["bus"]
            self.spans.append((body.get("valid_from"), body.get("valid_until")))
        elif kind is TxKind.CLEARING:
            self.intervals.append(body["interval"])
            if body.get("grid_hash"):
                self.grid_hashes.add(body["grid_hash"])
            if body.get("physics"):
                self.physics[body["interval"]] = body["physics"]
        elif kind is TxKind.READING:
            self.readings[body["interval"]].append(body)

    def bus(self, participant: str, grid: Grid) -> str:
        bus = self.bus_of.get(participant)
        if bus is None or bus not in grid.buses:
            raise InvalidInput(
                f"participant {participant[:12]} sits at bus {bus!r}, which the grid does not have",
                code="grid-mismatch",
            )
        return bus


def ledger_grid_hashes(ledger_path: str | Path) -> set[str]:
    """The grid hashes the ledger's clearings were computed on."""
    return _LedgerRecord.read(ledger_path).grid_hashes


def simulated_feeder(ledger_path: str | Path) -> Grid | None:
    """The default neighbourhood's feeder if the ledger was cleared on it (the grid
    ``voisin simulate`` uses for as many households as the ledger registers), else None."""
    from voisin.agents.scenario import default_neighbourhood
    from voisin.market import grid_hash

    record = _LedgerRecord.read(ledger_path)
    first = min(record.intervals, default="")
    members = sum(
        (start is None or start <= first) and (end is None or first < end)
        for start, end in record.spans
    )
    for households in (members - 1, members):  # with the school, or without one
        if households >= 1:
            grid = default_neighbourhood(households=households).grid
            if grid_hash(grid) in record.grid_hashes:
                return grid
    return None


def published_state(physics: Mapping[str, Any]) -> tuple[Injections, dict[str, float]]:
    """Injections (kW, kvar) and predicted voltages (pu) of a published ``GridState``
    (its JSON form, as a clearing transaction would carry it)."""
    state = parse(GridState, physics, "published physics")
    injections = {
        bus: (p_kw, state.injection_kvar.get(bus, 0.0)) for bus, p_kw in state.injection_kw.items()
    }
    return injections, dict(state.voltage_pu)


def _needs(grid: Grid | None) -> Grid:
    if grid is None:
        raise InvalidInput(
            "this ledger records its grid only by hash and it is not the default "
            "neighbourhood's: pass --grid FILE (or --grid simbench:CODE)",
            code="missing-grid",
        )
    return grid


def scheduled_states(ledger_path: str | Path, grid: Grid | None = None) -> Iterator[ScheduledState]:
    """(interval id, grid, bus -> (p_kw, q_kvar), predicted vm_pu or None) per cleared
    interval, in order: what the market scheduled, as its clearings published it."""
    grid = _needs(grid)
    record = _LedgerRecord.read(ledger_path)
    if record.intervals and not record.physics:
        raise InvalidInput(
            "no clearing in this ledger publishes a physical state (cleared on "
            "a transport grid?); --metered checks what the meters measured",
            code="no-physics",
        )
    for interval in record.intervals:
        if interval in record.physics:
            injections, predicted = published_state(record.physics[interval])
            yield interval, grid, injections, predicted
        else:
            yield interval, grid, {}, None


def metered_states(ledger_path: str | Path, grid: Grid | None = None) -> Iterator[ScheduledState]:
    """The same per cleared interval for what the meters measured: each bus's export
    minus import; reactive power from the metered import (at the load's lagging power
    factor) and export (at the PV's absorbing one), since the ledger shows a reading's
    net flows only, not its load and PV (docs/privacy.md). Never with predicted
    voltages."""
    grid = _needs(grid)
    record = _LedgerRecord.read(ledger_path)
    hours = interval_minutes(record.intervals) / 60.0
    tan_load, tan_pv = tan_phi(grid.load_power_factor), tan_phi(grid.pv_power_factor)
    for interval in record.intervals:
        per_bus: dict[str, tuple[float, float]] = {}
        for reading in record.readings[interval]:
            bus = record.bus(reading["participant"], grid)
            p_kw, q_kvar = per_bus.get(bus, (0.0, 0.0))
            p = (reading["export_kwh"] - reading["import_kwh"]) / hours
            q = -(reading["import_kwh"] * tan_load + reading["export_kwh"] * tan_pv) / hours
            per_bus[bus] = (p_kw + p, q_kvar + q)
        yield interval, grid, per_bus, None
