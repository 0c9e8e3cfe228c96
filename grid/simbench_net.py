"""Reading a SimBench pandapower net: which LV part is supplied, and its transformer.

The rules (switches, out-of-service elements, the tap) are stated in simbench_grids.py;
this module applies them to the net's tables. simbench itself is imported only here and
only when asked for, since it is an extra (a 91 MB wheel of grid data).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from voisin.errors import InvalidInput


def simbench_module() -> ModuleType:
    """The simbench package, or a one-line InvalidInput saying how to install it."""
    try:
        import simbench
    except ImportError as exc:
        raise InvalidInput(
            "SimBench grids need the simbench package: install voisin[simbench]",
            code="missing-simbench",
        ) from exc
    return simbench  # type: ignore[no-any-return]  # an untyped module


@cache
def _loaded_net(code: str, simbench: ModuleType) -> Any:
    return simbench.get_simbench_net(code)


def simbench_net(code: str) -> Any:
    """SimBench's pandapower net ``code``, read from the package's CSV files once per
    process (about 3.5 s each) and handed out as a copy (about 15 ms), since callers run
    power flows on it and write its result tables."""
    return copy.deepcopy(_loaded_net(code, simbench_module()))


@dataclass(frozen=True)
class LvTopology:
    """The LV buses supplied from the transformer (root first) and the lines between them
    that carry current (pandapower indices), with the buses left unsupplied."""

    trafo: int
    root: int
    buses: tuple[int, ...]
    lines: tuple[int, ...]
    name_of: dict[int, str]
    dropped_buses: tuple[str, ...]

    @property
    def bus_names(self) -> tuple[str, ...]:
        return tuple(self.name_of[b] for b in self.buses)


def _open(net: Any, kind: str) -> set[int]:
    """Elements of ``kind`` ('l' line, 't' transformer) behind an open switch."""
    sw = net.switch
    return {int(e) for e in sw.element[(sw.et == kind) & ~sw.closed.astype(bool)]}


def lv_topology(net: Any) -> LvTopology:
    """Walk the in-service lines from the one live transformer's LV bus."""
    sw = net.switch
    if bool(((sw.et == "b") & sw.closed.astype(bool)).any()):
        raise InvalidInput(
            "closed bus-bus switches are not supported (no SimBench LV grid has one)",
            code="bad-grid",
        )
    trafos = [
        int(t)
        for t in net.trafo.index[net.trafo.in_service.astype(bool)]
        if int(t) not in _open(net, "t")
    ]
    if len(trafos) != 1:
        raise InvalidInput(
            f"an LV feeder needs exactly one transformer in service, this net has {len(trafos)}",
            code="bad-grid",
        )
    trafo = trafos[0]
    root = int(net.trafo.lv_bus[trafo])
    live_bus = set(int(b) for b in net.bus.index[net.bus.in_service.astype(bool)])
    open_lines = _open(net, "l")
    lines = [
        int(i) for i in net.line.index[net.line.in_service.astype(bool)] if int(i) not in open_lines
    ]
    ends = {i: (int(net.line.from_bus[i]), int(net.line.to_bus[i])) for i in lines}
    lines = [i for i in lines if set(ends[i]) <= live_bus]
    adjacency: dict[int, list[int]] = {}
    for i in lines:
        a, b = ends[i]
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, []).append(a)
    supplied = {root}
    stack = [root]
    while stack:
        for nxt in adjacency.get(stack.pop(), []):
            if nxt not in supplied:
                supplied.add(nxt)
                stack.append(nxt)
    lv_kv = float(net.bus.vn_kv[root])
    lv_all = [int(b) for b in net.bus.index if math.isclose(float(net.bus.vn_kv[b]), lv_kv)]
    order = [root] + sorted(supplied - {root})
    return LvTopology(
        trafo=trafo,
        root=root,
        buses=tuple(order),
        lines=tuple(i for i in lines if ends[i][0] in supplied),
        name_of={b: str(net.bus.name[b]) for b in order},
        dropped_buses=tuple(str(net.bus.name[b]) for b in lv_all if b not in supplied),
    )


def transformer_data(net: Any, trafo: int) -> dict[str, float]:
    """The voisin ``Transformer`` fields of SimBench transformer ``trafo``, plus its
    no-load losses (``pfe_kw``, ``i0_percent``) for the record.

    The tap: ``d = (tap_pos - tap_neutral) * tap_step_percent`` on the HV winding lowers
    the LV no-load voltage to ``1 / (1 + d/100)``, which is ``tap_percent`` =
    ``100 (1 / (1 + d/100) - 1)``; on the LV winding it is ``d`` itself.
    """
    row = net.trafo.loc[trafo]
    steps = float(row.tap_pos) - float(row.tap_neutral)
    d = steps * float(row.tap_step_percent) / 100.0 if math.isfinite(steps) else 0.0
    if not math.isfinite(d):
        d = 0.0
    tap_percent = 100.0 * (1.0 / (1.0 + d) - 1.0) if row.tap_side == "hv" else 100.0 * d
    parallel = float(row.parallel)
    return {
        "sn_kva": float(row.sn_mva) * 1000.0 * parallel,
        "vn_hv_kv": float(row.vn_hv_kv),
        "vn_lv_kv": float(row.vn_lv_kv),
        "vk_percent": float(row.vk_percent),
        "vkr_percent": float(row.vkr_percent),
        "tap_percent": tap_percent,
        "pfe_kw": float(row.pfe_kw) * parallel,
        "i0_percent": float(row.i0_percent),
    }
