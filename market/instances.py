"""The design's random market instance, shared by the benchmark and the scale tests.

DESIGN.md fixes it so figures compare across runs and machines: ``B = max(10, N/20)``
buses on a random tree (``parent[b] = floor(u * b)``), line limits uniform 5-50 kWh,
``N`` bids half buy half sell at random buses, 0.1-5 kWh at 0.05-0.40 EUR/kWh, grid
import 0.30 and export 0.05 at the root.
"""

from __future__ import annotations

import numpy as np

from voisin.market.network import Network
from voisin.market.segments import SegmentBook


def generate(n: int, seed: int) -> tuple[Network, SegmentBook]:
    """The instance of ``n`` bids for ``seed``, as arrays."""
    rng = np.random.default_rng(seed)
    buses = max(10, n // 20)
    parent = np.floor(rng.random(buses) * np.arange(buses)).astype(np.int64)
    net = Network.from_parents(
        parent,
        rng.uniform(5, 50, buses - 1),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )
    book = SegmentBook.of(
        rng.integers(0, buses, n),
        np.arange(n) >= n // 2,
        rng.uniform(0.1, 5, n),
        rng.uniform(0.05, 0.40, n),
        bus_count=buses,
    )
    return net, book
