"""The design's random market instance, shared by the benchmark and the scale tests.

DESIGN.md fixes it so figures compare across runs and machines: ``B = max(10, N/20)``
buses on a random tree (``parent[b] = floor(u * b)``), line limits uniform 5-50 kWh,
``N`` bids half buy half sell at random buses, 0.1-5 kWh at 0.05-0.40 EUR/kWh, grid
import 0.30 and export 0.05 at the root.
"""

from __future__ import annotations

import numpy as np

from voisin.market.network import Network, Physics
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


def generate_physical(n: int, seed: int, *, hours: float = 0.25) -> tuple[Network, SegmentBook]:
    """DESIGN's instance on a physical feeder: the same tree, book and tariffs, each
    line a 10-50 m length of NAYY 4x150 (0.208 + j0.080 ohm/km) rated so its apparent
    power limit over ``hours`` equals the transport instance's kWh limit, a 0.4 kV
    feeder with the root as slack at 1.0 pu and a 0.95-1.05 pu band on every bus."""
    net, book = generate(n, seed)
    rng = np.random.default_rng((seed, 0x9E7))
    lines = len(net.line_from)
    length_km = rng.uniform(0.01, 0.05, lines)
    s_max_kva = net.line_capacity_kwh / hours
    physics = Physics(
        vn_kv=0.4,
        line_r_ohm=0.208 * length_km,
        line_x_ohm=0.080 * length_km,
        line_s_max_kva=s_max_kva,
        v_min_pu=np.full(net.bus_count, 0.95),
        v_max_pu=np.full(net.bus_count, 1.05),
        source_vm_pu=1.0,
    )
    physical = Network.from_parents(
        net.parent,
        np.full(lines, np.inf),
        import_price_eur_per_kwh=net.import_price_eur_per_kwh,
        export_price_eur_per_kwh=net.export_price_eur_per_kwh,
        physics=physics,
    )
    return physical, book
