"""No web page can drive localcloud, and only its own credentials can (issue 8, item 1).

The attack: a page at https://evil.example that the user visits while localcloud runs sends the
requests a browser lets it send to 127.0.0.1 (with any headers it likes, a made-up Authorization
among them) to create a stack with a Lambda function subscribed to a topic, and to publish to it.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

EVIL = "https://evil.example"
MADE_UP_AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE00/20261123/us-east-1/cloudformation/"
                         "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
STACK = {
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "evil-topic"}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "evil-function", "Runtime": "python3.12", "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    open('/tmp/pwned', 'w').write('x')\n"}}},
    }
}


def browser_post(url: str, body: dict, origin: str = EVIL) -> requests.Response:
    """A form-encoded POST as fetch() sends it from a page, with a made-up Authorization header."""
    return requests.post(url, data=urlencode(body), timeout=10, headers={
        "Origin": origin, "Content-Type": "application/x-www-form-urlencoded", "Authorization": MADE_UP_AUTHORIZATION})


def test_a_web_page_cannot_create_a_stack_subscribe_or_publish(cloud, aws):
    create = browser_post(cloud.endpoint_url, {"Action": "CreateStack", "Version": "2010-05-15",
                                               "StackName": "evil", "TemplateBody": json.dumps(STACK)})
    subscribe = browser_post(cloud.endpoint_url, {
        "Action": "Subscribe", "TopicArn": "arn:aws:sns:us-east-1:123456789012:evil-topic", "Protocol": "lambda",
        "Endpoint": "arn:aws:lambda:us-east-1:123456789012:function:evil-function"})
    publish = browser_post(cloud.endpoint_url, {"Action": "Publish", "Message": "run",
                                                "TopicArn": "arn:aws:sns:us-east-1:123456789012:evil-topic"})
    for answer in (create, subscribe, publish):
        assert answer.status_code == 403
        assert "evil.example" in answer.text and "--allow-origin" in answer.text
        assert "Access-Control-Allow-Origin" not in answer.headers
    stacks = aws("cloudformation").list_stacks()["StackSummaries"]
    assert not [s for s in stacks if s["StackName"] == "evil"]
    assert "evil-function" not in [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]


def test_a_preflight_from_a_foreign_page_is_refused_and_a_loopback_page_is_served(cloud):
    preflight = requests.options(cloud.endpoint_url, timeout=10, headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers

    local = requests.options(cloud.endpoint_url, timeout=10, headers={
        "Origin": "http://localhost:8888", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-amz-date"})
    assert local.status_code == 200
    assert local.headers["Access-Control-Allow-Origin"] == "http://localhost:8888"
    assert "authorization" in local.headers["Access-Control-Allow-Headers"]


def test_a_signed_call_from_a_loopback_page_gets_its_cors_headers_and_no_wildcard(cloud, aws):
    s3 = aws("s3")

    def add_origin(request, **_):
        request.headers["Origin"] = "http://127.0.0.1:5173"

    s3.meta.events.register("before-sign.s3.ListBuckets", add_origin)
    try:
        answer = s3.list_buckets()
    finally:
        s3.meta.events.unregister("before-sign.s3.ListBuckets", add_origin)
    assert answer["ResponseMetadata"]["HTTPHeaders"]["access-control-allow-origin"] == "http://127.0.0.1:5173"

    plain = aws("sqs").list_queues()["ResponseMetadata"]["HTTPHeaders"]
    assert "access-control-allow-origin" not in plain


def test_the_moto_api_is_closed(cloud):
    state = requests.get(f"{cloud.endpoint_url}/moto-api/data.json", timeout=10)
    reset = requests.post(f"{cloud.endpoint_url}/moto-api/reset", timeout=10)
    assert state.status_code == 403 and reset.status_code == 403  # unsigned: refused before anything else
    assert "Missing Authentication Token" in state.json()["message"]


def test_the_moto_api_is_closed_even_to_signed_requests(cloud, aws):
    """A signed GET to /moto-api is still refused (the instance was started without --moto-api)."""
    credentials = boto3.session.Session(aws_access_key_id=cloud.credentials.access_key_id,
                                        aws_secret_access_key=cloud.credentials.secret_access_key).get_credentials()
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=f"{cloud.endpoint_url}/moto-api/data.json")
    SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    answer = requests.get(request.url, headers=dict(request.headers), timeout=10)
    assert answer.status_code == 404
    assert "--moto-api" in answer.text


def foreign_session(cloud, key_id: str, secret: str):
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
    return lambda service: session.client(service, endpoint_url=cloud.endpoint_url)


@pytest.mark.parametrize(("service", "call", "code"), [
    ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),  # query protocol
    ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException"),  # REST-JSON
    ("dynamodb", lambda c: c.list_tables(), "UnrecognizedClientException"),  # JSON
    ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),  # REST-XML
])
def test_a_foreign_access_key_is_refused_as_aws_refuses_it(cloud, service, call, code):
    client = foreign_session(cloud, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")(service)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_former_fixed_test_credentials_are_refused(cloud):
    with pytest.raises(ClientError) as raised:
        foreign_session(cloud, "test", "test")("sqs").list_queues()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(("service", "call", "code"), [
    ("sts", lambda c: c.get_caller_identity(), "SignatureDoesNotMatch"),
    ("lambda", lambda c: c.list_functions(), "InvalidSignatureException"),
    ("s3", lambda c: c.list_buckets(), "SignatureDoesNotMatch"),
])
def test_the_right_key_with_the_wrong_secret_is_refused(cloud, service, call, code):
    client = foreign_session(cloud, cloud.credentials.access_key_id, "x" * 40)(service)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert raised.value.response["Error"]["Code"] == code


def test_signatures_are_checked_over_paths_queries_and_bodies_of_every_protocol(aws, unique):
    """The real clients' requests verify: encoded paths (ARNs), query strings, JSON and form bodies, S3 uploads."""
    s3, sqs, iam = aws("s3"), aws("sqs"), aws("iam")
    bucket = f"sig-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a dir/ü+x=1.txt", Body=b"payload")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="a dir/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["a dir/ü+x=1.txt"]
    assert s3.get_object(Bucket=bucket, Key="a dir/ü+x=1.txt")["Body"].read() == b"payload"
    queue = sqs.create_queue(QueueName=f"sig-{unique}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello & goodbye = ok")
    iam.create_role(RoleName=f"sig-{unique}", Path="/a/b/", AssumeRolePolicyDocument="{}")
    assert iam.get_role(RoleName=f"sig-{unique}")["Role"]["Path"] == "/a/b/"


def test_presigned_urls_work_until_they_expire(aws, unique):
    s3 = aws("s3")
    bucket = f"presign-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="birds/card inal.jpg", Body=b"jpeg")
    params = {"Bucket": bucket, "Key": "birds/card inal.jpg"}
    assert requests.get(s3.generate_presigned_url("get_object", Params=params), timeout=10).content == b"jpeg"
    short_lived = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    time.sleep(2)
    expired = requests.get(short_lived, timeout=10)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text and "Request has expired" in expired.text

    tampered = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "birds/card inal.jpg"})
    assert requests.get(tampered.replace("card%20inal", "other"), timeout=10).status_code == 403


def test_health_and_stage_urls_stay_open(cloud):
    assert requests.get(f"{cloud.endpoint_url}/_localcloud/health", timeout=10).json()["status"] == "running"
    missing = requests.post(f"{cloud.endpoint_url}/_aws/execute-api/nosuchapi/prod/x", timeout=10,
                            headers={"Origin": EVIL})
    assert missing.status_code == 403 and missing.json() == {"message": "Missing Authentication Token"}
