"""Seeded weather: reproducible, calibrated on its reference year, forecasts that err."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from voisin.errors import InvalidInput
from voisin.meters.calibration import seasonal_yields
from voisin.meters.climate import climate
from voisin.meters.site import sample_times
from voisin.meters.weather import Weather, forecast_sigma
from voisin.protocol import day_intervals


def _times(day: date, days: int = 1):
    return sample_times(day_intervals(day, 15, days), 5)[0]


def test_reference_years_read_with_their_stations() -> None:
    mannheim, essen = climate("mannheim"), climate("essen")
    assert (round(mannheim.latitude, 2), round(mannheim.longitude, 2)) == (49.52, 8.55)
    assert (round(essen.latitude, 2), round(essen.longitude, 2)) == (51.4, 6.97)
    for source in (mannheim, essen):
        assert source.index.shape == (365, 24)
        assert np.all((source.index >= 0) & (source.index <= 1.2))
        assert np.all((source.diffuse_fraction >= 0) & (source.diffuse_fraction <= 1))
        assert source.temperature_c.min() < -5 < 30 < source.temperature_c.max()
    # The Rhine valley is sunnier than the Ruhr, and both are darker in winter.
    assert mannheim.daily_index.mean() > essen.daily_index.mean()
    with pytest.raises(InvalidInput, match="unknown climate"):
        climate("atlantis")


def test_same_seed_same_weather_and_a_day_does_not_depend_on_the_run() -> None:
    a = Weather("mannheim", 3, 4.84)
    times = _times(date(2026, 6, 20), 3)
    first = a.clear_sky_index(times)
    assert np.array_equal(first, Weather("mannheim", 3, 4.84).clear_sky_index(times))
    assert not np.array_equal(first, Weather("mannheim", 4, 4.84).clear_sky_index(times))
    alone = a.clear_sky_index(_times(date(2026, 6, 21)))
    assert np.array_equal(alone, first[288:576])
    assert np.all((first >= 0) & (first <= 1.2))


def test_consecutive_days_are_alike_more_often_than_chance() -> None:
    """The k-NN bootstrap keeps the reference year's day-to-day persistence."""
    weather = Weather("mannheim", 1, 8.55)
    source = weather.source.daily_index
    days = np.array(
        [
            weather.day_index(d)
            for d in __import__("pandas").date_range("2026-01-01", periods=365, freq="D")
        ]
    )
    ours = np.corrcoef(days[:-1], days[1:])[0, 1]
    shuffled = np.random.default_rng(0).permutation(days)
    assert ours > np.corrcoef(shuffled[:-1], shuffled[1:])[0, 1] + 0.1
    assert ours == pytest.approx(np.corrcoef(source[:-1], source[1:])[0, 1], abs=0.25)


@pytest.mark.slow
def test_monthly_yields_follow_the_reference_year() -> None:
    """Six seeded years at Mannheim against pvlib's ModelChain on the TRY itself: the
    annual yield within 4 %, each season within 10 %, the months in the same order."""
    table = seasonal_yields("mannheim", seeds=range(6))
    source, model = table.source_kwh_per_kwp, table.model_mean
    assert model.sum() == pytest.approx(source.sum(), rel=0.04)
    for months in ((11, 0, 1), (2, 3, 4), (5, 6, 7), (8, 9, 10)):
        idx = list(months)
        assert model[idx].sum() == pytest.approx(source[idx].sum(), rel=0.10)
    assert np.corrcoef(model, source)[0, 1] > 0.97
    assert source[5] > 3 * source[11]
    assert model[5] > 3 * model[11]


def test_forecast_error_grows_with_lead_time_and_misses_the_wiggle() -> None:
    weather = Weather("mannheim", 5, 8.55)
    times = _times(date(2026, 4, 1), 60)
    actual = weather.clear_sky_index(times)
    forecast, lead = weather.forecast_index(times)
    assert lead.min() >= 12
    assert lead.max() < 36
    daylight = weather.hourly_index(times) > 0  # every sample; night uses the day index
    early = daylight & (lead < 18)
    late = daylight & (lead >= 30)
    rmse = [float(np.sqrt(np.mean((forecast[m] - actual[m]) ** 2))) for m in (early, late)]
    assert rmse[0] < rmse[1]
    assert forecast_sigma(np.array([12.0, 36.0])).tolist() == pytest.approx([0.10, 0.20])
    assert not np.array_equal(forecast, actual)
