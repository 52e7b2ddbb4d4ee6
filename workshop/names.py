"""Names of what the workshop creates: everything starts with ``workshop-``, which is how
``99_cleanup`` finds it, and names that must be unique per run carry the time."""

from __future__ import annotations

import time

PREFIX = "workshop-"
# Some names are the source workshops' own (``classifyRoomOccupancy``, ``nabirds-species-identifier``);
# this tag, on every resource that takes tags, is what ``99_cleanup`` finds them by.
TAG = {"Key": "workshop", "Value": "serverless-ml"}


def name(*parts: str) -> str:
    """``name("breast-cancer")`` -> ``workshop-breast-cancer``."""
    return PREFIX + "-".join(parts)


def unique_name(*parts: str) -> str:
    """For training jobs, models and endpoint configurations, which keep their names forever:
    ``unique_name("breast-cancer")`` -> ``workshop-breast-cancer-20261123-141500``."""
    return f"{name(*parts)}-{time.strftime('%Y%m%d-%H%M%S')}"
