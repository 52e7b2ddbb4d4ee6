"""Identify the bird in each photo uploaded to S3 and tell the subscribers of an SNS topic.

S3 invokes this function for every ``.jpg`` created under ``birds/``. For each record it reads the
object, sends it to the Image Classification endpoint as ``application/x-image``, sorts the class
probabilities it answers and publishes, as the source workshop's lab 4 did,

    Bird [birds/card.jpg] is a: Northern Cardinal(0.93)

when the most likely species reaches ``CERTAINTY_THRESHOLD``, else its ``TOP_K`` best guesses,

    Bird [birds/odd.jpg] may be a: Purple Martin(0.55), or Eastern Bluebird(0.31)

followed by a link to the photo that is valid for an hour. The species names come from
``CLASS_NAMES`` (comma-separated, in the model's label order), which the stack fills from the
training job's class list.

An object that is not a JPEG or PNG image, is too large for the endpoint, or that the endpoint
rejects is logged with the reason and publishes nothing. The function never raises for one: S3
invokes it asynchronously, and an error would only make Lambda retry the same bad photo.
"""

import json
import os
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ENDPOINT_NAME = os.environ["SAGEMAKER_ENDPOINT_NAME"]
SNS_TOPIC_ARN = os.environ["SNS_TOPIC_ARN"]
CLASS_NAMES = [name.strip() for name in os.environ["CLASS_NAMES"].split(",")]
CERTAINTY_THRESHOLD = float(os.environ.get("CERTAINTY_THRESHOLD", "0.70"))
TOP_K = int(os.environ.get("TOP_K", "2"))
LINK_SECONDS = 3600
# InvokeEndpoint refuses request bodies over 6 MB.
MAX_IMAGE_BYTES = 6 * 1024 * 1024
# The first bytes of the formats the endpoint decodes (application/x-image: JPEG or PNG).
MAGIC_BYTES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}

# Presigned links signed with Signature Version 4, which every S3 region accepts.
s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
runtime = boto3.client("sagemaker-runtime")
sns = boto3.client("sns")


class Skipped(Exception):
    """This object cannot be identified; the message says why."""


def image_format(data: bytes) -> str:
    for magic, name in MAGIC_BYTES.items():
        if data.startswith(magic):
            return name
    raise Skipped(f"is not a JPEG or PNG image (it starts with {data[:8]!r})")


def read_image(bucket: str, key: str) -> bytes:
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        raise Skipped(f"could not be read: {error}") from None
    if obj["ContentLength"] > MAX_IMAGE_BYTES:
        raise Skipped(f"is {obj['ContentLength']} bytes; the endpoint takes images of at most {MAX_IMAGE_BYTES} bytes")
    data = obj["Body"].read()
    image_format(data)
    return data


def classify(data: bytes) -> list[tuple[str, float]]:
    """(species, probability) pairs, most likely first."""
    try:
        reply = runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="application/x-image",
                                        Accept="application/json", Body=data)
        probabilities = json.loads(reply["Body"].read())
    except (ClientError, BotoCoreError) as error:
        raise Skipped(f"was refused by endpoint {ENDPOINT_NAME}: {error}") from None
    except ValueError:
        raise Skipped(f"got an answer from endpoint {ENDPOINT_NAME} that is not JSON") from None
    if not isinstance(probabilities, list) or len(probabilities) != len(CLASS_NAMES):
        raise Skipped(f"got {probabilities!r} from endpoint {ENDPOINT_NAME}; expected {len(CLASS_NAMES)} "
                      f"probabilities, one for each of CLASS_NAMES {CLASS_NAMES}")
    return sorted(zip(CLASS_NAMES, probabilities, strict=True), key=lambda pair: pair[1], reverse=True)


def describe(key: str, ranked: list[tuple[str, float]]) -> str:
    species, probability = ranked[0]
    if probability >= CERTAINTY_THRESHOLD:
        return f"Bird [{key}] is a: {species}({probability:.2f})"
    guesses = ", or ".join(f"{name}({p:.2f})" for name, p in ranked[:TOP_K])
    return f"Bird [{key}] may be a: {guesses}"


def notify(bucket: str, key: str) -> str:
    """Identify one object and publish the message; returns the message."""
    ranked = classify(read_image(bucket, key))
    link = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=LINK_SECONDS)
    message = f"{describe(key, ranked)}\nPhoto (link valid for one hour): {link}"
    try:
        sns.publish(TopicArn=SNS_TOPIC_ARN, Subject="Bird identified", Message=message)
    except (ClientError, BotoCoreError) as error:
        raise Skipped(f"was identified, but SNS topic {SNS_TOPIC_ARN} refused the message: {error}") from None
    return message


def lambda_handler(event, context):
    published = skipped = 0
    for record in event.get("Records", []):
        if record.get("eventSource") != "aws:s3":
            print(f"ERROR Ignoring a record that is not an S3 event: {json.dumps(record)[:300]}")
            skipped += 1
            continue
        bucket = record["s3"]["bucket"]["name"]
        # S3 sends keys URL-encoded, with a space as '+'.
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        try:
            print(notify(bucket, key).splitlines()[0])
            published += 1
        except Skipped as reason:
            print(f"ERROR s3://{bucket}/{key} {reason}; nothing was published")
            skipped += 1
    return {"published": published, "skipped": skipped}
