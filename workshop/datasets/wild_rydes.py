"""Wild Rydes unicorn rides and the NOAA GHCN-Daily weather they ran in: a seeded generator, and
loaders for the real NOAA layouts.

    from workshop.datasets import wild_rydes
    data = wild_rydes.generate("/tmp/wild-rydes")      # rides/*.json, weather/*.dly, ghcnd-stations.txt
    stations = wild_rydes.load_stations("/tmp/wild-rydes/weather/ghcnd-stations.txt")
    weather = wild_rydes.load_dly("/tmp/wild-rydes/weather/USW00094728.dly")     # or load_by_station_csv

**Rides** are unicorn telemetry, one JSON object per line (JSON Lines, one file per day), with the
fields of the source workshop: ``name``, ``statustime`` (``YYYY-MM-DD HH:MM:SS``), ``latitude``,
``longitude``, ``distance`` (miles), ``healthpoints``, ``magicpoints`` (what is left at the end of
the ride) and ``fieldservice`` (1 if the unicorn needed field service after the ride).

**Weather** is written in GHCN-Daily's ``.dly`` layout, one file per station, for the elements
``TMAX``, ``TMIN`` (tenths of °C) and ``PRCP`` (tenths of mm), with ``ghcnd-stations.txt`` for the
stations (format reference: NOAA's ``readme.txt`` of GHCN-Daily,
https://www.ncei.noaa.gov/pub/data/ghcn/daily/readme.txt, sections III and IV). The four stations
are the real ones around New York City (Central Park, LaGuardia, JFK, Newark) with their real
coordinates; their values here are generated. :func:`load_dly` and :func:`load_by_station_csv`
read the real files too (``ghcnd_all/*.dly``; ``csv/by_station/<ID>.csv`` rows
``ID,YYYYMMDD,ELEMENT,VALUE,MFLAG,QFLAG,SFLAG,OBS-TIME``), dropping missing (-9999) and
quality-flagged values as NOAA advises.

**How field service depends on the ride and the weather.** Each ride starts with a reserve of magic
that the ride uses up per mile; cold (TMIN below 5 °C), heat (TMAX above 28 °C) and rain (PRCP
above 2 mm) make it run out faster. A unicorn needs field service more often after long rides, with
few health points, with little magic left, and on cold, hot and wet days (the weather wears on the
unicorn beyond the magic it costs). So the weather carries information the mileage alone does not.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 0
START = date(2019, 6, 3)
DAYS = 28
RIDES_PER_DAY = 100
ELEMENTS = ("TMAX", "TMIN", "PRCP")
MISSING = -9999
FEATURES = ("distance", "healthpoints", "magicpoints", "TMIN", "TMAX", "PRCP")
LABEL = "fieldservice"


@dataclass(frozen=True)
class Station:
    id: str
    latitude: float
    longitude: float
    elevation: float
    state: str
    name: str
    wmo: str


# Real GHCN-Daily stations (ghcnd-stations.txt) around the rides.
STATIONS = (
    Station("USW00094728", 40.7789, -73.9692, 42.7, "NY", "NEW YORK CNTRL PK TWR", "72506"),
    Station("USW00014732", 40.7794, -73.8803, 3.4, "NY", "NEW YORK LAGUARDIA AP", "72503"),
    Station("USW00094789", 40.6386, -73.7622, 3.4, "NY", "NEW YORK JFK INTL AP", "74486"),
    Station("USW00014734", 40.6825, -74.1694, 2.1, "NJ", "NEWARK LIBERTY INTL AP", "72502"),
)
UNICORNS = ("Shadowfax", "Rocinante", "Bucephalus", "Sparkles", "Stardust", "Moonbeam", "Thunderhoof", "Glitter",
            "Nimbus", "Pegasus", "Twilight", "Aurora", "Comet", "Marshmallow", "Rainbow Dash", "Celestia")


# -- weather -----------------------------------------------------------------------------------

def _weather(rng: np.random.Generator) -> pd.DataFrame:
    """Daily TMAX, TMIN, PRCP per station: a shared day-to-day pattern (spells of cold, heat and
    rain) plus local differences, in GHCN units (tenths of °C, tenths of mm)."""
    days = [START + timedelta(days=i) for i in range(DAYS)]
    # An AR(1) anomaly around an early-summer mean that warms by ~0.15 °C a day, with cold and hot spells.
    anomaly = np.zeros(DAYS)
    for i in range(1, DAYS):
        anomaly[i] = 0.8 * anomaly[i - 1] + rng.normal(0, 3.5)
    mean_max = 22.0 + 0.15 * np.arange(DAYS) + anomaly
    wet = rng.random(DAYS) < 0.3
    rain_mm = np.where(wet, rng.gamma(1.2, 8.0, DAYS), 0.0)
    rows = []
    for offset, station in enumerate(STATIONS):
        local = rng.normal(0, 0.8, DAYS) + (0.6 if station.id == "USW00094728" else -0.3 * offset)
        tmax = mean_max + local
        tmin = tmax - rng.uniform(6, 11, DAYS) - 1.5 * wet
        prcp = np.where(wet, rain_mm * rng.uniform(0.6, 1.4, DAYS), np.where(rng.random(DAYS) < 0.05, 0.3, 0.0))
        for day, high, low, rain in zip(days, tmax, tmin, prcp, strict=True):
            rows.append({"station": station.id, "date": day, "TMAX": int(round(high * 10)),
                         "TMIN": int(round(low * 10)), "PRCP": int(round(rain * 10))})
    return pd.DataFrame(rows)


def _dly_lines(station_id: str, weather: pd.DataFrame) -> list[str]:
    """``.dly`` records: one line per station, year, month and element; 31 day slots of
    VALUE (5) MFLAG (1) QFLAG (1) SFLAG (1), -9999 where there is no value."""
    lines = []
    frame = weather[weather.station == station_id]
    months = sorted({(d.year, d.month) for d in frame.date})
    for year, month in months:
        in_month = frame[[d.year == year and d.month == month for d in frame.date]]
        by_day = {row.date.day: row for _, row in in_month.iterrows()}
        for element in ELEMENTS:
            slots = []
            for day in range(1, 32):
                row = by_day.get(day)
                slots.append(f"{MISSING:5d}   " if row is None else f"{int(row[element]):5d}  W")
            lines.append(f"{station_id:<11}{year:04d}{month:02d}{element:<4}" + "".join(slots))
    return lines


def _station_line(station: Station) -> str:
    """A ``ghcnd-stations.txt`` line (columns 1-11 ID, 13-20 LATITUDE, 22-30 LONGITUDE,
    32-37 ELEVATION, 39-40 STATE, 42-71 NAME, 73-75 GSN FLAG, 77-79 HCN/CRN FLAG, 81-85 WMO ID)."""
    return (f"{station.id:<11} {station.latitude:8.4f} {station.longitude:9.4f} {station.elevation:6.1f} "
            f"{station.state:<2} {station.name:<30} {'':<3} {'':<3} {station.wmo:<5}").rstrip()


# -- rides -------------------------------------------------------------------------------------

def _rides(rng: np.random.Generator, weather: pd.DataFrame) -> list[dict]:
    lookup = {(row.station, row.date): row for row in weather.itertuples()}
    rides = []
    for day_index in range(DAYS):
        day = START + timedelta(days=day_index)
        for _ in range(RIDES_PER_DAY):
            station = STATIONS[rng.integers(len(STATIONS))]
            # Rides start within ~6 km of a station, so the nearest station is usually that one.
            latitude = station.latitude + rng.normal(0, 0.03)
            longitude = station.longitude + rng.normal(0, 0.04)
            nearest = min(STATIONS, key=lambda s: haversine_km(latitude, longitude, s.latitude, s.longitude))
            today = lookup[(nearest.id, day)]
            cold = max(0.0, 5.0 - today.TMIN / 10) / 5.0
            heat = max(0.0, today.TMAX / 10 - 28.0) / 5.0
            rain = min(1.0, max(0.0, today.PRCP / 10 - 2.0) / 10.0)
            distance = float(np.clip(rng.gamma(2.0, 9.0), 0.5, 90.0))
            healthpoints = int(rng.integers(10, 301))
            reserve = rng.uniform(2500, 6000)
            per_mile = 40.0 * (1 + 1.2 * cold + 1.5 * heat + 0.8 * rain) * rng.uniform(0.8, 1.2)
            magicpoints = int(max(0.0, reserve - per_mile * distance))
            logit = (-0.6 + 0.04 * distance - 0.008 * healthpoints - 0.0003 * magicpoints
                     + 2.0 * cold + 2.5 * heat + 2.0 * rain)
            fieldservice = int(rng.random() < 1 / (1 + math.exp(-logit)))
            seconds = int(rng.integers(6 * 3600, 23 * 3600))
            stamp = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
            rides.append({"name": UNICORNS[rng.integers(len(UNICORNS))],
                          "statustime": stamp.strftime("%Y-%m-%d %H:%M:%S"),
                          "latitude": round(latitude, 6), "longitude": round(longitude, 6),
                          "distance": round(distance, 2), "healthpoints": healthpoints,
                          "magicpoints": magicpoints, "fieldservice": fieldservice})
    rides.sort(key=lambda ride: ride["statustime"])
    return rides


def haversine_km(latitude1: float, longitude1: float, latitude2: float, longitude2: float) -> float:
    """Great-circle distance on a sphere of the Earth's mean radius (6371 km)."""
    phi1, phi2 = math.radians(latitude1), math.radians(latitude2)
    d_phi, d_lambda = phi2 - phi1, math.radians(longitude2 - longitude1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Generated:
    root: Path
    ride_files: list[Path]
    dly_files: list[Path]
    stations_file: Path
    rides: int


def generate(root: str | Path, seed: int = SEED) -> Generated:
    """Write ``rides/YYYY-MM-DD.json`` (JSON Lines), ``weather/<station>.dly`` and
    ``weather/ghcnd-stations.txt`` under ``root``; the same seed writes the same bytes."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    weather = _weather(rng)
    rides = _rides(rng, weather)
    (root / "rides").mkdir(parents=True, exist_ok=True)
    (root / "weather").mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[dict]] = {}
    for ride in rides:
        by_day.setdefault(ride["statustime"][:10], []).append(ride)
    ride_files = []
    for day, day_rides in sorted(by_day.items()):
        path = root / "rides" / f"{day}.json"
        path.write_text("".join(json.dumps(ride) + "\n" for ride in day_rides))
        ride_files.append(path)
    dly_files = []
    for station in STATIONS:
        path = root / "weather" / f"{station.id}.dly"
        path.write_text("\n".join(_dly_lines(station.id, weather)) + "\n")
        dly_files.append(path)
    stations_file = root / "weather" / "ghcnd-stations.txt"
    stations_file.write_text("\n".join(_station_line(s) for s in STATIONS) + "\n")
    return Generated(root, ride_files, dly_files, stations_file, len(rides))


# -- loaders for the real layouts --------------------------------------------------------------

def _pivot(records: list[tuple[str, date, str, int]], elements: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["station", "date", "element", "value"])
    frame = frame[frame.element.isin(elements)]
    if frame.empty:
        return pd.DataFrame(columns=["station", "date", *elements])
    table = frame.pivot_table(index=["station", "date"], columns="element", values="value", aggfunc="first")
    table = table.reindex(columns=list(elements)).reset_index()
    table.columns.name = None
    return table.sort_values(["station", "date"]).reset_index(drop=True)


def parse_dly(text: str, elements: tuple[str, ...] = ELEMENTS) -> pd.DataFrame:
    """Rows ``station, date, <element>...`` from GHCN-Daily ``.dly`` text; missing (-9999) and
    quality-flagged values are left out (NaN)."""
    records = []
    for line in text.splitlines():
        if len(line) < 21:
            continue
        station, year, month, element = line[0:11], int(line[11:15]), int(line[15:17]), line[17:21]
        for day in range(1, 32):
            start = 21 + (day - 1) * 8
            value, qflag = line[start:start + 5], line[start + 6:start + 7]
            if not value.strip() or int(value) == MISSING or qflag.strip():
                continue
            try:
                when = date(year, month, day)
            except ValueError:  # day 31 of a 30-day month holds -9999 anyway
                continue
            records.append((station, when, element, int(value)))
    return _pivot(records, elements)


def load_dly(path: str | Path, elements: tuple[str, ...] = ELEMENTS) -> pd.DataFrame:
    return parse_dly(Path(path).read_text(), elements)


def parse_by_station_csv(text: str, elements: tuple[str, ...] = ELEMENTS) -> pd.DataFrame:
    """Rows ``station, date, <element>...`` from GHCN-Daily's ``csv/by_station/<ID>.csv``
    (no header: ID, YYYYMMDD, ELEMENT, DATA VALUE, M-FLAG, Q-FLAG, S-FLAG, OBS-TIME)."""
    records = []
    for row in csv.reader(text.splitlines()):
        if len(row) < 4:
            continue
        qflag = row[5] if len(row) > 5 else ""
        if qflag.strip() or int(row[3]) == MISSING:
            continue
        records.append((row[0], datetime.strptime(row[1], "%Y%m%d").date(), row[2], int(row[3])))
    return _pivot(records, elements)


def load_by_station_csv(path: str | Path, elements: tuple[str, ...] = ELEMENTS) -> pd.DataFrame:
    return parse_by_station_csv(Path(path).read_text(), elements)


def parse_stations(text: str) -> list[Station]:
    """Stations from ``ghcnd-stations.txt`` (fixed columns, see :func:`_station_line`)."""
    stations = []
    for line in text.splitlines():
        if len(line) < 40:
            continue
        stations.append(Station(line[0:11].strip(), float(line[12:20]), float(line[21:30]), float(line[31:37]),
                                line[38:40].strip(), line[41:71].strip(), line[80:85].strip()))
    return stations


def load_stations(path: str | Path) -> list[Station]:
    return parse_stations(Path(path).read_text())


def load_rides(paths: list[str | Path]) -> pd.DataFrame:
    """Rides from JSON Lines files, one row per ride."""
    return pd.DataFrame([json.loads(line) for path in paths for line in Path(path).read_text().splitlines() if line])
