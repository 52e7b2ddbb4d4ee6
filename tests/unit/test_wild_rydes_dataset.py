"""The Wild Rydes generator writes NOAA's layouts, its loaders read hand-made lines in those layouts,
and field service depends on the weather as documented."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from workshop.datasets import wild_rydes

MISSING = wild_rydes.MISSING

# Hand-made in the real layouts (readme.txt of GHCN-Daily): a .dly TMAX record of May 2019 with a
# value on day 1, a missing day 2, a quality-flagged ("I") day 3 and a value on day 4; then PRCP.
DLY = (
    "USW00094728201905TMAX  217  0-9999     261 IW  189  W" + "-9999   " * 27 + "\n"
    "USW00094728201905PRCP    3  W    0  W    0  W  104  W" + "-9999   " * 27 + "\n"
)
BY_STATION_CSV = """USW00094728,20190501,TMAX,217,,,0,2400
USW00094728,20190501,TMIN,128,,,0,2400
USW00094728,20190501,PRCP,3,,,W,2400
USW00094728,20190502,TMAX,261,,I,0,2400
USW00094728,20190502,TMIN,-9999,,,0,2400
USW00094728,20190502,SNOW,0,,,W,2400
"""
STATIONS = (
    "USW00094728  40.7789  -73.9692   42.7 NY NEW YORK CNTRL PK TWR              HCN 72506\n"
    "USW00014734  40.6825  -74.1694    2.1 NJ NEWARK LIBERTY INTL AP                 72502\n"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return wild_rydes.generate(tmp_path_factory.mktemp("wild-rydes"))


def test_dly_lines_in_the_real_layout_are_read_without_missing_or_flagged_values():
    weather = wild_rydes.parse_dly(DLY)
    assert list(weather.columns) == ["station", "date", "TMAX", "TMIN", "PRCP"]
    assert weather.date.tolist() == [date(2019, 5, day) for day in (1, 2, 3, 4)]
    assert weather.TMAX.fillna(MISSING).tolist() == [217, MISSING, MISSING, 189]  # day 3 is flagged
    assert weather.PRCP.tolist() == [3, 0, 0, 104]
    assert weather.TMIN.isna().all()


def test_by_station_csv_in_the_real_layout_is_read():
    weather = wild_rydes.parse_by_station_csv(BY_STATION_CSV)
    assert weather.date.tolist() == [date(2019, 5, 1)]  # day 2: TMAX flagged, TMIN missing, SNOW not asked for
    assert weather.iloc[0][["TMAX", "TMIN", "PRCP"]].tolist() == [217, 128, 3]


def test_station_lines_in_the_real_layout_are_read():
    stations = wild_rydes.parse_stations(STATIONS)
    assert [(s.id, s.latitude, s.longitude, s.state, s.name, s.wmo) for s in stations] == [
        ("USW00094728", 40.7789, -73.9692, "NY", "NEW YORK CNTRL PK TWR", "72506"),
        ("USW00014734", 40.6825, -74.1694, "NJ", "NEWARK LIBERTY INTL AP", "72502")]


def test_haversine_distance():
    assert wild_rydes.haversine_km(0, 0, 0, 1) == pytest.approx(111.195, abs=1e-3)
    assert wild_rydes.haversine_km(0, 0, 90, 0) == pytest.approx(6371 * np.pi / 2)
    assert wild_rydes.haversine_km(40.7789, -73.9692, 40.7789, -73.9692) == 0


def test_generated_files_are_in_the_layouts_the_loaders_read(generated):
    assert len(generated.ride_files) == wild_rydes.DAYS
    assert generated.rides == wild_rydes.DAYS * wild_rydes.RIDES_PER_DAY
    first = json.loads(generated.ride_files[0].read_text().splitlines()[0])
    assert list(first) == ["name", "statustime", "latitude", "longitude", "distance", "healthpoints",
                           "magicpoints", "fieldservice"]
    for line in generated.dly_files[0].read_text().splitlines():
        assert len(line) == 21 + 31 * 8
    stations = wild_rydes.load_stations(generated.stations_file)
    assert [s.id for s in stations] == [s.id for s in wild_rydes.STATIONS]
    weather = pd.concat([wild_rydes.load_dly(path) for path in generated.dly_files])
    assert len(weather) == 4 * wild_rydes.DAYS and not weather[list(wild_rydes.ELEMENTS)].isna().any().any()
    assert (weather.TMIN < weather.TMAX).all()


def test_the_same_seed_writes_the_same_bytes(generated, tmp_path):
    again = wild_rydes.generate(tmp_path)
    for ours, theirs in zip(generated.ride_files + generated.dly_files, again.ride_files + again.dly_files, strict=True):
        assert ours.read_bytes() == theirs.read_bytes()


def test_field_service_is_commoner_after_long_rides_and_on_bad_weather_days(generated):
    rides = wild_rydes.load_rides(generated.ride_files)
    rides["date"] = pd.to_datetime(rides.statustime).dt.date
    weather = pd.concat([wild_rydes.load_dly(path) for path in generated.dly_files])
    daily = weather.groupby("date")[["TMIN", "TMAX", "PRCP"]].mean()
    rides = rides.join(daily, on="date")
    assert 0.1 < rides.fieldservice.mean() < 0.4
    long_rides = rides.distance > rides.distance.median()
    assert rides[long_rides].fieldservice.mean() > rides[~long_rides].fieldservice.mean() + 0.05
    bad = (rides.TMIN < 50) | (rides.TMAX > 280) | (rides.PRCP > 20)
    assert rides[bad].fieldservice.mean() > rides[~bad].fieldservice.mean() + 0.1
    # the weather also drains magic: less is left per mile on bad days
    per_mile = rides.magicpoints / rides.distance
    assert per_mile[bad & long_rides].median() < per_mile[~bad & long_rides].median()
