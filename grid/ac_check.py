"""The AC check: pandapower's Newton-Raphson power flow on a grid and its injections.

What the market decided is linear (LinDistFlow); what the cables carry is not. This
module runs the full AC power flow and reports what a DSO looks at: every bus voltage,
every line's and the transformer's loading (current against its rating), the losses, the
violations of each bus's band and of 100 % loading, and, given the voltages LinDistFlow
predicted, its error against AC (signed: a LinDistFlow below AC would have let the market
allow an over-voltage it did not see).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandapower as pp
from pandapower.pypower.idx_bus import VA, VM

from voisin.errors import InvalidInput
from voisin.grid.injections import Injections
from voisin.grid.pandapower_net import pandapower_net, set_injections
from voisin.protocol import Grid

MAX_LOADING_PERCENT = 100.0
BELOW_AC_TOLERANCE_PU = 1e-8
"""LinDistFlow counts as below AC only by more than the AC solution's own precision
(pandapower's Newton-Raphson stops at a mismatch of 1e-8 MVA; a 1.2e-9 pu gap was seen
on a 4 kW two-bus feeder)."""


@dataclass(frozen=True)
class Violation:
    """One limit broken in the AC solution. ``kind`` is ``voltage-low``, ``voltage-high``,
    ``line-overload`` or ``transformer-overload``; ``value`` and ``limit`` are in pu for
    voltages and in % for loadings."""

    kind: str
    element: str
    value: float
    limit: float


@dataclass(frozen=True)
class VoltageError:
    """LinDistFlow's voltages against AC, over all buses (pu)."""

    max_abs_pu: float
    above_pu: float
    """Largest LinDistFlow - AC (>= 0 when LinDistFlow was anywhere above AC)."""
    below_pu: float
    """Largest AC - LinDistFlow (> 0 when LinDistFlow was anywhere below AC)."""
    worst_bus: str

    @property
    def below_ac(self) -> bool:
        """Whether LinDistFlow was ever below AC (an over-voltage it could have missed)."""
        return self.below_pu > BELOW_AC_TOLERANCE_PU


@dataclass(frozen=True)
class AcCheck:
    """The AC solution of one state. Loadings are in the grid's line order; the
    transformer's is None when the root is the slack itself."""

    vm_pu: Mapping[str, float]
    line_loading_percent: tuple[float, ...]
    transformer_loading_percent: float | None
    losses_kw: float
    import_p_kw: float
    """Active power drawn from the upstream grid (negative: export)."""
    violations: tuple[Violation, ...]
    voltage_error: VoltageError | None

    @property
    def min_vm_pu(self) -> float:
        return min(self.vm_pu.values())

    @property
    def max_vm_pu(self) -> float:
        return max(self.vm_pu.values())

    @property
    def max_line_loading_percent(self) -> float:
        return max(self.line_loading_percent, default=0.0)


def voltage_error(
    predicted_vm_pu: Mapping[str, float], ac_vm_pu: Mapping[str, float]
) -> VoltageError:
    """Signed error of predicted against AC voltages, on the buses both know."""
    missing = sorted(set(ac_vm_pu) - set(predicted_vm_pu))
    if missing:
        raise InvalidInput(f"no predicted voltage for bus {missing[0]!r}", code="bad-prediction")
    diff = {bus: predicted_vm_pu[bus] - vm for bus, vm in ac_vm_pu.items()}
    worst = max(diff, key=lambda bus: (abs(diff[bus]), bus))
    return VoltageError(
        max_abs_pu=abs(diff[worst]),
        above_pu=max(diff.values()),
        below_pu=0.0 - min(diff.values()),
        worst_bus=worst,
    )


_RUN = {"algorithm": "nr", "init": "flat", "max_iteration": 30, "numba": False}
_RECYCLE = {"bus_pq": True, "trafo": False, "gen": False}
"""Between states of one grid only the loads' and generators' P and Q change."""


