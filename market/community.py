"""What an operator serves: the feeder, the registered participants, the fund account
and its own signing key; from the demo neighbourhood or from a registry file."""

from __future__ import annotations

from dataclasses import dataclass

from voisin.agents import Scenario
from voisin.agents.registry import Registry
from voisin.errors import InvalidInput
from voisin.protocol import Grid, KeyPair, Participant


@dataclass(frozen=True)
class Community:
    grid: Grid
    participants: tuple[Participant, ...]
    fund: str
    operator: KeyPair

    @classmethod
    def of(cls, scenario: Scenario) -> Community:
        """The demo neighbourhood, whose operator key is derived from its seed."""
        if scenario.operator is None:
            raise InvalidInput("this scenario carries no operator key", code="no-operator-key")
        return cls(scenario.grid, scenario.participants, scenario.fund, scenario.operator)

    @classmethod
    def from_registry(cls, registry: Registry, operator: KeyPair) -> Community:
        """A registry's community, run with the operator key the registry names."""
        if registry.operator != operator.public_hex:
            raise InvalidInput(f"the registry names operator {registry.operator[:12]}, this "
                               f"key is {operator.public_hex[:12]}", code="wrong-operator-key")
        return cls(registry.grid, registry.participants, registry.fund, operator)
