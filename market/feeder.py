"""The radial feeder as a rooted tree: parents, depths, hop distances, line flows.

The protocol's ``Grid`` already guarantees a connected tree; this module turns it into
the lookups the clearing needs (proximity for trade matching, flows implied by bus
injections for checking feasibility). Lines are stored in either direction in the grid
file; ``parent_line`` remembers each line's orientation so flows keep the file's sign
(positive = from ``from_bus`` to ``to_bus``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from voisin.protocol import Grid


@dataclass(frozen=True)
class Feeder:
    """Tree lookups for one grid. Build with :meth:`of`."""

    root: str
    parent: Mapping[str, str]
    """Bus -> its parent bus (the root has none)."""
    parent_line: Mapping[str, tuple[int, int]]
    """Bus -> (index of the line to its parent, +1 if the line runs parent->bus else -1)."""
    depth: Mapping[str, int]
    order: tuple[str, ...]
    """Buses root first, every parent before its children (breadth-first, by name)."""

    @classmethod
    def of(cls, grid: Grid) -> Feeder:
        neighbours: dict[str, list[tuple[str, int, int]]] = {b: [] for b in grid.buses}
        for index, line in enumerate(grid.lines):
            neighbours[line.from_bus].append((line.to_bus, index, +1))
            neighbours[line.to_bus].append((line.from_bus, index, -1))
        parent: dict[str, str] = {}
        parent_line: dict[str, tuple[int, int]] = {}
        depth = {grid.root: 0}
        order = [grid.root]
        head = 0
        while head < len(order):
            bus = order[head]
            head += 1
            for nxt, index, sign in sorted(neighbours[bus]):
                if nxt not in depth:
                    depth[nxt] = depth[bus] + 1
                    parent[nxt] = bus
                    parent_line[nxt] = (index, sign)
                    order.append(nxt)
        return cls(grid.root, parent, parent_line, depth, tuple(order))

    def hops(self, a: str, b: str) -> int:
        """Number of lines between two buses on the tree."""
        count = 0
        while a != b:
            if self.depth[a] >= self.depth[b]:
                a = self.parent[a]
            else:
                b = self.parent[b]
            count += 1
        return count

    def line_flows(self, injection_kwh: Mapping[str, float], line_count: int) -> list[float]:
        """Flow on each line (kWh, file orientation) implied by net bus injections.

        On a tree the flow into a subtree equals what the subtree withdraws, so flows are
        unique; injections must sum to zero (the root's includes grid import - export).
        """
        subtree = {bus: injection_kwh.get(bus, 0.0) for bus in self.order}
        flows = [0.0] * line_count
        for bus in reversed(self.order[1:]):
            index, sign = self.parent_line[bus]
            # Energy leaving the subtree towards the parent is its surplus.
            flows[index] = -sign * subtree[bus]
            subtree[self.parent[bus]] += subtree[bus]
        return flows
