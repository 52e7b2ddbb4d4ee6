"""The thermostat simulator: seeded, the device's cadence and value ranges, and a room that behaves as
its docstring says (a schedule, quiet occupants, noisy empty hours, HVAC by the set points)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from workshop.datasets import thermostat


@pytest.fixture(scope="module")
def readings():
    return thermostat.simulate()


@pytest.fixture(scope="module")
def local(readings):
    zone = timezone(timedelta(hours=thermostat.UTC_OFFSET_HOURS))
    moments = [datetime.fromtimestamp(t, zone) for t in readings["timestamp"]]
    return np.array([m.hour for m in moments]), np.array([m.weekday() for m in moments])


def test_same_seed_same_rows_and_another_seed_other_rows(readings):
    assert readings.equals(thermostat.simulate())
    assert not readings["sound"].equals(thermostat.simulate(seed=thermostat.SEED + 1)["sound"])


def test_three_weeks_at_the_devices_ten_second_cadence_from_a_monday(readings):
    assert len(readings) == 21 * 8640
    assert set(np.diff(readings["timestamp"])) == {10}
    zone = timezone(timedelta(hours=thermostat.UTC_OFFSET_HOURS))
    assert datetime.fromtimestamp(readings["timestamp"].iloc[0], zone) == datetime(2026, 11, 2, tzinfo=zone)
    assert list(readings.columns) == ["timestamp", "sound", "temperature", "hvacStatus", "people", "occupied"]


def test_values_lie_where_the_device_reports_them(readings):
    assert readings["sound"].between(0, 255).all() and readings["sound"].dtype.kind == "i"
    assert readings["temperature"].between(55, 80).all()
    assert (readings["temperature"] * 10).round().eq(readings["temperature"] * 10).all()  # one decimal
    assert set(readings["hvacStatus"]) <= set(thermostat.HVAC_STATES)
    assert (readings["occupied"] == (readings["people"] > 0)).all()


def test_people_keep_office_hours_and_weekends_are_mostly_empty(readings, local):
    hours, weekdays = local
    occupied = readings["occupied"].to_numpy()
    working = (weekdays < 5) & (hours >= 10) & (hours < 12)
    night = (hours >= 23) | (hours < 6)
    assert occupied[working].mean() > 0.8
    assert occupied[night].mean() == 0
    assert occupied[weekdays >= 5].mean() < 0.1
    assert 0.2 < occupied.mean() < 0.45


def test_the_sound_rule_misses_quiet_occupants_and_is_fooled_by_empty_noise(readings):
    occupied, loud = readings["occupied"].to_numpy(), readings["sound"].to_numpy() > 10
    assert (~loud[occupied]).mean() > 0.4      # occupied, yet quiet in many 10 s windows
    assert loud[occupied].mean() > 0.3         # but people do make noise
    assert loud[~occupied].sum() > 1000        # the fan and the corridor, with nobody in


def test_the_hvac_keeps_the_bands_and_reacts_to_them(readings, local):
    hours, weekdays = local
    temperature, hvac = readings["temperature"].to_numpy(), readings["hvacStatus"].to_numpy()
    comfort = (weekdays < 5) & (hours >= 10) & (hours < 19)  # the morning warm-up is over by 10:00
    assert temperature[comfort].min() > 66.5 and temperature[comfort].max() < 73.5
    assert temperature[~comfort & (hours >= 1) & (hours < 6)].max() < 66
    night = ~comfort & (hours >= 1) & (hours < 6)
    assert 0.1 < (hvac[night] == "HEATING").mean() < 0.9   # holds the 60 °F set point overnight
    assert temperature[hvac == "HEATING"].max() < 70.5      # heats up to 1 °F inside the band (69 °F) at most
    assert temperature[hvac == "COOLING"].min() > 69.5      # cools down to 1 °F inside the band (71 °F) at most
    # Heat from people: in office hours an occupied room is warmer than an empty one.
    occupied = readings["occupied"].to_numpy()
    assert temperature[comfort & occupied].mean() > temperature[comfort & ~occupied].mean() + 0.3


def test_the_shadow_update_is_the_devices_reported_state():
    row = thermostat.simulate(days=1).iloc[5000]
    assert thermostat.shadow_update(row) == {"state": {"reported": {
        "sound": int(row["sound"]), "temperature": float(row["temperature"]), "hvacStatus": row["hvacStatus"],
        "timestamp": int(row["timestamp"])}}}


def test_fewer_than_one_day_is_refused():
    with pytest.raises(ValueError, match="days must be at least 1"):
        thermostat.simulate(days=0)
