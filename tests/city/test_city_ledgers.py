"""A city's ledgers: every feeder's and the city's verify, re-clear, and tell on tampering.

The city runs once per module on a real in-process Dask client (threads, one worker):
3 feeders of 3 households, 4 intervals around noon.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ledger.forge import blocks, first, resign, shift_prices
from voisin.city.audit import audit_city, audit_city_ledger
from voisin.city.delivery import DEVIATION, delivery_factors
from voisin.city.ledgers import operator_key, write_city_ledger
from voisin.city.places import CITY_LEDGER, feeder_ledger
from voisin.city.run import run_city
from voisin.city.scenario import CitySpec, feeder, member_labels
from voisin.city.verify import verify_city
from voisin.cli.main import main
from voisin.errors import VerificationError
from voisin.ledger import verify_ledger
from voisin.market.audit import audit_ledger
from voisin.protocol import KeyPair, ParticipantKind, canonical_bytes, sha256_hex, verify

from .ids import check_ids_tell_no_kind

TINY = CitySpec(
    name="tiny", feeders=3, households_per_feeder=3, intervals=4, first_interval=46, seed=4
)


def _run(spec: CitySpec, out: Path, client: object | None = None) -> Path:
    from distributed import Client

    if client is not None:
        run_city(spec, out, client)
        return out
    with Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
    ) as client:
        run_city(spec, out, client)
    return out


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(TINY, tmp_path_factory.mktemp("city") / "out")


@pytest.fixture
def copy(city: Path, tmp_path: Path) -> Path:
    """A copy of the run's folder to tamper with."""
    return Path(shutil.copytree(city, tmp_path / "copy"))


def _rows(path: Path, kind: str) -> list[tuple[int, int, dict]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT height, idx, body FROM transactions WHERE kind = ? ORDER BY height, idx",
            (kind,),
        ).fetchall()
    return [(h, i, json.loads(b)) for h, i, b in rows]


def test_every_ledger_verifies_and_re_clears(city: Path) -> None:
    seen = verify_city(city)
    assert (seen.feeders, seen.links) == (3, 12)
    for k in range(3):
        path = feeder_ledger(city, f"F{k}")
        report = audit_ledger(path)
        assert report.first is None
        assert len(report.rows) == 4
        assert report.reproduced == 4  # re-cleared and re-settled: none left open
        assert all(row.settled for row in report.rows)
        assert verify_ledger(path).counts["upstream"] == 4
    report = audit_city_ledger(city / CITY_LEDGER)
    assert report.first is None
    assert report.reproduced == 4


def test_each_feeder_reaches_its_curve_at_the_city_allocation(city: Path) -> None:
    """The feeder's re-clearing (its ledger) is worth V_f(x_f) - lambda_f x_f, with V_f
    the curve the city ledger recorded, and takes exactly x_f; the national grid's net
    import is what the feeders draw."""
    books = {b["interval"]: b for _, _, b in _rows(city / CITY_LEDGER, "city_book")}
    clearings = {c["interval"]: c for _, _, c in _rows(city / CITY_LEDGER, "city_clearing")}
    for name in ("F0", "F1", "F2"):
        path = feeder_ledger(city, name)
        for _, _, done in _rows(path, "clearing"):
            city_side = clearings[done["interval"]]
            curve = next(f for f in books[done["interval"]]["feeders"] if f["feeder"] == name)
            x = city_side["exchange_kwh"][name]
            price = city_side["price_eur_per_kwh"][name]
            assert done["grid_import_kwh"] - done["grid_export_kwh"] == pytest.approx(x, abs=1e-6)
            value = float(np.interp(x, curve["exchange_kwh"], curve["value_eur"]))
            assert done["welfare_eur"] + price * x == pytest.approx(value, abs=1e-6)
    for interval, c in clearings.items():
        base = sum(f["base_kwh"] for f in books[interval]["feeders"])
        drawn = sum(c["exchange_kwh"].values()) - base
        assert c["grid_import_kwh"] - c["grid_export_kwh"] == pytest.approx(drawn, abs=1e-6)
    assert sum(p["energy_kwh"] for c in clearings.values() for p in c["between_feeders"]) > 0


def _forecast_nets(spec: CitySpec, k: int) -> dict[tuple[str, str], tuple[float, float]]:
    """(member key, interval) -> (forecast net export, PV + load) of feeder ``k``'s homes."""
    found = {}
    for interval in spec.interval_list():
        for label, (pv, load) in feeder(spec, k, interval).forecast_kwh.items():
            key = KeyPair.derive("city", spec.seed, "member", label).public_hex
            found[key, interval.id] = (pv - load, pv + load)
    return found


