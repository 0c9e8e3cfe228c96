"""A scenario tariff's own charges on local energy, and what a registration records of
them: only a charge other than the community's, so a uniform community's records (and
ledgers) keep their bytes."""

from __future__ import annotations

import pytest

from voisin.agents.network_tariffs import PRESETS
from voisin.agents.scenario_file import NetworkTable, TariffTable
from voisin.protocol import Registration, Tariff, canonical_bytes, own_charges

FR = NetworkTable(preset="fr-acc").charges()


def _table(**given: object) -> TariffTable:
    return TariffTable(import_eur_per_kwh=0.40, export_eur_per_kwh=0.08, **given)  # type: ignore[arg-type]


def test_a_tariff_without_charges_owes_the_communitys() -> None:
    assert _table().tariff(FR).local_charge_eur_per_kwh is None


def test_a_preset_equal_to_the_communitys_records_nothing() -> None:
    assert _table(network="fr-acc").tariff(FR).local_charge_eur_per_kwh is None


def test_a_preset_of_its_own_and_figures_over_it() -> None:
    """``network`` names the preset; each figure given overrides its part of it."""
    sharing = PRESETS["de-sharing"].local_charge_eur_per_kwh
    assert _table(network="de-sharing").tariff(FR).local_charge_eur_per_kwh == sharing
    lower = _table(network="de-sharing", levies_eur_per_kwh=0.0).tariff(FR)
    assert lower.local_charge_eur_per_kwh == PRESETS["de-sharing"].local_network_eur_per_kwh
    # figures alone override the community's parts: 0.036 network + 0.01 levies
    assert _table(levies_eur_per_kwh=0.01).tariff(FR).local_charge_eur_per_kwh == 0.046


def test_a_feed_in_above_retail_is_refused() -> None:
    with pytest.raises(ValueError, match="feed-in tariff above"):
        TariffTable(import_eur_per_kwh=0.05, export_eur_per_kwh=0.08)


def test_the_registration_bytes_carry_a_charge_only_when_named() -> None:
    plain = Registration(
        participant_id="ab" * 32,
        bus="R",
        tariff=Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08),
    )
    assert canonical_bytes(plain.model_dump(mode="json")) == (
        b'{"bus":"R","meter_id":"","participant_id":"' + b"ab" * 32 + b'",'
        b'"tariff":{"export_eur_per_kwh":0.08,"import_eur_per_kwh":0.28}}'
    )
    named = plain.model_copy(
        update={
            "tariff": Tariff(
                import_eur_per_kwh=0.28, export_eur_per_kwh=0.08, local_charge_eur_per_kwh=0.0
            )
        }
    )
    dumped = named.model_dump(mode="json")
    assert dumped["tariff"]["local_charge_eur_per_kwh"] == 0.0  # a charge of 0 is a charge
    assert Registration.model_validate(dumped) == named
    assert own_charges([named]) == {"ab" * 32: 0.0}
    assert own_charges([plain]) == {}
    assert named.tariff.local_charge_or(0.072) == 0.0
    assert plain.tariff.local_charge_or(0.072) == 0.072


def test_a_tariffs_fixed_part_is_its_own_or_its_presets() -> None:
    """The fixed part per day follows the same rule as the charges: the tariff's figure,
    else its preset's, else the community's."""
    assert _table().charges(FR).fixed_eur_per_day == PRESETS["fr-acc"].fixed_eur_per_day
    own_preset = _table(network="de-sharing").charges(FR)
    assert own_preset.fixed_eur_per_day == PRESETS["de-sharing"].fixed_eur_per_day
    assert _table(fixed_eur_per_day=1.2).charges(FR).fixed_eur_per_day == 1.2
    assert _table(fixed_eur_per_day=1.2).tariff(FR) == _table().tariff(FR)  # not registered
