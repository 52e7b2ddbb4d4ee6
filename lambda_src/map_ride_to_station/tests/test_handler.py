"""The mapping function: nearest station by haversine, one CSV per batch, bad rides reported."""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.stub import ANY, Stubber

FOLDER = Path(__file__).resolve().parents[1]
STATIONS = {"USW00094728": [40.7789, -73.9692], "USW00014732": [40.7794, -73.8803],
            "USW00094789": [40.6386, -73.7622], "USW00014734": [40.6825, -74.1694]}
CONTEXT = SimpleNamespace(aws_request_id="b7d1f2c4-0000-4000-8000-000000000001")


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.setenv("STATIONS", json.dumps(STATIONS))
    monkeypatch.setenv("OUTPUT_BUCKET", "workshop-bucket")
    monkeypatch.setenv("OUTPUT_PREFIX", "wild-rydes/mapped/")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.syspath_prepend(str(FOLDER))
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    with Stubber(module.s3) as stubber:
        module.stubber = stubber
        yield module
    sys.modules.pop("handler", None)


def test_good_rides_are_written_and_the_bad_one_reported(handler):
    event = json.loads((FOLDER / "events/sqs_batch.json").read_text())
    written = {}

    def capture(**kwargs):
        written.update(kwargs)

    handler.stubber.add_response("put_object", {}, {"Bucket": "workshop-bucket", "ContentType": "text/csv",
                                                    "Key": f"wild-rydes/mapped/{CONTEXT.aws_request_id}.csv",
                                                    "Body": ANY})
    handler.s3.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: capture(**params))
    result = handler.lambda_handler(event, CONTEXT)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    rows = list(csv.DictReader(io.StringIO(written["Body"].decode())))
    assert [(r["name"], r["station"]) for r in rows] == [("Shadowfax", "USW00094728"), ("Rocinante", "USW00014734")]
    assert float(rows[0]["station_distance_km"]) == pytest.approx(
        handler.haversine_km(40.781, -73.962, 40.7789, -73.9692), abs=1e-3)
    assert list(rows[0]) == list(handler.COLUMNS)


@pytest.mark.parametrize(("body", "reason"), [
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"name": "x"}', "missing statustime"),
])
def test_malformed_rides_are_rejected_with_a_reason(handler, body, reason):
    with pytest.raises(handler.BadRide, match=reason):
        handler.parse_ride(body)


def test_a_non_numeric_field_is_rejected(handler):
    ride = json.loads(json.loads((FOLDER / "events/sqs_batch.json").read_text())["Records"][0]["body"])
    for field, value in (("distance", "far"), ("magicpoints", True), ("latitude", 95.0)):
        with pytest.raises(handler.BadRide):
            handler.parse_ride(json.dumps(dict(ride, **{field: value})))


def test_a_batch_of_only_bad_rides_writes_nothing(handler):
    event = json.loads((FOLDER / "events/sqs_batch.json").read_text())
    event["Records"] = [event["Records"][1]]
    assert handler.lambda_handler(event, CONTEXT) == {"batchItemFailures": [
        {"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_haversine_matches_the_spherical_earth(handler):
    assert handler.haversine_km(0, 0, 90, 0) == pytest.approx(6371 * math.pi / 2)
    assert handler.haversine_km(0, 0, 0, 1) == pytest.approx(111.195, abs=1e-3)