def test_every_interval_settles_against_its_members_signed_readings(city: Path) -> None:
    """Right after each clearing block, a settlement block: one non-estimated reading
    per registered member, each signed by its registered meter; a home's metered net
    within DEVIATION of its forecast (PV and load each), a battery's its traded net to
    the meter's Wh; each imbalance is metered less traded, priced at the tariff."""
    imbalances = []
    for k in range(3):
        path = feeder_ledger(city, f"F{k}")
        meters = {r["participant_id"]: r["meter_id"] for _, _, r in _rows(path, "registration")}
        clearings = [h for h, _, _ in _rows(path, "clearing")]
        readings = _rows(path, "reading")
        settlements = _rows(path, "settlement")
        assert sorted({h for h, _, _ in readings}) == [h + 1 for h in clearings]
        assert len(readings) == len(settlements) == 4 * len(meters)
        homes = _forecast_nets(TINY, k)
        for _, _, r in readings:
            assert r["meter"] == meters[r["participant"]]
            assert verify(r["meter"], canonical_bytes(_unsigned(r)), r["signature"])
        metered = {(r["participant"], r["interval"]): r for _, _, r in readings}
        for _, _, s in settlements:
            assert not s["estimated"]
            r = metered[s["participant"], s["interval"]]
            assert s["metered_net_kwh"] == pytest.approx(r["export_kwh"] - r["import_kwh"])
            assert s["imbalance_kwh"] == pytest.approx(
                s["metered_net_kwh"] - s["traded_net_kwh"], abs=1e-9
            )
            price = 0.08 if s["imbalance_kwh"] > 0 else 0.28
            assert s["imbalance_eur"] == pytest.approx(s["imbalance_kwh"] * price, abs=1e-6)
            home = homes.get((s["participant"], s["interval"]))
            if home is None:  # a battery did what it was dispatched
                assert abs(s["imbalance_kwh"]) <= 0.0005 + 1e-9
            else:
                net, gross = home
                assert abs(s["metered_net_kwh"] - net) <= DEVIATION * gross + 0.001
            imbalances.append(s["imbalance_kwh"])
    assert any(abs(x) >= 0.001 for x in imbalances)  # the homes did not deliver their bids


def _unsigned(reading: dict) -> dict:
    return {k: v for k, v in reading.items() if k != "signature"}


def test_no_id_on_the_citys_ledgers_tells_a_members_kind(city: Path) -> None:
    """Three of TINY's nine homes have a battery, a member of its own: before, its bids
    were ``f1-b1`` beside the homes' ``f1-h2`` on the feeder ledger."""
    assert check_ids_tell_no_kind(city, TINY) == {
        ParticipantKind.HOUSEHOLD,
        ParticipantKind.BATTERY,
    }


def _number(name: str) -> int:
    found = re.search(r"\d+$", name)
    assert found is not None
    return int(found[0])


def test_a_members_id_number_is_drawn_apart_from_its_kind_and_its_home() -> None:
    """Forty feeders of 50 homes, about ten batteries each: among a feeder's bid ids in
    order, the batteries sit where the homes do (mean place a half; before, every
    battery's id sorted before every home's), and a home's number is its household's
    (its bus ``H<h>``) no more often than chance (before: always)."""
    spec = CitySpec(feeders=40, households_per_feeder=50, intervals=1, first_interval=48, seed=11)
    interval = spec.interval_list()[0]
    places: dict[ParticipantKind, list[float]] = {kind: [] for kind in ParticipantKind}
    homes = at_home = 0
    for k in range(spec.feeders):
        book = feeder(spec, k, interval)
        ordered = sorted(book.bids, key=lambda b: b.bid_id)
        for place, b in enumerate(ordered):
            kind = book.kind_of(b.participant)
            places[kind].append(place / (len(ordered) - 1))
            if kind is ParticipantKind.HOUSEHOLD:
                homes += 1
                at_home += _number(b.bid_id) == _number(b.bus)
    batteries = places[ParticipantKind.BATTERY]
    assert len(batteries) > 300
    assert abs(float(np.mean(batteries)) - 0.5) < 0.05
    assert abs(float(np.mean(places[ParticipantKind.HOUSEHOLD])) - 0.5) < 0.05
    assert at_home / homes < 0.05


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 3),
    st.integers(1, 40),
)
def test_every_members_id_is_one_pattern_unique_and_drawn_from_the_seed(
    seed: int, feeders: int, homes: int
) -> None:
    spec = CitySpec(
        feeders=feeders, households_per_feeder=homes, intervals=1, first_interval=48, seed=seed
    )
    ids = []
    for k in range(feeders):
        book = feeder(spec, k, spec.interval_list()[0])
        count = homes + sum(
            book.kind_of(b.participant) is ParticipantKind.BATTERY for b in book.bids
        )
        drawn = member_labels(seed, k, count)
        assert drawn == member_labels(seed, k, count)
        assert sorted(map(_number, drawn)) == list(range(count))
        assert len({len(i) for i in drawn}) == 1
        assert {b.bid_id for b in book.bids} <= set(drawn)
        assert all(b.participant == f"p-{b.bid_id}" for b in book.bids)
        ids += drawn
    assert len(set(ids)) == len(ids)


