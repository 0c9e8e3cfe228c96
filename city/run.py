"""A city's run on Dask: every feeder's curve and re-clearing a task, the city between.

Per interval the graph is ``curve[f]`` for every feeder, then one ``city`` task that
clears the curves under the MV limits, then ``reclear[f]`` for every feeder at its city
price. Intervals do not wait for each other (a generated city has no state carried
between intervals), so the scheduler overlaps them. Tasks take the ``CitySpec`` and
rebuild their feeder from its seed, so nothing large travels; every task is a pure
function of its arguments and HiGHS runs single-threaded, so the bytes written do not
depend on the number of workers or on which worker ran what.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voisin.city.feeders import city_conditions, feeder_market
from voisin.city.market import base_of, city_book, reclear
from voisin.city.residual import ResidualCurve, residual_curve
from voisin.city.scenario import CitySpec, feeder, mv_grid
from voisin.market.bulk import clear_arrays
from voisin.market.gate import MarketRules
from voisin.market.network import Network
from voisin.protocol import canonical_text
from voisin.protocol.interval import Interval

RESULT_FILE = "city.jsonl"


def _market(spec: CitySpec, index: int, interval_id: str):  # type: ignore[no-untyped-def]
    shared = city_conditions(MarketRules(), spec.minutes, spec.export_price_eur_per_kwh)
    interval = Interval.parse(interval_id, spec.minutes)
    return feeder_market(feeder(spec, index, interval), shared, spec.minutes)


def curve_task(spec: CitySpec, index: int, interval_id: str) -> tuple[ResidualCurve, float]:
    """Feeder ``index``'s residual curve for one interval, and its non-participants'
    injection (which crosses the MV network outside the curve)."""
    market = _market(spec, index, interval_id)
    return residual_curve(market), base_of(market)


def city_task(
    spec: CitySpec, interval_id: str, *answers: tuple[ResidualCurve, float]
) -> dict[str, Any]:
    """The city's clearing of the curves: each feeder's exchange and price, the city's
    book (the curves as bids, recorded so the city level can be re-cleared) and totals."""
    mv = mv_grid(spec)
    net = Network.of(mv)
    shared = city_conditions(MarketRules(), spec.minutes, spec.export_price_eur_per_kwh)
    curves = [curve for curve, _ in answers]
    buses = [mv.buses.index(f"M{k}") for k in range(spec.feeders)]
    made = city_book(curves, [base for _, base in answers], buses, net, shared)
    city = clear_arrays(made.book, net, made.conditions)
    signed = np.where(made.book.sell, -1.0, 1.0)
    first = np.searchsorted(made.book.bid, np.arange(made.book.bid_count))
    exchange = made.reference_kwh.copy()
    np.add.at(exchange, made.feeder_of_bid, signed[first] * city.cleared_kwh)
    prices = city.prices_eur_per_kwh[np.asarray(buses)]
    welfare = city.welfare_eur + sum(
        c.value_at(x) for c, x in zip(curves, made.reference_kwh, strict=True)
    )
    between = 0.0  # kWh that one feeder's sell bid delivered to another's buy bid
    split = city.split
    owner = made.feeder_of_bid
    for s, b, kwh in zip(split.seller, split.buyer, split.energy_kwh, strict=True):
        if s >= 0 and b >= 0 and owner[s] != owner[b]:
            between += float(kwh)
    return {
        "interval": interval_id,
        "exchange_kwh": [round(float(x), 9) for x in exchange],
        "price_eur_per_kwh": [round(float(p), 9) for p in prices],
        "curves": [
            {
                "exchange_kwh": [round(float(v), 9) for v in c.exchange_kwh],
                "value_eur": [round(float(v), 9) for v in c.value_eur],
            }
            for c in curves
        ],
        "grid_import_kwh": city.grid_import_kwh,
        "grid_export_kwh": city.grid_export_kwh,
        "between_feeders_kwh": round(between, 9),
        "welfare_eur": round(float(welfare), 9),
    }


def reclear_task(
    spec: CitySpec, index: int, interval_id: str, city: dict[str, Any]
) -> dict[str, Any]:
    """Feeder ``index`` re-cleared at its city price with its allocation."""
    market = _market(spec, index, interval_id)
    x = float(city["exchange_kwh"][index])
    out = reclear(market, x, float(city["price_eur_per_kwh"][index]))
    return {
        "feeder": market.name,
        "cleared_kwh": [round(float(v), 9) for v in out.cleared_kwh],
        "prices_eur_per_kwh": [round(float(v), 9) for v in out.prices_eur_per_kwh],
        "welfare_eur": out.welfare_eur,
    }


@dataclass
class CityReport:
    spec: CitySpec
    path: Path
    intervals: int = 0
    welfare_eur: float = 0.0
    between_feeders_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    seconds: float = 0.0


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of an existing scheduler, or of a LocalCluster of ``workers`` processes
    with one thread each (HiGHS is single-threaded per task)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def run_city(
    spec: CitySpec,
    out: Path,
    client: Any,
    advance: Callable[[int], None] | None = None,
) -> CityReport:
    """Every interval of ``spec`` through the two-level market on ``client``; one JSON
    line per interval (the city's clearing and every feeder's) in ``out/city.jsonl``."""
    import time

    from distributed import as_completed

    began = time.perf_counter()
    ids = [iv.id for iv in spec.interval_list()]
    cities = []
    feeders = []
    for interval_id in ids:
        curves = [
            client.submit(curve_task, spec, k, interval_id, pure=False) for k in range(spec.feeders)
        ]
        city = client.submit(city_task, spec, interval_id, *curves, pure=False)
        cities.append(city)
        feeders.append(
            [
                client.submit(reclear_task, spec, k, interval_id, city, pure=False)
                for k in range(spec.feeders)
            ]
        )
    if advance is not None:
        for _ in as_completed([f for row in feeders for f in row]):  # type: ignore[no-untyped-call]
            advance(1)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULT_FILE
    report = CityReport(spec, path)
    with path.open("w", encoding="utf-8") as handle:
        for city, row in zip(cities, feeders, strict=True):
            record = city.result()
            record["feeders"] = client.gather(row)
            handle.write(canonical_text(record) + "\n")
            report.intervals += 1
            report.welfare_eur += record["welfare_eur"]
            report.between_feeders_kwh += record["between_feeders_kwh"]
            report.grid_import_kwh += record["grid_import_kwh"]
            report.grid_export_kwh += record["grid_export_kwh"]
    report.seconds = time.perf_counter() - began
    return report
