"""A smart thermostat in a small office, simulated: what the AWS IoT EduKit "Smart spaces" device
publishes, and who was really in the room.

    from workshop.datasets import thermostat
    readings = thermostat.simulate()          # 21 days, one row every 10 s, seeded
    thermostat.shadow_update(readings.iloc[0])  # the device's shadow update for one row

Each row is one shadow update of the tutorial's M5Stack Core2 thermostat, which reports every
``INTERVAL_SECONDS`` (10 s): ``sound`` (0-255, the microphone's level), ``temperature`` (°F, one
decimal) and ``hvacStatus`` (``HEATING``, ``COOLING`` or ``STANDBY``), with ``timestamp`` (epoch
seconds, UTC). Two more columns are the ground truth the device never sees: ``people`` in the room
and ``occupied`` (``people > 0``), the label a model should learn. There is no public data set for
this device (the tutorial's attendees export their own), so nothing is loaded from elsewhere.

**The room** is a team office for ``TEAM_SIZE`` people in the US Pacific time zone (UTC-8 in
November; ``UTC_OFFSET_HOURS``), simulated from Monday ``START``:

- *Who is there.* On weekdays each member comes in with probability 0.8 (otherwise remote or
  away), arrives around 08:45 and leaves around 17:15 (both vary by about half an hour), and on
  most days goes out for lunch around 12:15 for 30-60 minutes. Now and then someone works late,
  alone, until 20:00-22:00. Meetings (about one a weekday, 30-60 minutes) bring 2-5 visitors. A
  cleaner comes in on weekday evenings for a quarter of an hour. At weekends the office is
  usually empty; sometimes one person comes in for a few quiet hours.
- *Sound.* An empty room is quiet (about 2-6), but not silent: the HVAC fan adds about 5 while
  it runs, and voices and footsteps from the corridor (often in office hours, rarely at night)
  reach the microphone in bursts of 10-60 s. People make noise but not always: in each 10 s
  window a person at a desk speaks with probability 0.12 (0.5 in a meeting), and otherwise adds
  only a little typing and movement. A vacuum cleaner is loud. So the tutorial's rule
  ``sound > 10`` misses quiet occupants and is fooled by the fan and the corridor.
- *Temperature.* The outdoor temperature follows a day/night cycle (coolest at 04:00, warmest at
  16:00, around 48 °F in November, with day-to-day weather). The room loses heat to the
  outside (time constant 10 h), gains some sun by day, and gains heat from each person (about
  0.35 °F an hour, as ~100 W each). The thermometer reads with ±0.3 °F of noise.
- *HVAC.* The tutorial's IoT Events detector: in the building's occupied hours (weekdays
  07:00-19:00, ``COMFORT_HOURS``) it keeps the comfort band 68-72 °F, otherwise the setback band
  60-80 °F; it starts ``HEATING`` below the band's low set point and ``COOLING`` above the high
  one, and stops 1 °F inside the band. It follows the building's schedule, not the people: it
  cannot know who is in the room, but the heat they give off shows in its behaviour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

SEED = 20
DAYS = 21
INTERVAL_SECONDS = 10
UTC_OFFSET_HOURS = -8
START = datetime(2026, 11, 2, tzinfo=timezone(timedelta(hours=UTC_OFFSET_HOURS)))  # a Monday
TEAM_SIZE = 4
COMFORT_HOURS = (7, 19)
COMFORT_BAND = (68.0, 72.0)
SETBACK_BAND = (60.0, 80.0)
HVAC_STATES = ("HEATING", "COOLING", "STANDBY")

STEPS_PER_HOUR = 3600 // INTERVAL_SECONDS
STEPS_PER_DAY = 24 * STEPS_PER_HOUR
# Heat balance of the room, in °F per hour.
LOSS_TIME_CONSTANT_HOURS = 10.0
HEAT_PER_PERSON = 0.35
SUN_GAIN = 0.6
HEATING_RATE = 5.0
COOLING_RATE = 5.0
HYSTERESIS = 1.0
# How often someone speaks in a 10 s window, by activity.
TALK_AT_DESK = 0.12
TALK_IN_MEETING = 0.5


def _step(hour: float) -> int:
    return int(round(hour * STEPS_PER_HOUR))


def _stay(into: np.ndarray, midnight: int, start_hour: float, end_hour: float, people: int = 1) -> None:
    """Add ``people`` to the steps from ``start_hour`` to ``end_hour`` of the day starting at ``midnight``."""
    into[midnight + max(_step(start_hour), 0):midnight + min(_step(end_hour), STEPS_PER_DAY)] += people


def _schedule(days: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 10 s step: people at desks, people in a meeting, and whether a cleaner is vacuuming."""
    desk = np.zeros(days * STEPS_PER_DAY, dtype=np.int64)
    meeting = np.zeros_like(desk)
    cleaning = np.zeros(days * STEPS_PER_DAY, dtype=bool)
    for day in range(days):
        midnight = day * STEPS_PER_DAY
        weekday = (START + timedelta(days=day)).weekday()

        if weekday >= 5:
            if rng.random() < 0.35:
                arrive = rng.uniform(9.5, 13.0)
                _stay(desk, midnight, arrive, arrive + rng.uniform(1.5, 3.5))
            continue
        late_worker = rng.integers(TEAM_SIZE) if rng.random() < 0.2 else -1
        for member in range(TEAM_SIZE):
            if rng.random() >= 0.8:
                continue
            arrive = rng.normal(8.75, 0.5)
            leave = rng.uniform(20.0, 22.0) if member == late_worker else rng.normal(17.25, 0.6)
            if rng.random() < 0.75:
                lunch = rng.normal(12.25, 0.3)
                _stay(desk, midnight, arrive, lunch)
                _stay(desk, midnight, lunch + rng.uniform(0.5, 1.0), leave)
            else:
                _stay(desk, midnight, arrive, leave)
        for _ in range(rng.poisson(1.0)):
            start = rng.choice(np.arange(9.5, 16.01, 0.25))
            length = rng.choice([0.5, 0.75, 1.0])
            visitors = int(rng.integers(2, 6))
            _stay(meeting, midnight, start, start + length, visitors)
        cleaner = rng.uniform(18.5, 19.5)
        _stay(desk, midnight, cleaner, cleaner + 0.25)
        cleaning[midnight + _step(cleaner):midnight + _step(cleaner + 0.25)] = True
    # People in the office join a meeting held there: they talk as the visitors do.
    in_meeting = np.where(meeting > 0, meeting + desk, 0)
    at_desk = np.where(meeting > 0, 0, desk)
    return at_desk, in_meeting, cleaning


