"""The model's features, computed from one thermostat reading: the single definition that training
(``notebooks/01_thermostat.ipynb`` imports this module) and ``classifyRoomOccupancy`` share.

A reading is what the device reports in its shadow (``sound``, ``temperature``, ``hvacStatus``) and
the time it was taken. The features are the sound level, the temperature, the HVAC state one-hot,
the local hour of the day one-hot and whether the day of the week is a weekend day: nothing computed from the
tutorial's ``sound > 10`` rule, and not ``roomOccupancy``, which that rule wrote (that would teach
the model the rule instead of the room). Standard library only, as a Lambda function needs.
"""

import math
from datetime import datetime, timedelta, timezone

HVAC_STATES = ("HEATING", "COOLING", "STANDBY")
REQUIRED = ("sound", "temperature", "hvacStatus")
FEATURE_NAMES = (["log_sound", "temperature"] + [f"hvac_{state}" for state in HVAC_STATES]
                 + [f"hour_{hour:02d}" for hour in range(24)] + ["weekend"])
# Sound is 0-255 from the microphone; the temperature in °F, well inside what a room can reach.
SOUND_RANGE = (0, 255)
TEMPERATURE_RANGE = (-40.0, 140.0)


class BadReading(ValueError):
    """The reading lacks an attribute or has one the model cannot use; the message names them."""


def _number(reported: dict, name: str, low: float, high: float) -> float:
    value = reported[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadReading(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise BadReading(f"{name} must lie within {low}-{high}, got {value!r}")
    return float(value)


def features(reported: dict, timestamp, utc_offset_hours: float) -> list:
    """The feature row (in ``FEATURE_NAMES`` order) for one reading taken at ``timestamp`` (epoch
    seconds, UTC) in a room whose local time is UTC + ``utc_offset_hours``."""
    if not isinstance(reported, dict):
        raise BadReading("state.reported must be an object with sound, temperature and hvacStatus")
    missing = [name for name in REQUIRED if reported.get(name) is None]
    if timestamp is None:
        missing.append("timestamp")
    if missing:
        raise BadReading(f"Missing attributes: {', '.join(missing)}")
    sound = _number(reported, "sound", *SOUND_RANGE)
    temperature = _number(reported, "temperature", *TEMPERATURE_RANGE)
    hvac = reported["hvacStatus"]
    if hvac not in HVAC_STATES:
        raise BadReading(f"hvacStatus must be one of {', '.join(HVAC_STATES)}, got {hvac!r}")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not 0 <= timestamp < 32503680000:
        raise BadReading(f"timestamp must be epoch seconds, got {timestamp!r}")
    local = datetime.fromtimestamp(timestamp, timezone(timedelta(hours=utc_offset_hours)))
    return ([math.log1p(sound), temperature] + [float(hvac == state) for state in HVAC_STATES]
            + [float(local.hour == hour) for hour in range(24)] + [float(local.weekday() >= 5)])
