"""ModelInferenceFunction: predict field service for one unicorn ride, in Lambda, from a Linear
Learner ``model.tar.gz`` in S3 -- no SageMaker endpoint.

One model per unicorn breed, thousands of breeds, most of them rarely asked: an endpoint per model
would bill every hour; a model file in S3 costs almost nothing and Lambda bills per request. The
artifact is read with ``mlformats`` (packaged into this function) and numpy, which comes from the
AWS SDK for pandas layer; no MXNet.

Request (API Gateway proxy event, any method, or the same JSON invoked directly)::

    {"distance": 30, "healthpoints": 30, "magicpoints": 2500, "TMAX": 333, "TMIN": 300, "PRCP": 0}

with an optional ``"breed"``, which chooses ``models/<breed>/model.tar.gz`` in ``BUCKET`` instead
of ``MODEL_PATH``. Answer: ``{"predicted_label": 0 | 1, "score": <probability of field service>}``,
the numbers a SageMaker endpoint gives for the same artifact (a regressor answers ``{"score"}``).
A missing or non-numeric field gets a 400 that names it; a breed without a model, a 404.

Environment: ``MODEL_PATH`` (``s3://bucket/key`` of the default ``model.tar.gz``, as a training
job reports it), ``BUCKET`` (the data bucket, where the breeds' models are), ``FEATURES`` (the request fields, comma-separated, in the order the model was trained on).
Each model is downloaded once per execution environment.
"""

import json
import math
import os
import re

import boto3
import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from mlformats.linear_learner import LinearLearnerModel

BUCKET = os.environ["BUCKET"]
MODEL_PATH = os.environ["MODEL_PATH"]
if not MODEL_PATH.startswith("s3://") or "/" not in MODEL_PATH[5:]:
    raise ValueError(f"MODEL_PATH must be s3://bucket/key of a model.tar.gz, not {MODEL_PATH!r}")
FEATURES = tuple(os.environ.get("FEATURES", "distance,healthpoints,magicpoints,TMIN,TMAX,PRCP").split(","))
BREED = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62})")
s3 = boto3.client("s3")
models = {}  # key -> LinearLearnerModel, for the life of the execution environment


class BadRequest(ValueError):
    pass


class NoModel(LookupError):
    pass


def response(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def read_request(event):
    """The feature row and the s3:// URL of the model the request asks for."""
    if "httpMethod" in event:  # API Gateway proxy event: the ride is the JSON body
        try:
            payload = json.loads(event.get("body") or "")
        except ValueError:
            raise BadRequest(f"The body must be a JSON object with {', '.join(FEATURES)}") from None
    else:
        payload = event
    if not isinstance(payload, dict):
        raise BadRequest(f"The body must be a JSON object with {', '.join(FEATURES)}")
    missing = [name for name in FEATURES if name not in payload]
    if missing:
        raise BadRequest(f"Missing field(s): {', '.join(missing)}")
    not_numbers = [name for name in FEATURES if isinstance(payload[name], bool)
                   or not isinstance(payload[name], (int, float)) or not math.isfinite(payload[name])]
    if not_numbers:
        raise BadRequest(f"Not a finite number: {', '.join(not_numbers)}")
    key = MODEL_PATH
    if "breed" in payload:
        breed = payload["breed"]
        if not isinstance(breed, str) or not BREED.fullmatch(breed):
            raise BadRequest("breed must be 1-63 lowercase letters, digits and hyphens")
        key = f"s3://{BUCKET}/models/{breed}/model.tar.gz"
    return [float(payload[name]) for name in FEATURES], key


def load_model(url):
    if url not in models:
        bucket, key = url[len("s3://"):].split("/", 1)
        try:
            artifact = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise NoModel(f"No model at {url}") from None
            raise
        models[url] = LinearLearnerModel.load(artifact)
    return models[url]


def lambda_handler(event, context):
    try:
        row, url = read_request(event)
        model = load_model(url)
        prediction = model.predict(np.array([row]))[0]
    except BadRequest as error:
        return response(400, {"message": str(error)})
    except NoModel as error:
        return response(404, {"message": str(error)})
    except ValueError as error:  # the model was trained on another number of features
        return response(500, {"message": f"The model at {url} cannot answer: {error}"})
    except (ClientError, BotoCoreError) as error:
        print(f"Reading {url} failed: {error}")
        return response(502, {"message": f"The model could not be read: {error}"})
    if "predicted_label" in prediction:
        prediction["predicted_label"] = int(prediction["predicted_label"])
    return response(200, prediction)