def test_the_deviation_is_seeded_bounded_and_its_own_stream() -> None:
    interval = TINY.interval_list()[0]
    labels = ["p-f0-h0", "p-f0-h1", "p-f0-h2"]
    drawn = delivery_factors(4, 0, interval, labels)
    assert drawn == delivery_factors(4, 0, interval, labels)
    assert drawn != delivery_factors(5, 0, interval, labels)
    assert drawn != delivery_factors(4, 1, interval, labels)
    factors = [f for pair in drawn.values() for f in pair]
    assert all(1 - DEVIATION <= f <= 1 + DEVIATION for f in factors)
    assert len(set(factors)) == 6


def test_a_feeder_ledger_cut_before_its_last_settlement_is_named(copy: Path, capsys) -> None:
    path = feeder_ledger(copy, "F1")
    with sqlite3.connect(path) as db:
        (top,) = db.execute("SELECT MAX(height) FROM blocks").fetchone()
        db.execute("DELETE FROM transactions WHERE height = ?", (top,))
        db.execute("DELETE FROM blocks WHERE height = ?", (top,))
    with pytest.raises(VerificationError) as found:
        verify_city(copy)
    said = str(found.value)
    assert f"feeders/F1/ledger.sqlite: block {top}: rule feeder-settlement" in said
    assert main(["ledger", "verify", str(copy)]) != 0
    assert "feeder-settlement" in capsys.readouterr().err


def test_one_byte_of_a_feeder_trade_is_named(copy: Path, capsys) -> None:
    path = feeder_ledger(copy, "F1")
    height, index, _ = _rows(path, "trade")[0]
    with sqlite3.connect(path) as db:
        (stored,) = db.execute(
            "SELECT body FROM transactions WHERE height = ? AND idx = ?", (height, index)
        ).fetchone()
        at = stored.index('"energy_kwh":') + len('"energy_kwh":')
        changed = stored[:at] + ("1" if stored[at] != "1" else "2") + stored[at + 1 :]
        db.execute(
            "UPDATE transactions SET body = ? WHERE height = ? AND idx = ?",
            (changed, height, index),
        )
    with pytest.raises(VerificationError) as found:
        verify_city(copy)
    said = str(found.value)
    assert "feeders/F1/ledger.sqlite" in said
    assert f"block {height}, transaction {index}" in said
    assert main(["ledger", "verify", str(copy)]) != 0
    err = capsys.readouterr().err.strip()
    assert "feeders/F1/ledger.sqlite" in err
    assert "\n" not in err


def test_a_feeder_ledger_of_another_run_is_named(copy: Path, tmp_path: Path, capsys) -> None:
    other = _run(TINY.model_copy(update={"seed": 5}), tmp_path / "other")
    shutil.copy(feeder_ledger(other, "F2"), feeder_ledger(copy, "F2"))
    with pytest.raises(VerificationError) as found:
        verify_city(copy)
    said = str(found.value)
    assert "feeders/F2/ledger.sqlite: block 2: rule feeder-link" in said
    assert main(["ledger", "verify", str(copy)]) != 0
    err = capsys.readouterr().err.strip()
    assert "feeders/F2" in err
    assert "\n" not in err


def test_a_missing_or_unlinked_feeder_ledger_is_named(copy: Path) -> None:
    shutil.copytree(feeder_ledger(copy, "F0").parent, copy / "feeders" / "F9")
    with pytest.raises(VerificationError, match="feeders/F9: a feeder ledger the city"):
        verify_city(copy)
    shutil.rmtree(copy / "feeders" / "F9")
    feeder_ledger(copy, "F0").unlink()
    with pytest.raises(VerificationError, match="feeders/F0/ledger.sqlite: missing"):
        verify_city(copy)


