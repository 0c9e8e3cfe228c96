"""The simulated neighbourhood: scenarios, bidding strategies and the Mesa model.

Each name is imported when first used (``voisin.lazy``): a process that needs only the
scenario does not import Mesa."""

from typing import TYPE_CHECKING

from voisin.lazy import lazy_exports

if TYPE_CHECKING:
    from voisin.agents import strategies
    from voisin.agents.agents import Household, MemberAgent, Plan, School
    from voisin.agents.model import Neighbourhood
    from voisin.agents.scenario import Member, Scenario, default_grid, default_neighbourhood
    from voisin.agents.strategies import Strategy, Truthful, ZeroIntelligence

__all__ = [
    "Household",
    "Member",
    "MemberAgent",
    "Neighbourhood",
    "Plan",
    "Scenario",
    "School",
    "Strategy",
    "Truthful",
    "ZeroIntelligence",
    "default_grid",
    "default_neighbourhood",
    "strategies",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "strategies": "strategies",
        "Household": "agents",
        "MemberAgent": "agents",
        "Plan": "agents",
        "School": "agents",
        "Neighbourhood": "model",
        "Member": "scenario",
        "Scenario": "scenario",
        "default_grid": "scenario",
        "default_neighbourhood": "scenario",
        "Strategy": "strategies",
        "Truthful": "strategies",
        "ZeroIntelligence": "strategies",
    },
)
