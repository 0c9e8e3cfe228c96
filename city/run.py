"""A city's run on Dask: every feeder's curve a task, the city between, then ledgers.

Per interval the graph is ``curve[f]`` for every feeder, then one ``city`` task that
clears the curves under the MV limits (``city.level``). Intervals do not wait for each
other (a generated city has no state carried between intervals), so the scheduler
overlaps them. Then one ``feeder`` task per feeder writes that feeder's ledger over the
whole run (a hash chain is written in order), re-clearing each interval at the city's
price and allocation through the single-feeder ``Operator`` and settling it against its
members' signed readings (``city.delivery``); the client writes the city
ledger with a link to each feeder block (``city.ledgers``) and verifies everything
(``city.verify``). Tasks take the ``CitySpec`` and rebuild their feeder from its seed,
so nothing large travels; every task is a pure function of its arguments and HiGHS
runs single-threaded, so the bytes written do not depend on the number of workers or
on which worker ran what.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voisin.city.feeders import city_conditions, feeder_market
from voisin.city.ledgers import write_city_ledger, write_feeder_ledger
from voisin.city.level import book_body, city_terms, clear_book
from voisin.city.market import base_of
from voisin.city.places import CityLedgers, city_ledgers
from voisin.city.residual import ResidualCurve, residual_curve
from voisin.city.scenario import CitySpec, feeder
from voisin.city.tasks import in_process, on_cluster
from voisin.city.verify import CityVerification, verify_city
from voisin.errors import InvalidInput
from voisin.ledger import transactions as tx
from voisin.market.gate import MarketRules
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
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The city's book of curves and its clearing under the MV limits (``city.level``):
    the ``city_book`` and ``city_clearing`` bodies of the city ledger."""
    terms = city_terms(spec)
    book = book_body(
        interval_id,
        tx.terms_hash(terms.body),
        [f"F{k}" for k in range(spec.feeders)],
        [f"M{k}" for k in range(spec.feeders)],
        [curve for curve, _ in answers],
        [base for _, base in answers],
    )
    return book, clear_book(book, terms)


