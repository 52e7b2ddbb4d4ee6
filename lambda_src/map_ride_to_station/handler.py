"""Map each ride of an SQS batch to its nearest weather station and write the batch as CSV to S3.

Called by Lambda's SQS poller with up to ``BatchSize`` rides (the bodies ``ingest_rides`` queued).
``STATIONS`` (JSON ``{"<GHCN station id>": [latitude, longitude], ...}``) lists the stations; the
nearest one by great-circle (haversine) distance wins. The mapped rides of one batch become one
CSV object ``<OUTPUT_PREFIX><request id>.csv`` in ``OUTPUT_BUCKET``, with a header row.

A ride that is not JSON or lacks a field is reported in ``batchItemFailures`` (the mapping uses
``ReportBatchItemFailures``): the good rides of the batch are written and deleted, only the bad one
goes back to the queue, and after ``maxReceiveCount`` tries to the dead-letter queue.
"""

import csv
import io
import json
import math
import os

import boto3

STATIONS = {station: tuple(position) for station, position in json.loads(os.environ["STATIONS"]).items()}
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
OUTPUT_PREFIX = os.environ.get("OUTPUT_PREFIX", "mapped/")
RIDE_FIELDS = ("name", "statustime", "latitude", "longitude", "distance", "healthpoints", "magicpoints",
               "fieldservice")
NUMBERS = ("latitude", "longitude", "distance", "healthpoints", "magicpoints", "fieldservice")
COLUMNS = RIDE_FIELDS + ("station", "station_distance_km")
EARTH_RADIUS_KM = 6371.0
s3 = boto3.client("s3")


class BadRide(ValueError):
    pass


def haversine_km(latitude1, longitude1, latitude2, longitude2):
    phi1, phi2 = math.radians(latitude1), math.radians(latitude2)
    d_phi, d_lambda = phi2 - phi1, math.radians(longitude2 - longitude1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def parse_ride(body):
    try:
        ride = json.loads(body)
    except ValueError:
        raise BadRide("not JSON") from None
    if not isinstance(ride, dict):
        raise BadRide("not a JSON object")
    missing = [field for field in RIDE_FIELDS if field not in ride]
    if missing:
        raise BadRide(f"missing {', '.join(missing)}")
    for field in NUMBERS:
        value = ride[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadRide(f"{field} is not a number")
    if not (-90 <= ride["latitude"] <= 90 and -180 <= ride["longitude"] <= 180):
        raise BadRide("latitude or longitude out of range")
    return ride


def nearest_station(latitude, longitude):
    distances = {station: haversine_km(latitude, longitude, *position) for station, position in STATIONS.items()}
    station = min(distances, key=distances.get)
    return station, distances[station]


def lambda_handler(event, context):
    rows, failures = [], []
    for record in event["Records"]:
        try:
            ride = parse_ride(record["body"])
        except BadRide as error:
            print(f"ride {record['messageId']} rejected: {error}: {record['body'][:200]}")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        station, distance = nearest_station(ride["latitude"], ride["longitude"])
        rows.append([ride[field] for field in RIDE_FIELDS] + [station, round(distance, 3)])
    if rows:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        key = f"{OUTPUT_PREFIX}{context.aws_request_id}.csv"
        s3.put_object(Bucket=OUTPUT_BUCKET, Key=key, Body=buffer.getvalue().encode("utf-8"), ContentType="text/csv")
    print(f"{len(rows)} rides mapped, {len(failures)} rejected")
    return {"batchItemFailures": failures}