class AcModel:
    """One grid's pandapower network, built once and re-run for every state checked.

    The first state runs pandapower's whole power flow; every later one reuses its
    internal case and admittance matrix (pandapower's ``recycle``: only the buses' P and
    Q are set again), which was two thirds of a run. ``recycle`` would start Newton-
    Raphson from the last state's voltages; each run is put back to the flat start
    first (1 pu, 0 degrees at every bus; the slack from its external grid, as
    ``init="flat"`` does), so each state's result is exactly, bit for bit, what a fresh
    run gives (``tests/grid``), whatever was checked before it.
    """

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.net = pandapower_net(grid)
        self._recycled = False

    def _run(self) -> None:
        net = self.net
        if not self._recycled:
            pp.runpp(net, **_RUN)
            self._recycled = True
            return
        self._recycled = False  # until this run has converged
        bus = net._ppc["bus"]
        bus[:, VM] = 1.0
        bus[:, VA] = 0.0
        pp.runpp(net, **_RUN, recycle=_RECYCLE)
        if not net._ppc["success"]:
            raise pp.LoadflowNotConverged("Power Flow nr did not converge")
        self._recycled = True

    def check(
        self, injections: Injections, predicted_vm_pu: Mapping[str, float] | None = None
    ) -> AcCheck:
        """Run the AC power flow under ``injections`` (kW/kvar, positive into the grid)."""
        grid, net = self.grid, self.net
        set_injections(net, grid, injections)
        try:
            self._run()
        except pp.LoadflowNotConverged as exc:
            raise InvalidInput(
                "the AC power flow did not converge (injections beyond what the feeder can carry)",
                code="ac-diverged",
            ) from exc
        except FloatingPointError as exc:  # numpy raising on a degenerate impedance
            raise InvalidInput(
                f"the AC power flow failed numerically ({exc}): check the line impedances",
                code="ac-diverged",
            ) from exc
        count = len(grid.buses)
        vm = {
            bus: float(v) for bus, v in zip(grid.buses, net.res_bus.vm_pu.iloc[:count], strict=True)
        }
        lines = tuple(float(x) for x in net.res_line.loading_percent)
        trafo = None if grid.transformer is None else float(net.res_trafo.loading_percent.iloc[0])
        losses_mw = float(net.res_line.pl_mw.sum()) + float(net.res_trafo.pl_mw.sum())
        return AcCheck(
            vm_pu=vm,
            line_loading_percent=lines,
            transformer_loading_percent=trafo,
            losses_kw=losses_mw * 1000.0,
            import_p_kw=float(net.res_ext_grid.p_mw.iloc[0]) * 1000.0,
            violations=self._violations(vm, lines, trafo),
            voltage_error=None if predicted_vm_pu is None else voltage_error(predicted_vm_pu, vm),
        )

    def _violations(
        self, vm: Mapping[str, float], lines: tuple[float, ...], trafo: float | None
    ) -> tuple[Violation, ...]:
        found: list[Violation] = []
        for bus, v in vm.items():
            low, high = self.grid.band_pu(bus)
            if v < low:
                found.append(Violation("voltage-low", bus, v, low))
            elif v > high:
                found.append(Violation("voltage-high", bus, v, high))
        for line, loading in zip(self.grid.lines, lines, strict=True):
            if loading > MAX_LOADING_PERCENT:
                found.append(
                    Violation(
                        "line-overload",
                        f"{line.from_bus}-{line.to_bus}",
                        loading,
                        MAX_LOADING_PERCENT,
                    )
                )
        if trafo is not None and trafo > MAX_LOADING_PERCENT:
            found.append(
                Violation("transformer-overload", "transformer", trafo, MAX_LOADING_PERCENT)
            )
        return tuple(found)


def ac_check(
    grid: Grid, injections: Injections, predicted_vm_pu: Mapping[str, float] | None = None
) -> AcCheck:
    """The AC check of one state (builds the network; reuse ``AcModel`` for many)."""
    return AcModel(grid).check(injections, predicted_vm_pu)