def test_a_city_clearing_signed_with_a_wrong_welfare_fails_the_audit(
    city: Path, tmp_path: Path
) -> None:
    """The operator signs a city block whose welfare is not the recorded book's optimum:
    the chain verifies (signatures and structure are right), the audit names it."""
    books = [b for _, _, b in _rows(city / CITY_LEDGER, "city_book")]
    clearings = [c for _, _, c in _rows(city / CITY_LEDGER, "city_clearing")]
    links = _rows(city / CITY_LEDGER, "feeder_link")
    clearings[2] = {**clearings[2], "welfare_eur": clearings[2]["welfare_eur"] + 0.01}
    per_interval = [
        [link for _, _, link in links if link["interval"] == b["interval"]] for b in books
    ]
    out = tmp_path / "lie"
    write_city_ledger(TINY, out, list(zip(books, clearings, strict=True)), per_interval)
    verify_ledger(out / CITY_LEDGER)
    report = audit_city_ledger(out / CITY_LEDGER)
    first = report.first
    assert first is not None
    interval, found = first
    assert interval == books[2]["interval"]
    assert found.rule == "city-clearing"
    assert "welfare_eur" in found.message


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    from distributed import Client

    with Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
    ) as made:
        yield made


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    first=st.integers(0, 92),
    pv_share=st.sampled_from([0.0, 0.5, 1.0]),
    topology=st.sampled_from(["tree", "star"]),
    mv_line_kwh=st.sampled_from([0.5, 3.0, 400.0]),
)
def test_any_small_city_verifies_and_its_feeders_take_the_city_allocation(
    client, tmp_path_factory, seed, first, pv_share, topology, mv_line_kwh
) -> None:
    """Random seeds, hours, PV shares, MV shapes and limits: the run's own
    verification passed (it raises otherwise), each feeder exchanged what the city
    allocated it, the city's net import is what the feeders draw, and every feeder's
    audit re-clears byte for byte."""
    spec = CitySpec(
        name="prop",
        feeders=3,
        households_per_feeder=2,
        intervals=2,
        first_interval=first,
        seed=seed,
        pv_share=pv_share,
        mv_topology=topology,
        mv_line_kwh=mv_line_kwh,
    )
    out = _run(spec, tmp_path_factory.mktemp("prop") / "out", client)
    clearings = {c["interval"]: c for _, _, c in _rows(out / CITY_LEDGER, "city_clearing")}
    for c in clearings.values():
        drawn = sum(c["exchange_kwh"].values())
        assert c["grid_import_kwh"] - c["grid_export_kwh"] == pytest.approx(drawn, abs=1e-6)
    for k in range(3):
        path = feeder_ledger(out, f"F{k}")
        for _, _, done in _rows(path, "clearing"):
            x = clearings[done["interval"]]["exchange_kwh"][f"F{k}"]
            assert done["grid_import_kwh"] - done["grid_export_kwh"] == pytest.approx(x, abs=1e-6)
        assert audit_ledger(path).first is None


# `voisin audit OUT` on the whole city: every ledger, every link, one table, one verdict.


