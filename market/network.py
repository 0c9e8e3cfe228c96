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
    line_fee_eur_per_kwh: np.ndarray | None = None
    """Wheeling fee per kWh carried on each line, either way (zeros when not given)."""
    meshed: bool = False
    """Lines may form loops: flows follow the DC model (``parent`` and ``preorder`` then
    describe a breadth-first spanning tree, used only for proximity)."""
    line_reactance_ohm: np.ndarray | None = None
    """Per line, for the DC model of a meshed grid (ones when not given)."""

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
        return cls(
            buses=tuple(grid.buses),
            root=index[grid.root],
            line_from=np.array([index[ln.from_bus] for ln in grid.lines], dtype=np.int64),
            line_to=np.array([index[ln.to_bus] for ln in grid.lines], dtype=np.int64),
            line_capacity_kwh=np.array([ln.capacity_kwh for ln in grid.lines], dtype=float),
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
            line_fee_eur_per_kwh=line_fee_eur_per_kwh,
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
