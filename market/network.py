"""The feeder as integer arrays, for clearing large books without per-bus Python objects.

``Grid`` (pydantic) is the edge format; ``Network`` is what the matrix path and the
netted trade split read: buses numbered in the grid's order, lines as (from, to)
index pairs in file orientation, and the tree as ``parent`` plus a depth-first
preorder (every subtree a contiguous run), computed once per grid and reused for every
interval cleared on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voisin.errors import InvalidInput
from voisin.market.feeder import Feeder
from voisin.protocol import Grid

SQRT3 = math.sqrt(3.0)


def tan_phi(power_factor: float) -> float:
    """Reactive per active power (kvar/kW) at ``power_factor`` (lagging)."""
    return math.sqrt(max(1.0 - power_factor**2, 0.0)) / power_factor


@dataclass(frozen=True, eq=False)
class Physics:
    """What LinDistFlow needs of a physical feeder, per line and bus (grid order).

    Units: ohm, kVA, kV, per unit. ``line_s_max_kva`` is the thermal rating as apparent
    power at the lowest voltage the band allows at either end (sqrt(3) * vn * v_min *
    I_max), so a current limit holds wherever the voltages stay in band. ``source_vm_pu``
    is the LV root's no-load voltage (the upstream voltage shifted by the tap).
    """

    vn_kv: float
    line_r_ohm: np.ndarray
    line_x_ohm: np.ndarray
    line_s_max_kva: np.ndarray
    v_min_pu: np.ndarray
    v_max_pu: np.ndarray
    source_vm_pu: float
    transformer_r_ohm: float = 0.0
    transformer_x_ohm: float = 0.0
    transformer_s_max_kva: float = math.inf
    """``inf`` with no transformer: the root is the slack itself."""
    load_tan_phi: float = tan_phi(0.95)
    pv_tan_phi: float = 0.0

    @classmethod
    def of(cls, grid: Grid) -> Physics:
        index = {bus: i for i, bus in enumerate(grid.buses)}
        bands = np.array([grid.band_pu(bus) for bus in grid.buses], dtype=float).reshape(-1, 2)
        ends_min = np.array(
            [min(bands[index[ln.from_bus], 0], bands[index[ln.to_bus], 0]) for ln in grid.lines]
        )
        rated = np.array([ln.rated_i_ka for ln in grid.lines], dtype=float)
        trafo = grid.transformer
        r_t = x_t = 0.0
        s_t = math.inf
        tap = 0.0
        if trafo is not None:
            r_t, x_t = trafo.impedance_ohm()
            s_t = trafo.rated("sn_kva")
            tap = trafo.tap_percent
        return cls(
            vn_kv=grid.vn_kv,
            line_r_ohm=np.array([ln.r_ohm for ln in grid.lines], dtype=float),
            line_x_ohm=np.array([ln.x_ohm for ln in grid.lines], dtype=float),
            line_s_max_kva=SQRT3 * grid.vn_kv * ends_min.reshape(-1) * rated * 1000.0,
            v_min_pu=bands[:, 0].copy(),
            v_max_pu=bands[:, 1].copy(),
            source_vm_pu=grid.slack_vm_pu * (1.0 + tap / 100.0),
            transformer_r_ohm=r_t,
            transformer_x_ohm=x_t,
            transformer_s_max_kva=s_t,
            load_tan_phi=tan_phi(grid.load_power_factor),
            pv_tan_phi=tan_phi(grid.pv_power_factor),
        )


@dataclass(frozen=True, eq=False)
class Network:
    """A feeder by numbers (radial unless ``meshed``). Units: kWh per interval, EUR/kWh.

    ``line_from``/``line_to`` give each line's ends (flows positive from -> to);
    ``parent[b]`` is bus ``b``'s parent (-1 at the root); ``preorder[k]`` is the k-th
    bus of a depth-first walk from the root, children in index order.
    """

    buses: tuple[str, ...]
    root: int
    line_from: np.ndarray
    line_to: np.ndarray
    line_capacity_kwh: np.ndarray
    parent: np.ndarray
    preorder: np.ndarray
    import_price_eur_per_kwh: float
    export_price_eur_per_kwh: float
    transformer_capacity_kwh: float
    """``inf`` when the transformer is unlimited."""
    line_fee_eur_per_kwh: np.ndarray = None  # type: ignore[assignment]  # None: zeros, set in __post_init__
    """Wheeling fee per kWh carried on each line, either way (zeros when not given)."""
    meshed: bool = False
    """Lines may form loops: flows follow the DC model (``parent`` and ``preorder`` then
    describe a breadth-first spanning tree, used only for proximity)."""
    line_reactance_ohm: np.ndarray = None  # type: ignore[assignment]  # None: ones, set in __post_init__
    """Per line, for the DC model of a meshed grid (ones when not given)."""
    physics: Physics | None = None
    """Impedances, ratings and voltage bands of a physical grid (None: a transport grid,
    whose limits are ``line_capacity_kwh`` and ``transformer_capacity_kwh``)."""
    local_charge_eur_per_kwh: float = 0.0
    """Network charges and levies per kWh sold locally (``Grid.local_charge_eur_per_kwh``)."""

    def __post_init__(self) -> None:
        fees = self.line_fee_eur_per_kwh
        fees = np.zeros(len(self.line_from)) if fees is None else np.asarray(fees, dtype=float)
        if fees.shape != (len(self.line_from),) or not np.all(np.isfinite(fees) & (fees >= 0)):
            raise InvalidInput("one finite, non-negative wheeling fee per line", code="bad-grid")
        object.__setattr__(self, "line_fee_eur_per_kwh", fees)
        reactance = self.line_reactance_ohm
        reactance = (
            np.ones(len(self.line_from)) if reactance is None else np.asarray(reactance, float)
        )
        object.__setattr__(self, "line_reactance_ohm", reactance)

    @property
    def fee_lines(self) -> np.ndarray:
        """Indices of the lines that charge a wheeling fee (the LP splits their flow)."""
        return np.flatnonzero(self.line_fee_eur_per_kwh > 0)

    @property
    def bus_count(self) -> int:
        return len(self.buses)

    @classmethod
    def of(cls, grid: Grid) -> Network:
        """Arrays for a validated ``Grid`` (already a connected tree)."""
        index = {bus: i for i, bus in enumerate(grid.buses)}
        feeder = Feeder.of(grid)
        parent = np.full(len(grid.buses), -1, dtype=np.int64)
        for bus, up in feeder.parent.items():
            parent[index[bus]] = index[up]
        limit = grid.transformer_capacity_kwh
        capacity = [math.inf if ln.capacity_kwh is None else ln.capacity_kwh for ln in grid.lines]
        return cls(
            buses=tuple(grid.buses),
            root=index[grid.root],
            line_from=np.array([index[ln.from_bus] for ln in grid.lines], dtype=np.int64),
            line_to=np.array([index[ln.to_bus] for ln in grid.lines], dtype=np.int64),
            line_capacity_kwh=np.array(capacity, dtype=float),
            parent=parent,
            preorder=_preorder(parent, index[grid.root]),
            import_price_eur_per_kwh=grid.import_price_eur_per_kwh,
            export_price_eur_per_kwh=grid.export_price_eur_per_kwh,
            transformer_capacity_kwh=math.inf if limit is None else float(limit),
            line_fee_eur_per_kwh=np.array(
                [ln.wheeling_fee_eur_per_kwh for ln in grid.lines], dtype=float
            ),
            meshed=grid.meshed,
            line_reactance_ohm=np.array([ln.reactance_ohm for ln in grid.lines], dtype=float),
            physics=Physics.of(grid) if grid.physical else None,
            local_charge_eur_per_kwh=grid.local_charge_eur_per_kwh,
        )

    @classmethod
    def from_parents(
        cls,
        parent: np.ndarray,
        line_capacity_kwh: np.ndarray,
        *,
        import_price_eur_per_kwh: float,
        export_price_eur_per_kwh: float,
        transformer_capacity_kwh: float = math.inf,
        line_fee_eur_per_kwh: np.ndarray | None = None,
        physics: Physics | None = None,
    ) -> Network:
        """A tree rooted at bus 0 given ``parent[b] < b`` for b >= 1 (``parent[0]`` is
        ignored); line ``b - 1`` runs parent -> b with ``line_capacity_kwh[b - 1]``.
        Buses are named by their index. For generated benchmark feeders."""
        parent = np.asarray(parent, dtype=np.int64).copy()
        count = len(parent)
        children = np.arange(1, count)
        if count == 0 or np.any(parent[1:] < 0) or np.any(parent[1:] >= children):
            raise InvalidInput("parent[b] must lie in [0, b) for every bus b >= 1", code="bad-grid")
        capacity = np.asarray(line_capacity_kwh, dtype=float)
        if capacity.shape != (count - 1,) or not np.all(capacity >= 0):
            raise InvalidInput("one non-negative capacity per line is needed", code="bad-grid")
        if export_price_eur_per_kwh > import_price_eur_per_kwh:
            raise InvalidInput("export price above import price", code="bad-grid")
        parent[0] = -1
        return cls(
            buses=tuple(str(b) for b in range(count)),
            root=0,
            line_from=parent[1:].copy(),
            line_to=children,
            line_capacity_kwh=capacity,
            parent=parent,
            preorder=_preorder(parent, 0),
            import_price_eur_per_kwh=float(import_price_eur_per_kwh),
            export_price_eur_per_kwh=float(export_price_eur_per_kwh),
            transformer_capacity_kwh=float(transformer_capacity_kwh),
            line_fee_eur_per_kwh=line_fee_eur_per_kwh,  # type: ignore[arg-type]  # None: zeros
            physics=physics,
        )


def _preorder(parent: np.ndarray, root: int) -> np.ndarray:
    """Depth-first preorder from ``root``, children visited in increasing index."""
    count = len(parent)
    kids = np.argsort(parent, kind="stable")  # children grouped by parent, index order
    first = np.searchsorted(parent[kids], np.arange(count), side="left")
    last = np.searchsorted(parent[kids], np.arange(count), side="right")
    kids_list, first_list, last_list = kids.tolist(), first.tolist(), last.tolist()
    order: list[int] = []
    stack = [root]
    while stack:
        bus = stack.pop()
        order.append(bus)
        stack.extend(reversed(kids_list[first_list[bus] : last_list[bus]]))
    return np.array(order, dtype=np.int64)