def test_the_whole_city_audits_clean_in_one_command(city: Path, capsys) -> None:
    audit = audit_city(city)
    assert [led.name for led in audit.ledgers] == [
        "city/ledger.sqlite",
        *(f"feeders/F{k}/ledger.sqlite" for k in range(3)),
    ]
    assert all((led.reproduced, led.total, led.first) == (4, 4, None) for led in audit.ledgers)
    assert audit.first is None
    assert main(["audit", str(city)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "the city ledger and 3 feeder ledgers, 16 intervals re-cleared and re-settled" in said


def _resign_f1_with_moved_prices(copy: Path) -> int:
    """F1's operator moves one clearing's prices, its trades and payments with them, and
    re-signs its chain; the city operator re-signs the links to the new blocks. Every
    hash, signature and link verifies. Returns the moved clearing's height."""
    path = feeder_ledger(copy, "F1")
    height, index = first(path, "clearing", lambda b: b["trade_count"] > 0)
    resign(path, operator_key(TINY, "F1"), shift_prices(path, height, index))
    hashes = {h["height"]: sha256_hex(canonical_bytes(h)) for h, _ in blocks(path)}

    def relinked(_: int, rows: list) -> list:
        return [
            (k, {**b, "block_hash": hashes[b["height"]]} if b.get("feeder") == "F1" else b)
            for k, b in rows
        ]

    resign(copy / CITY_LEDGER, operator_key(TINY), relinked)
    verify_city(copy)
    return height


def test_a_feeder_ledger_re_signed_with_changed_trades_is_named_by_the_audit(
    copy: Path, capsys
) -> None:
    """Every hash, signature and link of the re-signed city verifies: only re-clearing
    F1 names it."""
    height = _resign_f1_with_moved_prices(copy)
    audit = audit_city(copy)
    bad = [led.name for led in audit.ledgers if led.first is not None]
    assert bad == ["feeders/F1/ledger.sqlite"]
    f1 = audit.ledgers[2]
    assert (f1.reproduced, f1.total) == (3, 4)
    assert f1.first is not None
    assert f"block {height}" in f1.first
    assert main(["audit", str(copy)]) == 1
    said = " ".join(capsys.readouterr().out.split())
    assert "1 of 4 ledgers differ; first: feeders/F1/ledger.sqlite: interval" in said


def test_a_city_audited_on_two_dask_workers_finds_the_same(copy: Path, capsys) -> None:
    """One task per ledger on a LocalCluster of two worker processes: the same rows, in
    the same order, the same verdict as in one process; bad worker counts are one line."""
    from voisin.city.run import dask_client
    from voisin.city.tasks import on_cluster

    _resign_f1_with_moved_prices(copy)
    alone = audit_city(copy)
    seen: list[tuple[int, int]] = []
    with dask_client(2, None) as client:
        spread = audit_city(
            copy, map_ledgers=on_cluster(client), progress=lambda d, t: seen.append((d, t))
        )
    assert spread == alone
    assert seen == [(d, 4) for d in range(5)]
    capsys.readouterr()
    assert main(["audit", str(copy), "--workers", "2"]) == 1
    said = " ".join(capsys.readouterr().out.split())
    assert "1 of 4 ledgers differ; first: feeders/F1/ledger.sqlite: interval" in said
    lone = str(feeder_ledger(copy, "F0"))
    for args, said in (
        ([str(copy), "--workers", "0"], "--workers 0: at least one worker"),
        ([lone, "--workers", "2"], "is one ledger; --workers and --scheduler audit a city's"),
    ):
        assert main(["audit", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert said in err
        assert "\n" not in err


def test_a_scheduler_not_reached_or_without_workers_is_one_line(
    copy: Path, tmp_path: Path, capsys
) -> None:
    """A malformed address, a port nobody listens on and a scheduler with no worker:
    each one line and exit 2 from `simulate --city` and from `audit` of a city, within
    Dask's connect timeout (set short here), and no ledger written."""
    import socket

    import dask.config
    from distributed import LocalCluster

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{free.getsockname()[1]}"
    out = tmp_path / "new"
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        LocalCluster(
            n_workers=0, processes=True, dashboard_address="127.0.0.1:0", host="127.0.0.1"
        ) as empty,
    ):
        for address, said in (
            ("abc", "bad-scheduler: --scheduler abc: missing port number"),
            (closed, f"no-scheduler: --scheduler {closed}: no Dask scheduler answered within 1 s"),
            (empty.scheduler_address, "the scheduler has no worker (waited 1 s)"),
        ):
            for args in (
                ["simulate", "--city", "small", "--out", str(out), "--scheduler", address],
                ["audit", str(copy), "--scheduler", address],
            ):
                assert main(args) == 2, args
                err = capsys.readouterr().err.strip()
                assert said in err, (args, err)
                assert "\n" not in err
                assert not out.exists() or not any(out.rglob("*.sqlite"))
    # A place with no ledger at all is said to be so, whatever the options.
    assert main(["audit", str(tmp_path / "none"), "--workers", "2"]) == 2
    assert "no ledger at" in capsys.readouterr().err


def test_a_missing_feeder_ledger_is_named_and_the_others_audited(copy: Path, capsys) -> None:
    feeder_ledger(copy, "F0").unlink()
    audit = audit_city(copy)
    f0 = audit.ledgers[1]
    assert (f0.name, f0.report) == ("feeders/F0/ledger.sqlite", None)
    assert f0.first is not None
    assert f0.first.startswith("missing; the city ledger links it")
    assert [led.reproduced for led in audit.ledgers] == [4, 0, 4, 4]
    assert main(["audit", str(copy)]) == 1
    assert "first: feeders/F0/ledger.sqlite: missing; the city ledger links it" in " ".join(
        capsys.readouterr().out.split()
    )


def test_an_unlinked_feeder_ledger_fails_the_audit_and_bad_input_is_one_line(
    copy: Path, tmp_path: Path, capsys
) -> None:
    shutil.copytree(feeder_ledger(copy, "F0").parent, copy / "feeders" / "F9")
    audit = audit_city(copy)
    assert audit.first is not None
    assert audit.first.name == "feeders/F9"
    assert main(["audit", str(copy)]) == 1
    capsys.readouterr()
    assert main(["audit", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere" in err
    assert "\n" not in err
