"""What the network operator and the state charge on energy shared between neighbours.

Local trade does not escape the public network: in French collective self-consumption
(autoconsommation collective, Code de l'énergie L315-2) the consumer still pays the
network tariff TURPE on the energy it takes from its neighbours, at the reduced
"autoproduction" rate of its energy component, plus the excise duty on electricity;
in German energy sharing (EnWG §42c, from June 2026) network charges and levies are owed in
full. This module holds those charges as named presets (docs/economics.md gives their
sources): a per-kWh network charge and per-kWh levies on local energy, whose sum is
the grid's ``local_charge_eur_per_kwh`` (the one wedge the clearing knows), and a
fixed part per day that the connection costs with or without the market.

The figures are indicative (household connections, 2025, VAT included as households
pay it), to be replaced by the community's own in the scenario's ``[network]`` table.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from voisin.protocol.participants import MAX_PRICE_EUR_PER_KWH
from voisin.protocol.validation import NumbersOnly

PresetName = Literal["none", "fr-acc", "de-sharing"]
MAX_FIXED_EUR_PER_DAY = 1_000.0
"""The largest fixed part per connection and day a file may name: finite and far above
any real standing charge, like ``MAX_PRICE_EUR_PER_KWH`` for the per-kWh figures."""
ChargePerKwh = Annotated[float, Field(ge=0, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False)]
"""A per-kWh network charge or levy: EUR/kWh, 0 up to ``MAX_PRICE_EUR_PER_KWH``."""
FixedPerDay = Annotated[float, Field(ge=0, le=MAX_FIXED_EUR_PER_DAY, allow_inf_nan=False)]
"""A connection's fixed part: EUR per day, 0 up to ``MAX_FIXED_EUR_PER_DAY``."""


class NetworkCharges(NumbersOnly):
    """Charges on local (p2p) energy and the fixed part of each connection, bounded
    (``ChargePerKwh``, ``FixedPerDay``), their sum too."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    local_network_eur_per_kwh: ChargePerKwh = 0.0
    """The network charge on each kWh bought from a neighbour (the reduced local rate
    where there is one)."""
    levies_eur_per_kwh: ChargePerKwh = 0.0
    """Levies and per-kWh taxes owed on local energy (excise, surcharges)."""
    fixed_eur_per_day: FixedPerDay = 0.0
    """What each connection pays per day whatever it trades (metering, standing charge)."""

    @model_validator(mode="after")
    def _bounded_sum(self) -> NetworkCharges:
        self.check_sum()
        return self

    def check_sum(self) -> None:
        """``ValueError`` if the two per-kWh figures add up beyond the price bound (each
        is within it; a table's figures may be combined with a preset's)."""
        if self.local_charge_eur_per_kwh > MAX_PRICE_EUR_PER_KWH:
            raise ValueError(
                f"local_network_eur_per_kwh + levies_eur_per_kwh = "
                f"{self.local_charge_eur_per_kwh:g} EUR/kWh, above {MAX_PRICE_EUR_PER_KWH:g}"
            )

    @property
    def local_charge_eur_per_kwh(self) -> float:
        """The wedge between a local buyer's and its seller's price (``Grid``)."""
        return round(self.local_network_eur_per_kwh + self.levies_eur_per_kwh, 9)


PRESETS: dict[str, NetworkCharges] = {
    "none": NetworkCharges(),
    # TURPE 7 BT <= 36 kVA, energy component at the autoproduction rate (~0.03 EUR/kWh
    # against ~0.045 for energy from the grid), excise duty on electricity (accise,
    # ~0.03 EUR/kWh for households in 2025), VAT 20 % on both; the fixed part is the
    # TURPE management, metering and a 6 kVA subscription, about 0.35 EUR a day.
    "fr-acc": NetworkCharges(
        local_network_eur_per_kwh=0.036,
        levies_eur_per_kwh=0.036,
        fixed_eur_per_day=0.35,
    ),
    # Energy sharing under EnWG §42c: the full household network charge (~0.11 EUR/kWh
    # on average, BNetzA monitoring report 2024) and the per-kWh levies (electricity
    # tax 0.0205, concession fee ~0.0166, KWKG, offshore and §19 StromNEV surcharges
    # ~0.026), VAT 19 %; the fixed part is the network's base price and the metering.
    "de-sharing": NetworkCharges(
        local_network_eur_per_kwh=0.131,
        levies_eur_per_kwh=0.075,
        fixed_eur_per_day=0.30,
    ),
}
"""The named presets; ``docs/economics.md`` lists each figure's source."""
