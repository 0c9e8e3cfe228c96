"""What a clearing predicts the feeder will do: voltages, flows, loadings, losses.

Published with every interval cleared on a physical grid (``ClearingResult.physics``)
so that the AC check (``voisin grid check``) and anyone holding the ledger can compare
the market's linearised prediction with a full power flow. Units: kW and kvar are the
interval's average power; voltages per unit; loadings in percent of the thermal
rating at nominal voltage.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class GridState(BaseModel):
    """The predicted state of a physical feeder for one cleared interval.

    ``injection_kw``/``injection_kvar`` are each bus's net injection from everything
    connected there (cleared and uncleared inflexible energy, flexible bids that
    cleared, the base forecast, minus curtailment): the input an AC power flow needs.
    Line flows are in file orientation (``from`` -> ``to``); the transformer's flow runs
    from the upstream grid into the root. ``binding`` names every constraint at its
    limit, e.g. ``"voltage max A4"``, ``"thermal A3-A4"``, ``"transformer"``.
    """

    model_config = ConfigDict(frozen=True)

    voltage_pu: dict[str, float]
    injection_kw: dict[str, float]
    injection_kvar: dict[str, float]
    line_p_kw: tuple[float, ...]
    line_q_kvar: tuple[float, ...]
    line_loading_pct: tuple[float, ...]
    transformer_p_kw: float
    transformer_q_kvar: float
    transformer_loading_pct: float
    losses_kw: float
    binding: tuple[str, ...] = ()
