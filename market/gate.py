"""The gate: limits a bid must meet before it enters the book.

The protocol models already refuse malformed numbers (NaN, infinities, kWh <= 0); the
gate adds the market's own rules, each rejection carrying a code an agent can act on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from voisin.errors import InvalidInput
from voisin.protocol import BidView
from voisin.protocol.reading_checks import CONNECTION_MAX_KW


@dataclass(frozen=True)
class MarketRules:
    """Price floor and cap (EUR/kWh), the largest bid (kWh) the market accepts and the
    largest reading (kWh per interval and register).

    The floor is negative so a seller may pay to get rid of surplus it cannot curtail.
    ``curtailment_eur_per_kwh`` is what one kWh of curtailed inflexible supply costs in
    the clearing and is paid to its owner (None: the grid's export price, the feed-in
    the energy would have earned, as Germany's Redispatch 2.0, section 13a EnWG,
    compensates curtailed plants for the feed-in they lose). ``shedding_eur_per_kwh``
    is the value of lost load, the last resort that keeps an interval clearable when
    nothing else relieves an undervoltage or an overload. ``loss_passes`` is how many
    LPs a physical grid's interval takes: 1 is lossless LinDistFlow, each further pass
    linearises the losses around the flows of the one before. ``voltage_margin_pu``
    narrows every bus's band on both sides in the clearing, for what the linearisation
    does not see: with loss factors LinDistFlow's voltages were within 2e-4 pu of the AC
    power flow on SimBench feeders with much PV, sometimes below it (docs/clearing.md).
    """

    price_floor_eur_per_kwh: float = -0.5
    price_cap_eur_per_kwh: float = 1.0
    max_bid_kwh: float = 1000.0
    curtailment_eur_per_kwh: float | None = None
    shedding_eur_per_kwh: float = 3.0
    loss_passes: int = 2
    voltage_margin_pu: float = 0.0005
    meter_max_kwh: float = CONNECTION_MAX_KW * 0.25
    """The most any meter register may show per 15 minutes: the largest connection over
    15 minutes, in proportion for longer or shorter intervals (readings beyond it are
    refused as ``beyond-rating``; ``MeterBook.check``)."""

    def __post_init__(self) -> None:
        if not self.price_floor_eur_per_kwh < self.price_cap_eur_per_kwh:
            raise InvalidInput(
                "market rules: price floor must lie below the price cap", code="bad-rules"
            )
        if not self.max_bid_kwh > 0:
            raise InvalidInput("market rules: max_bid_kwh must be positive", code="bad-rules")
        if not 0 <= self.voltage_margin_pu < 0.05:
            raise InvalidInput(
                "market rules: voltage_margin_pu must be in [0, 0.05)", code="bad-rules"
            )
        if not 1 <= self.loss_passes <= 5:
            raise InvalidInput("market rules: loss_passes must be 1 to 5", code="bad-rules")
        if self.curtailment_eur_per_kwh is not None and not (
            0 <= self.curtailment_eur_per_kwh < self.shedding_eur_per_kwh
        ):
            raise InvalidInput(
                "market rules: curtailment price must be >= 0 and below the shedding price",
                code="bad-rules",
            )
        if not 0 < self.meter_max_kwh < float("inf"):
            raise InvalidInput(
                "market rules: meter_max_kwh must be positive and finite", code="bad-rules"
            )


DEFAULT_RULES = MarketRules()
RESERVED_ID_PREFIX = "!"
"""Bid ids the market derives from contracts (gift bids) start with this."""


def check_bid(
    bid: BidView,
    *,
    interval: str,
    known_buses: Collection[str],
    rules: MarketRules = DEFAULT_RULES,
) -> None:
    """Raise ``InvalidInput`` (with a specific code) if ``bid`` breaks a market rule.

    Codes: ``reserved-id``, ``wrong-interval``, ``unknown-bus``, ``price-out-of-range``,
    ``energy-out-of-range``.
    """
    if bid.bid_id.startswith(RESERVED_ID_PREFIX):
        raise InvalidInput(
            f"bid id {bid.bid_id!r}: ids starting with {RESERVED_ID_PREFIX!r} are made by "
            "contracts, not agents",
            code="reserved-id",
        )
    if bid.interval != interval:
        raise InvalidInput(
            f"bid {bid.bid_id!r} is for interval {bid.interval}, the open interval is {interval}",
            code="wrong-interval",
        )
    if bid.bus not in known_buses:
        raise InvalidInput(f"bid {bid.bid_id!r} names unknown bus {bid.bus!r}", code="unknown-bus")
    floor, cap = rules.price_floor_eur_per_kwh, rules.price_cap_eur_per_kwh
    for number, segment in enumerate(bid.segments, start=1):
        price = segment.price_eur_per_kwh
        if not floor <= price <= cap:
            raise InvalidInput(
                f"bid {bid.bid_id!r} segment {number}: price {price} EUR/kWh is outside "
                f"[{floor}, {cap}]",
                code="price-out-of-range",
            )
    if bid.energy_kwh > rules.max_bid_kwh:
        raise InvalidInput(
            f"bid {bid.bid_id!r}: {bid.energy_kwh} kWh exceeds the limit of "
            f"{rules.max_bid_kwh} kWh per bid",
            code="energy-out-of-range",
        )
