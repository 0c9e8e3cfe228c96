"""A city: many LV feeders under an MV network, cleared as a two-level market.

``clear_city`` clears one interval (``market``): every feeder's residual curve
(``residual``), the city's clearing of those curves under the MV limits, and each
feeder's re-clearing at its city price. ``docs/city.md`` says why it is exact. A run
(``run``) writes a signed ledger per feeder and one for the city (``ledgers``,
``level``), which ``verify`` and ``audit`` check.
"""

from voisin.city.feeders import CityFeeder, city_conditions, feeder_market, merged_city
from voisin.city.market import TwoLevelResult, clear_city
from voisin.city.residual import FeederMarket, ResidualCurve, residual_curve

__all__ = [
    "CityFeeder",
    "FeederMarket",
    "ResidualCurve",
    "TwoLevelResult",
    "city_conditions",
    "clear_city",
    "feeder_market",
    "merged_city",
    "residual_curve",
]