def feeder_task(
    spec: CitySpec, index: int, place: CityLedgers, *levels: tuple[dict[str, Any], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Feeder ``index``'s ledger, re-cleared at the city's allocation of every interval;
    on PostgreSQL the task opens its own connection."""
    return write_feeder_ledger(spec, index, place, [clearing for _, clearing in levels])


def city_ledger_task(
    spec: CitySpec,
    place: CityLedgers,
    levels: list[tuple[dict[str, Any], dict[str, Any]]],
    links: list[list[dict[str, Any]]],
) -> None:
    """The city's ledger, written on a worker: the client's process, where a
    LocalCluster's scheduler runs its event loop, stays free to serve it."""
    write_city_ledger(spec, place, levels, links)


@dataclass
class CityReport:
    spec: CitySpec
    path: Path
    ledgers: CityLedgers
    intervals: int = 0
    welfare_eur: float = 0.0
    between_feeders_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    imbalance_kwh: float = 0.0
    """Every member-interval's settled imbalance, magnitudes added (kWh)."""
    rest_kwh: float = 0.0
    """Of the imbalance, the feeders' inflexible rest (``ClearingResult.rest_kwh``,
    magnitude per feeder-interval): energy that flowed in no trade, so settlement meets
    it at the members' tariffs, as a lone feeder's retailer does."""
    imbalance_eur: float = 0.0
    """What the members received for their imbalances, at their tariffs (negative:
    they paid)."""
    rest_eur: float = 0.0
    """The inflexible rest at its buses' prices: what the suppliers that settle
    it with their members at the tariffs paid the city for it (negative: were paid)."""
    seconds: float = 0.0
    """Wall time of the run, ledgers written, verification not included."""
    seconds_clearing: float = 0.0
    """Until every interval's city clearing was done (the curves: nearly all of it)."""
    seconds_ledgers: float = 0.0
    """The feeders' ledgers after that (their re-clearings, signatures, writes) and the
    city's."""
    seconds_verify: float = 0.0
    verified: CityVerification | None = None


def check_workers(workers: int) -> None:
    """Refuse a LocalCluster of fewer than one worker (``--workers``), before any work."""
    if workers < 1:
        raise InvalidInput(f"--workers {workers}: at least one worker", code="bad-workers")


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of an existing scheduler, or of a LocalCluster of ``workers`` processes
    with one thread each (HiGHS is single-threaded per task)."""
    from distributed import Client, LocalCluster

    check_workers(workers)

    if scheduler is not None:
        with _connected(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
            silence_logs=logging.CRITICAL,  # a task's error reaches the client as one line
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def _connected(scheduler: str) -> Any:
    """A client of the scheduler at ``scheduler`` that has at least one worker, or one
    line saying why not: a malformed address, a scheduler not reached, or one without
    workers, each within Dask's own connect timeout (``distributed.comm.timeouts.connect``,
    30 s unless configured), so a typo never waits forever or ends in a traceback."""
    import dask.config
    from dask.utils import parse_timedelta
    from distributed import Client

    wait_s = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    try:
        client = Client(scheduler, timeout=wait_s)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise InvalidInput(f"--scheduler {scheduler}: {exc}", code="bad-scheduler") from None
    except OSError:
        raise InvalidInput(
            f"--scheduler {scheduler}: no Dask scheduler answered within {wait_s:g} s",
            code="no-scheduler",
        ) from None
    try:
        client.wait_for_workers(1, timeout=wait_s)
    except TimeoutError:
        client.close()  # type: ignore[no-untyped-call]
        raise InvalidInput(
            f"--scheduler {scheduler}: the scheduler has no worker (waited {wait_s:g} s)",
            code="no-scheduler",
        ) from None
    return client


def run_city(
    spec: CitySpec,
    out: Path,
    client: Any,
    advance: Callable[[int], None] | None = None,
    *,
    verify: bool = True,
    ledgers: str | None = None,
) -> CityReport:
    """Every interval of ``spec`` through the two-level market on ``client``: the
    feeders' and the city's ledgers (``city.ledgers``) in ``out``, or in the PostgreSQL
    database ``ledgers`` names (one schema each: ``city.places``), one JSON line per
    interval in ``out/city.jsonl`` (the city's clearing and every feeder's totals), then,
    unless ``verify`` is False, ``verify_run`` on the same cluster. ``out`` (or the
    database) must be reachable at the same path from every worker (a LocalCluster's
    are on this machine). The caller claims the place first (``places``' ``claim``)."""
    import time

    from distributed import as_completed

    began = time.perf_counter()
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    place = city_ledgers(ledgers or out)
    ids = [iv.id for iv in spec.interval_list()]
    curves = []
    cities = []
    for interval_id in ids:
        row = [
            client.submit(curve_task, spec, k, interval_id, pure=False) for k in range(spec.feeders)
        ]
        curves += row
        cities.append(client.submit(city_task, spec, interval_id, *row, pure=False))
    writers = [
        client.submit(feeder_task, spec, k, place, *cities, pure=False) for k in range(spec.feeders)
    ]

    def wait(futures: list[Any]) -> Any:
        if advance is not None:
            for _ in as_completed(futures):  # type: ignore[no-untyped-call]
                advance(1)
        return client.gather(futures)

    path = out / RESULT_FILE
    report = CityReport(spec, path, place)
    wait(curves)
    levels = client.gather(cities)
    report.seconds_clearing = time.perf_counter() - began
    feeders = wait(writers)
    links = [[feeders[k][t] for k in range(spec.feeders)] for t in range(len(ids))]
    client.submit(city_ledger_task, spec, place, cities, links, pure=False).result()
    report.seconds_ledgers = time.perf_counter() - began - report.seconds_clearing
    with path.open("w", encoding="utf-8") as handle:
        for (_, clearing), row in zip(levels, links, strict=True):
            between = sum(piece["energy_kwh"] for piece in clearing["between_feeders"])
            record = {**clearing, "between_feeders_kwh": round(between, 9), "feeders": row}
            handle.write(canonical_text(record) + "\n")
            report.intervals += 1
            report.welfare_eur += record["welfare_eur"]
            report.between_feeders_kwh += record["between_feeders_kwh"]
            report.grid_import_kwh += record["grid_import_kwh"]
            report.grid_export_kwh += record["grid_export_kwh"]
            report.imbalance_kwh += sum(feeder["imbalance_kwh"] for feeder in row)
            report.imbalance_eur += sum(feeder["imbalance_eur"] for feeder in row)
            report.rest_kwh += sum(abs(feeder["rest_kwh"]) for feeder in row)
            report.rest_eur += sum(feeder["rest_eur"] for feeder in row)
    report.seconds = time.perf_counter() - began
    return verify_run(report, client) if verify else report


def verify_run(report: CityReport, client: Any = None) -> CityReport:
    """Verify every ledger and link of the run (``city.verify``), timed. With a Dask
    ``client`` each feeder's ledger is verified by a task on a worker, all of them at
    once (the city ledger and the links are read here); without one, all in this
    process. Minutes of verification in a LocalCluster's client process would starve
    its scheduler's event loop (the workers log failed heartbeats), so the client only
    waits for the tasks."""
    import time

    began = time.perf_counter()
    spread = in_process if client is None else on_cluster(client)
    report.verified = verify_city(report.ledgers, map_feeders=spread)
    report.seconds_verify = time.perf_counter() - began
    return report
