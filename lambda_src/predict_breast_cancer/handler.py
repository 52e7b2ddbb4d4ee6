"""Diagnose one breast-cancer sample with the SageMaker endpoint: M (malignant) or B (benign).

Accepts the API Gateway proxy event (JSON body) and the direct form ``{"data": "..."}`` of the
original blog post, where ``data`` holds the 30 WDBC features, comma-separated, in the order of
the UCI file. Answers JSON ``{"diagnosis": "M" | "B", "score": <probability of malignant>}``;
bad input gets a 400 saying what is wrong, an endpoint failure a 502 -- never a bare exception.
"""

import json
import math
import os

import boto3
from botocore.exceptions import BotoCoreError, ClientError

FEATURE_COUNT = 30
# The model computes in 32-bit floats: a larger feature overflows to infinity and scores NaN.
FLOAT32_MAX = 3.4028234663852886e38
ENDPOINT_NAME = os.environ["ENDPOINT_NAME"]
runtime = boto3.client("sagemaker-runtime")


class BadRequest(ValueError):
    pass


def response(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body, allow_nan=False)}


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def read_features(event):
    """The 30 features of the request, as a CSV row."""
    if not isinstance(event, dict):
        raise BadRequest('Send a JSON object: {"data": "<30 comma-separated numbers>"}')
    if "httpMethod" in event:  # API Gateway proxy event: the request is the JSON body
        try:
            payload = json.loads(event.get("body") or "", parse_constant=_refuse_constant)
        except (ValueError, TypeError, RecursionError):
            raise BadRequest('The body must be JSON: {"data": "<30 comma-separated numbers>"}') from None
    else:
        payload = event
    if not isinstance(payload, dict) or "data" not in payload:
        raise BadRequest('Send {"data": "<30 comma-separated numbers>"}')
    data = payload["data"]
    values = data.split(",") if isinstance(data, str) else data
    if not isinstance(values, list) or len(values) != FEATURE_COUNT:
        count = len(values) if isinstance(values, list) else "no"
        raise BadRequest(f"Expected {FEATURE_COUNT} comma-separated features, got {count}")
    if any(isinstance(value, bool) for value in values):
        raise BadRequest("Every feature must be a number")
    try:
        numbers = [float(value) for value in values]
    except (TypeError, ValueError, OverflowError):
        raise BadRequest("Every feature must be a number") from None
    if not all(math.isfinite(number) for number in numbers):
        raise BadRequest("Features must be finite numbers")
    if any(abs(number) > FLOAT32_MAX for number in numbers):
        raise BadRequest("Features must lie within +-3.4e38 (the model computes in 32-bit floats)")
    return ",".join(repr(number) for number in numbers)


def lambda_handler(event, context):
    try:
        row = read_features(event)
    except BadRequest as error:
        return response(400, {"message": str(error)})
    try:
        result = runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="text/csv",
                                         Accept="application/json", Body=row)
        prediction = json.loads(result["Body"].read())["predictions"][0]
        score = float(prediction["score"])
        if not math.isfinite(score):
            raise ValueError(f"the model answered a score of {score}")
    except (ClientError, BotoCoreError, KeyError, IndexError, TypeError, ValueError) as error:
        print(f"Endpoint {ENDPOINT_NAME} failed: {error}")
        return response(502, {"message": f"The prediction service could not answer: {error}"})
    diagnosis = "M" if prediction["predicted_label"] == 1.0 else "B"
    return response(200, {"diagnosis": diagnosis, "score": score})
