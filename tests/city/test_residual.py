"""The residual curve's warm solves read from HiGHS directly, with the same answers."""

from __future__ import annotations

import pytest

from voisin.city.residual import Responder
from voisin.city.run import _market
from voisin.city.scenario import CitySpec


@pytest.mark.parametrize("seed", range(3))
def test_direct_read_gives_the_doubles_of_the_whole_point(seed: int) -> None:
    """The exchange read from the two exchange columns is, to the bit, the one
    ``exchange_of`` takes from every column's value (the city ledger records the
    curve's doubles), at prices from beyond every slope to between the bids, in the
    order a search visits them."""
    spec = CitySpec(name="r", feeders=2, households_per_feeder=12, intervals=1, seed=seed)
    prices = (9.0, -9.0, 0.08, 0.28, 0.17, 0.2, 0.17, 0.0, 0.12)
    for index in range(spec.feeders):
        for interval in (spec.interval_list()[0].id, "2026-06-22T12:00Z"):
            direct = Responder(_market(spec, index, interval))
            whole = Responder(_market(spec, index, interval))
            whole.direct = False
            assert direct.direct
            assert [direct(p) for p in prices] == [whole(p) for p in prices]
