"""Acceptance-test API function: lists the table's items as JSON."""

import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    request = json.loads(event["body"] or "{}")
    items = TABLE.scan()["Items"]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "items": sorted(item["pk"] for item in items),
                "echo": request,
                "stage": event["requestContext"]["stage"],
                "stageVariables": event["stageVariables"],
                "path": event["path"],
            }
        ),
    }
