"""The simulated neighbourhood: scenarios, bidding strategies and the Mesa model."""

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
