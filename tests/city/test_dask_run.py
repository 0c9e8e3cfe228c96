"""A tiny city on a real Dask LocalCluster: the same bytes with one worker and two, in
the result file and in every ledger (the city's and each feeder's, readings and
settlements included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voisin.city.places import CITY_LEDGER, feeder_ledger
from voisin.city.run import dask_client, run_city, verify_run
from voisin.city.scenario import CitySpec
from voisin.errors import VerificationError
from voisin.ledger import verify_ledger

TINY = CitySpec(
    name="tiny", feeders=3, households_per_feeder=3, intervals=4, first_interval=46, seed=4
)
"""Four intervals around noon, when some feeders have PV to spare."""


@pytest.mark.slow
def test_one_and_two_workers_write_the_same_bytes(tmp_path) -> None:
    """One worker of a LocalCluster, then two of a cluster given by its address."""
    spec = TINY
    written = []
    with dask_client(1, None) as client:
        written.append(run_city(spec, tmp_path / "1", client).path.read_bytes())
    # Two workers as an existing cluster, reached by its address (--scheduler).
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        host="127.0.0.1",
    ) as cluster:
        with dask_client(2, cluster.scheduler_address) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            written.append(run_city(spec, tmp_path / "2", client).path.read_bytes())
    assert written[0] == written[1]
    ledgers = [CITY_LEDGER, *(feeder_ledger(Path(), f"F{k}") for k in range(spec.feeders))]
    for path in ledgers:
        one, two = (tmp_path / n / path for n in ("1", "2"))
        assert one.read_bytes() == two.read_bytes(), path
    lines = [json.loads(line) for line in written[0].splitlines()]
    assert len(lines) == 4
    # Around noon some feeder's surplus serves another feeder over the MV network.
    assert sum(line["between_feeders_kwh"] for line in lines) > 0
    for line in lines:
        assert len(line["feeders"]) == 3
    # The bytes compared include every interval's readings and settlement on each feeder.
    for k in range(spec.feeders):
        counts = verify_ledger(tmp_path / "2" / feeder_ledger(Path(), f"F{k}")).counts
        assert counts["settlement"] == counts["reading"] > 0


@pytest.mark.slow
def test_feeder_ledgers_verified_on_workers_name_the_same_first_problem(tmp_path) -> None:
    """``verify_run`` with a client verifies each feeder ledger in a task: a clean run
    verifies with the in-process count, and with two feeder ledgers damaged the error
    raised is the in-process one (the first feeder in name order)."""
    import sqlite3

    from voisin.city.verify import verify_city

    with dask_client(2, None) as client:
        report = run_city(TINY, tmp_path, client)  # verified on the workers
        assert report.verified == verify_city(tmp_path)
        for name in ("F2", "F1"):
            with sqlite3.connect(feeder_ledger(tmp_path, name)) as db:
                db.execute(
                    "UPDATE transactions SET body = replace(body, '\"memo\":', '\"memo\": ')"
                    " WHERE kind = 'transfer'"
                )
        with pytest.raises(VerificationError) as here:
            verify_city(tmp_path)
        with pytest.raises(VerificationError) as there:
            verify_run(report, client)
    assert "F1" in here.value.message
    assert (there.value.message, there.value.height, there.value.index, there.value.rule) == (
        here.value.message,
        here.value.height,
        here.value.index,
        here.value.rule,
    )