def _corridor_noise(steps: int, hours: np.ndarray, weekend: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bursts of voices and footsteps from outside the room: 10-60 s each, busiest in office hours."""
    busy = (hours >= 8) & (hours < 18) & ~weekend
    rate_per_hour = np.where(busy, 4.0, np.where((hours >= 7) & (hours < 21), 1.0, 0.2))
    starts = np.flatnonzero(rng.random(steps) < rate_per_hour / STEPS_PER_HOUR)
    noise = np.zeros(steps)
    for start in starts:
        noise[start:start + rng.integers(1, 7)] = rng.uniform(11, 35)
    return noise


def _outdoor_temperature(days: int, local_hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Day/night cycle around 48 °F (coolest at 04:00, warmest at 16:00), plus each day's weather."""
    weather = np.interp(local_hours / 24, np.arange(days + 1), rng.normal(0, 4, days + 1))
    return 48 + weather - 9 * np.cos(2 * np.pi * (local_hours - 4) / 24)


def simulate(days: int = DAYS, seed: int = SEED) -> pd.DataFrame:
    """The thermostat's readings, one row every 10 s for ``days`` days from ``START``, with the truth.

    Columns: ``timestamp`` (epoch seconds, UTC), ``sound``, ``temperature``, ``hvacStatus`` (what the
    device reports), ``people`` and ``occupied`` (the ground truth). Same seed, same rows.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    rng = np.random.default_rng(seed)
    steps = days * STEPS_PER_DAY
    local = np.arange(steps) * INTERVAL_SECONDS
    hours = (local % 86400) / 3600
    weekend = np.array([(START + timedelta(days=int(d))).weekday() >= 5 for d in local // 86400])
    at_desk, in_meeting, cleaning = _schedule(days, rng)
    people = at_desk + in_meeting

    outdoor = _outdoor_temperature(days, local / 3600, rng)
    sun = np.clip(np.sin(np.pi * (hours - 7) / 10), 0, None) * SUN_GAIN
    comfort = (hours >= COMFORT_HOURS[0]) & (hours < COMFORT_HOURS[1]) & ~weekend
    room = np.empty(steps)
    hvac = np.empty(steps, dtype=np.int64)
    temperature, state, dt = 66.0, 2, 1.0 / STEPS_PER_HOUR
    for i in range(steps):
        low, high = COMFORT_BAND if comfort[i] else SETBACK_BAND
        if temperature < low:
            state = 0
        elif temperature > high:
            state = 1
        elif (state == 0 and temperature >= low + HYSTERESIS) or (state == 1 and temperature <= high - HYSTERESIS):
            state = 2
        hvac[i] = state
        room[i] = temperature
        gain = (outdoor[i] - temperature) / LOSS_TIME_CONSTANT_HOURS + sun[i] + HEAT_PER_PERSON * people[i]
        gain += HEATING_RATE if state == 0 else -COOLING_RATE if state == 1 else 0.0
        temperature += gain * dt

    ambient = rng.gamma(4.0, 1.0, steps)
    fan = np.where(hvac != 2, rng.normal(5.0, 1.5, steps), 0.0)
    presence = sum(rng.uniform(0, 1.5, steps) * (people > k) for k in range(int(people.max(initial=0))))
    talking = (rng.random(steps) < 1 - (1 - TALK_AT_DESK) ** at_desk) | \
              (rng.random(steps) < 1 - (1 - TALK_IN_MEETING) ** in_meeting)
    voices = np.where(talking, rng.normal(32, 10, steps) + 3 * np.sqrt(people), 0.0)
    vacuum = np.where(cleaning, rng.normal(90, 10, steps), 0.0)
    corridor = _corridor_noise(steps, hours, weekend, rng)
    sound = np.maximum.reduce([ambient + fan + presence, voices, vacuum, corridor])

    return pd.DataFrame({
        "timestamp": int(START.timestamp()) + local,
        "sound": np.clip(np.round(sound), 0, 255).astype(np.int64),
        "temperature": np.round(room + rng.normal(0, 0.3, steps), 1),
        "hvacStatus": np.array(HVAC_STATES)[hvac],
        "people": people,
        "occupied": people > 0,
    })


def shadow_update(row) -> dict:
    """The device's shadow update for one reading: ``{"state": {"reported": {...}}}``, with the time it
    was taken in ``reported.timestamp`` (the device's clock, epoch seconds)."""
    return {"state": {"reported": {"sound": int(row["sound"]), "temperature": float(row["temperature"]),
                                   "hvacStatus": str(row["hvacStatus"]), "timestamp": int(row["timestamp"])}}}
