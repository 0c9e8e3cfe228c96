"""A voisin physical grid as a pandapower network, for the AC power flow.

The layout is fixed so results map back without lookups: pandapower bus ``i`` is
``grid.buses[i]`` (at ``grid.vn_kv``), line ``i`` is ``grid.lines[i]`` (same
orientation), and each bus ``i`` has load ``i`` and static generator ``i`` that carry its
net injection. With a transformer, one more bus (index ``len(grid.buses)``) is its HV side
at ``vn_hv_kv``, where the ext_grid holds ``slack_vm_pu``; without one, the ext_grid sits
at the root.

The transformer has no magnetising branch (the model has no no-load losses, pfe = i0 = 0)
and no phase shift (the angle does not change any magnitude of a radial feeder). Its tap
is a pure shift of the no-load LV voltage by ``tap_percent``, the convention of
``Transformer``: it is put on the HV winding with the ratio that gives exactly
``1 + tap_percent/100`` on the LV side, so the series impedance stays
``Transformer.impedance_ohm()`` on the LV side, as LinDistFlow uses it.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp

from voisin.errors import InvalidInput
from voisin.grid.injections import Injections, checked_injections, require_physical
from voisin.protocol import Grid


def pandapower_net(grid: Grid, injections: Injections | None = None) -> pp.pandapowerNet:
    """The pandapower network of physical ``grid``, loaded with ``injections`` (kW/kvar)."""
    require_physical(grid, "the AC power flow")
    net = pp.create_empty_network(name="voisin grid")
    for bus in grid.buses:
        pp.create_bus(net, vn_kv=grid.vn_kv, name=bus)
    index = {bus: i for i, bus in enumerate(grid.buses)}
    for line in grid.lines:
        if line.r_ohm == 0.0 and line.x_ohm == 0.0:
            raise InvalidInput(
                f"line {line.from_bus}-{line.to_bus} has no impedance; the AC "
                "power flow needs r or x above zero",
                code="zero-impedance",
            )
        length = float(line.length_km or 0.0)
        pp.create_line_from_parameters(
            net,
            index[line.from_bus],
            index[line.to_bus],
            length_km=length,
            r_ohm_per_km=line.r_ohm / length,
            x_ohm_per_km=line.x_ohm / length,
            c_nf_per_km=line.c_nf / length,
            max_i_ka=line.rated_i_ka,
            name=f"{line.from_bus}-{line.to_bus}",
        )
    trafo = grid.transformer
    if trafo is None:
        pp.create_ext_grid(net, index[grid.root], vm_pu=grid.slack_vm_pu, name="upstream")
    else:
        hv = pp.create_bus(net, vn_kv=trafo.rated("vn_hv_kv"), name=f"{grid.root} (HV side)")
        pp.create_ext_grid(net, hv, vm_pu=grid.slack_vm_pu, name="upstream")
        # LV no-load voltage = slack / (1 + t_hv) = slack * (1 + tap/100).
        t_hv_percent = 100.0 * (1.0 / (1.0 + trafo.tap_percent / 100.0) - 1.0)
        pp.create_transformer_from_parameters(
            net,
            hv,
            index[grid.root],
            sn_mva=trafo.rated("sn_kva") / 1000.0,
            vn_hv_kv=trafo.rated("vn_hv_kv"),
            vn_lv_kv=trafo.rated("vn_lv_kv"),
            vkr_percent=trafo.rated("vkr_percent"),
            vk_percent=trafo.rated("vk_percent"),
            pfe_kw=0.0,
            i0_percent=0.0,
            shift_degree=0.0,
            tap_side="hv",
            tap_neutral=0,
            tap_min=-1,
            tap_max=1,
            tap_pos=float(np.sign(t_hv_percent)),
            tap_step_percent=abs(t_hv_percent),
            tap_changer_type="Ratio",
            name="transformer",
        )
    zeros = [0.0] * len(grid.buses)
    pp.create_loads(
        net,
        list(range(len(grid.buses))),
        p_mw=zeros,
        q_mvar=zeros,
        name=[f"withdrawal {b}" for b in grid.buses],
    )
    pp.create_sgens(
        net,
        list(range(len(grid.buses))),
        p_mw=zeros,
        q_mvar=zeros,
        name=[f"injection {b}" for b in grid.buses],
    )
    set_injections(net, grid, injections or {})
    return net


def set_injections(net: pp.pandapowerNet, grid: Grid, injections: Injections) -> None:
    """Load ``net`` (built by ``pandapower_net`` for ``grid``) with net bus injections.

    An exporting bus (p >= 0) is its static generator, a withdrawing bus its load; the
    reactive part goes with the active one, sign kept, so each pair carries exactly the
    bus's (p_kw, q_kvar).
    """
    balance = checked_injections(grid, injections)
    pq = np.array([balance[bus] for bus in grid.buses], dtype=float).reshape(-1, 2) / 1000.0
    exporting = pq[:, 0] >= 0.0
    net.sgen["p_mw"] = np.where(exporting, pq[:, 0], 0.0)
    net.sgen["q_mvar"] = np.where(exporting, pq[:, 1], 0.0)
    net.load["p_mw"] = np.where(exporting, 0.0, -pq[:, 0])
    net.load["q_mvar"] = np.where(exporting, 0.0, -pq[:, 1])
