"""Our numpy BDEW profiles against demandlib's own ElecSlp, and the holiday calendar."""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pytest

from voisin.meters import bdew_year_profile, public_holidays


@pytest.mark.parametrize("year", [2024, 2026])
def test_profiles_match_demandlib_elecslp(year: int) -> None:
    """Under pandas 2.3 demandlib's ElecSlp runs, but it sets a process-wide "error"
    warning filter; ``catch_warnings`` puts the filters back afterwards."""
    from demandlib.bdew import elec_slp

    before = list(warnings.filters)
    with warnings.catch_warnings():
        reference = elec_slp.ElecSlp(year, holidays=list(public_holidays(year, "FR")))
        frame = reference.get_profiles("h0_dyn", "g1")
    assert warnings.filters == before
    for column, profile in (("h0_dyn", "h0"), ("g1", "g1")):
        expected = frame[column].to_numpy()
        np.testing.assert_allclose(bdew_year_profile(year, profile), expected / expected.sum())


def test_year_profiles_sum_to_one_and_are_shared_read_only() -> None:
    profile = bdew_year_profile(2024, "h0")
    assert profile.size == 366 * 96
    assert profile.sum() == pytest.approx(1.0)
    assert bdew_year_profile(2024, "h0") is profile
    with pytest.raises(ValueError, match="read-only"):
        profile[0] = 1.0


@pytest.mark.parametrize(
    ("year", "easter_monday", "ascension", "whit_monday"),
    [
        (2019, date(2019, 4, 22), date(2019, 5, 30), date(2019, 6, 10)),
        (2024, date(2024, 4, 1), date(2024, 5, 9), date(2024, 5, 20)),
        (2026, date(2026, 4, 6), date(2026, 5, 14), date(2026, 5, 25)),
    ],
)
def test_french_movable_holidays(
    year: int, easter_monday: date, ascension: date, whit_monday: date
) -> None:
    days = public_holidays(year, "FR")
    assert len(days) == 11
    assert {easter_monday, ascension, whit_monday, date(year, 7, 14)} <= set(days)


def test_other_countries_and_regions_have_their_own_holidays() -> None:
    assert date(2026, 10, 3) in public_holidays(2026, "DE")
    assert date(2026, 1, 6) not in public_holidays(2026, "DE")
    assert date(2026, 1, 6) in public_holidays(2026, "DE", "BW")  # Epiphany, in some states
    sunday_like = bdew_year_profile(2026, "g1", "DE")[
        (date(2026, 10, 3) - date(2026, 1, 1)).days * 96 + 48
    ]
    assert (
        sunday_like
        < bdew_year_profile(2026, "g1", "FR")[(date(2026, 10, 3) - date(2026, 1, 1)).days * 96 + 48]
    )
