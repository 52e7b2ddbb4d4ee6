"""classifyRoomOccupancy: is anyone in the room? Asked by the IoT rule ``thermostatRule`` with
``aws_lambda()`` for every shadow update of a thermostat, answered by the SageMaker endpoint.

Event: the thermostat's shadow document as ``$aws/things/<thing>/shadow/update/accepted`` carries
it, ``{"state": {"reported": {"sound": ..., "temperature": ..., "hvacStatus": ...}}, "timestamp":
...}``. The reading was taken at ``state.reported.timestamp`` when the device reports its clock
(a replayed or buffered reading does), otherwise at the document's ``timestamp`` (when the shadow
service accepted the update). A ``roomOccupancy`` the device reports is ignored: the
``sound > 10`` rule wrote it, and the model must not learn that rule.

Answer, the tutorial's contract (``body`` an object, so the rule can ``get`` into it)::

    {"statusCode": 200, "body": {"predicted_label": "True" | "False", "probability": "0.973"}}

``probability`` is that of the predicted label. A missing or unusable attribute gets a 400 whose
``body.message`` names it; an endpoint failure a 502. Never an unhandled exception: the rule would
only see an error.

Environment: ``SAGEMAKER_ENDPOINT`` (the endpoint's name), ``UTC_OFFSET_HOURS`` (the rooms' local
time, for the hour-of-day features; -8 for US Pacific standard time).
"""

import json
import os

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from occupancy_features import BadReading, features

ENDPOINT_NAME = os.environ["SAGEMAKER_ENDPOINT"]
UTC_OFFSET_HOURS = float(os.environ.get("UTC_OFFSET_HOURS", "0"))
runtime = boto3.client("sagemaker-runtime")


def read_features(event):
    """The model's feature row for the reading in the shadow document ``event``."""
    if not isinstance(event, dict) or not isinstance(event.get("state"), dict):
        raise BadReading('Send the shadow document: {"state": {"reported": {"sound": ..., "temperature": ..., '
                         '"hvacStatus": ...}}, "timestamp": ...}')
    reported = event["state"].get("reported")
    if reported is None:
        raise BadReading("Missing attributes: state.reported")
    when = reported.get("timestamp") if isinstance(reported, dict) else None
    return features(reported, event.get("timestamp") if when is None else when, UTC_OFFSET_HOURS)


def lambda_handler(event, context):
    try:
        row = read_features(event)
    except BadReading as error:
        return {"statusCode": 400, "body": {"message": str(error)}}
    try:
        result = runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="text/csv",
                                         Accept="application/json", Body=",".join(repr(value) for value in row))
        prediction = json.loads(result["Body"].read())["predictions"][0]
        score, occupied = float(prediction["score"]), prediction["predicted_label"] == 1
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"the model answered a score of {score}")
    except (ClientError, BotoCoreError, KeyError, IndexError, TypeError, ValueError) as error:
        print(f"Endpoint {ENDPOINT_NAME} failed: {error}")
        return {"statusCode": 502, "body": {"message": f"The occupancy model could not answer: {error}"}}
    probability = score if occupied else 1.0 - score
    return {"statusCode": 200, "body": {"predicted_label": str(occupied), "probability": f"{probability:.3f}"}}
