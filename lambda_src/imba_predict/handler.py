"""Will this user buy this product again in their next order? (module 05, "imba")

The request names a pair: the body ``"user_id,product_id"`` (the source's contract, e.g. ``"1,196"``,
as raw text or a JSON string) or the JSON object ``{"user_id": 1, "product_id": 196}``; the same
forms work when the function is invoked directly. The function reads the pair's 18 features, one
CSV string, from the DynamoDB feature store (table ``TABLE_NAME``, keys ``user_id`` and
``product_id``, attribute ``feature``), sends it to the SageMaker endpoint ``ENDPOINT_NAME`` as
``text/csv`` and answers ``{"user_id", "product_id", "probability", "reordered", "threshold"}``,
where ``reordered`` is the probability compared with the decision threshold ``THRESHOLD`` chosen on
the validation split.

A pair the store does not hold gets a 404, a malformed request a 400, a failing store or endpoint a
502, each with a message in words. Every answer, errors included, carries CORS headers so that a
page on another origin can read it, and the browser's preflight (``OPTIONS``, which the API routes
here) is answered too.
"""

import base64
import binascii
import json
import os

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ENDPOINT_NAME = os.environ["ENDPOINT_NAME"]
TABLE_NAME = os.environ["TABLE_NAME"]
THRESHOLD = float(os.environ.get("THRESHOLD", "0.5"))
FEATURE_COUNT = 18
# DynamoDB numbers hold 38 digits; ids longer than this are typing mistakes, not users.
MAX_ID_DIGITS = 18
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "OPTIONS,POST",
    "Access-Control-Allow-Headers": "Content-Type",
}
USAGE = 'Send "user_id,product_id" (for example "1,196") or {"user_id": 1, "product_id": 196}'

dynamodb = boto3.client("dynamodb")
runtime = boto3.client("sagemaker-runtime")


class BadRequest(ValueError):
    pass


class Unavailable(RuntimeError):
    """The feature store or the endpoint failed; the caller gets a 502."""


def response(status, body=None):
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **CORS_HEADERS},
            "body": "" if body is None else json.dumps(body, allow_nan=False)}


def _identifier(value, name):
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"{name} must be a whole number. {USAGE}")
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS or int(text) < 1:
        raise BadRequest(f"{name} must be a whole number from 1 to {MAX_ID_DIGITS} digits, got {str(value)[:40]!r}")
    return int(text)


def _pair_from_text(text):
    parts = text.strip().split(",")
    if len(parts) != 2:
        raise BadRequest(f"Expected two comma-separated ids, got {text[:60]!r}. {USAGE}")
    return _identifier(parts[0], "user_id"), _identifier(parts[1], "product_id")


def _pair_from_payload(payload):
    if isinstance(payload, str):
        return _pair_from_text(payload)
    if isinstance(payload, dict):
        missing = [key for key in ("user_id", "product_id") if key not in payload]
        if missing:
            raise BadRequest(f"Missing {' and '.join(missing)}. {USAGE}")
        return _identifier(payload["user_id"], "user_id"), _identifier(payload["product_id"], "product_id")
    raise BadRequest(USAGE)


def _body_text(event):
    body = event.get("body")
    if body is None or body == "":
        raise BadRequest(f"The request has no body. {USAGE}")
    if not isinstance(body, str):
        raise BadRequest(USAGE)
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(f"The body is not UTF-8 text. {USAGE}") from None
    return body


def read_pair(event):
    """(user_id, product_id) of an API Gateway proxy event or a direct invocation."""
    if isinstance(event, dict) and "httpMethod" in event:
        text = _body_text(event)
        try:
            payload = json.loads(text, parse_constant=lambda name: None)
        except (ValueError, RecursionError):
            return _pair_from_text(text)  # the source's plain "user_id,product_id"
        return _pair_from_payload(payload)
    return _pair_from_payload(event)


def features(user_id, product_id):
    """The pair's feature string from the store, or None when the store does not hold the pair."""
    try:
        item = dynamodb.get_item(TableName=TABLE_NAME, ProjectionExpression="feature",
                                 Key={"user_id": {"N": str(user_id)}, "product_id": {"N": str(product_id)}})
    except (ClientError, BotoCoreError) as error:
        raise Unavailable(f"The feature store {TABLE_NAME} could not answer: {error}") from None
    if "Item" not in item:
        return None
    row = item["Item"].get("feature", {}).get("S")
    if row is None or len(row.split(",")) != FEATURE_COUNT:
        raise Unavailable(f"The feature store's item for user {user_id} and product {product_id} has no feature "
                          f"string of {FEATURE_COUNT} values")
    return row


def probability(row):
    try:
        result = runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="text/csv", Accept="text/csv",
                                         Body=row)
        value = float(result["Body"].read().decode("utf-8").strip())
    except (ClientError, BotoCoreError, KeyError, UnicodeDecodeError, ValueError) as error:
        raise Unavailable(f"The prediction service could not answer: {error}") from None
    if not 0.0 <= value <= 1.0:  # NaN included
        raise Unavailable(f"The prediction service answered {value}, which is not a probability")
    return value


def lambda_handler(event, context):
    if isinstance(event, dict) and event.get("httpMethod") == "OPTIONS":
        return response(204)  # the CORS preflight: the headers are the answer
    try:
        user_id, product_id = read_pair(event)
    except BadRequest as error:
        return response(400, {"message": str(error)})
    try:
        row = features(user_id, product_id)
        if row is None:
            return response(404, {"message": f"No features for user {user_id} and product {product_id}: the "
                                             "feature store holds the pairs of the test users' order histories."})
        value = probability(row)
    except Unavailable as error:
        print(f"ERROR {error}")
        return response(502, {"message": str(error)})
    return response(200, {"user_id": user_id, "product_id": product_id, "probability": value,
                          "reordered": value >= THRESHOLD, "threshold": THRESHOLD})
