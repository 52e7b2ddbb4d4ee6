"""REST API stages: routing, the proxy event, response mapping and API Gateway's own errors."""

from __future__ import annotations

import base64
import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import requests

ECHO = """
import base64, json

def handler(event, context):
    if event.get("body") == "malformed":
        return {"statusCode": "two hundred"}
    if event.get("body") == "crash":
        raise RuntimeError("crash")
    if event.get("body") == "binary":
        return {"statusCode": 201, "isBase64Encoded": True, "body": base64.b64encode(b"\\x00\\x01").decode(),
                "headers": {"Content-Type": "application/octet-stream"}}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(event),
    }
"""


@pytest.fixture
def deploy_api(aws, make_function):
    """Build a REST API whose ``paths`` (``"/a/{id}"``) each have ``method`` -> one Lambda."""

    def deploy(paths, method="ANY", integration="AWS_PROXY", source=ECHO, permission=True, stage="dev",
               timeout_ms=None, selection_pattern="Bad request.*", **function_config):
        apigateway, lam = aws("apigateway"), aws("lambda")
        function = make_function({"app.py": source}, **function_config)
        function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        api_id = apigateway.create_rest_api(name=f"api-{function}")["id"]
        root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        for path in paths:
            parent = root
            for part in [p for p in path.split("/") if p]:
                parent = apigateway.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
            apigateway.put_method(restApiId=api_id, resourceId=parent, httpMethod=method, authorizationType="NONE")
            apigateway.put_integration(
                restApiId=api_id, resourceId=parent, httpMethod=method, type=integration, integrationHttpMethod="POST",
                uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
                **({"timeoutInMillis": timeout_ms} if timeout_ms else {}),
            )
            if integration == "AWS":
                for status in ("200", "400"):
                    apigateway.put_method_response(restApiId=api_id, resourceId=parent, httpMethod=method,
                                                   statusCode=status)
                apigateway.put_integration_response(restApiId=api_id, resourceId=parent, httpMethod=method,
                                                    statusCode="200", selectionPattern="")
                apigateway.put_integration_response(restApiId=api_id, resourceId=parent, httpMethod=method,
                                                    statusCode="400", selectionPattern=selection_pattern)
        apigateway.create_deployment(restApiId=api_id, stageName=stage, variables={"v": "1"})
        if permission:
            lam.add_permission(FunctionName=function, StatementId="apigw", Action="lambda:InvokeFunction",
                               Principal="apigateway.amazonaws.com",
                               SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*")
        return api_id

    return deploy


def url(cloud, api_id: str, path: str, stage: str = "dev") -> str:
    return f"{cloud.endpoint_url}/_aws/execute-api/{api_id}/{stage}{path}"


def test_the_proxy_event_carries_the_request(cloud, deploy_api):
    api_id = deploy_api(["/orders/{order_id}"])
    response = requests.put(
        url(cloud, api_id, "/orders/42") + "?colour=red&size=s&size=m",
        data='{"qty": 2}', headers={"Content-Type": "application/json", "X-Trace": "t1"}, timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Echo"] == "yes"
    event = response.json()
    assert event["resource"] == "/orders/{order_id}"
    assert event["path"] == "/orders/42"
    assert event["httpMethod"] == "PUT"
    assert event["pathParameters"] == {"order_id": "42"}
    assert event["queryStringParameters"] == {"colour": "red", "size": "m"}
    assert event["multiValueQueryStringParameters"] == {"colour": ["red"], "size": ["s", "m"]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["stageVariables"] == {"v": "1"}
    assert event["body"] == '{"qty": 2}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "dev" and context["apiId"] == api_id and context["httpMethod"] == "PUT"
    assert context["resourcePath"] == "/orders/{order_id}"
    assert context["path"] == "/dev/orders/42"
    assert context["identity"]["sourceIp"] == "127.0.0.1"


def test_multi_value_headers_from_the_function_are_all_sent(cloud, deploy_api):
    api_id = deploy_api(["/h"])
    response = requests.get(url(cloud, api_id, "/h"), timeout=30)
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_greedy_proxy_paths_and_literal_precedence(cloud, deploy_api):
    api_id = deploy_api(["/files/{proxy+}", "/files/special"])
    greedy = requests.get(url(cloud, api_id, "/files/a/b/c.txt"), timeout=30).json()
    assert greedy["resource"] == "/files/{proxy+}"
    assert greedy["pathParameters"] == {"proxy": "a/b/c.txt"}
    literal = requests.get(url(cloud, api_id, "/files/special"), timeout=30).json()
    assert literal["resource"] == "/files/special"


def test_a_base64_body_from_the_function_is_decoded(cloud, deploy_api):
    api_id = deploy_api(["/bin"])
    response = requests.post(url(cloud, api_id, "/bin"), data="binary", timeout=30)
    assert response.status_code == 201
    assert response.content == b"\x00\x01"
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_unknown_routes_methods_and_stages_are_403_missing_authentication_token(cloud, deploy_api):
    api_id = deploy_api(["/only"], method="POST")
    for response in (
        requests.post(url(cloud, api_id, "/elsewhere"), timeout=30),
        requests.get(url(cloud, api_id, "/only"), timeout=30),
        requests.post(url(cloud, api_id, "/only", stage="prod"), timeout=30),
        requests.post(url(cloud, "nosuchapi", "/only"), timeout=30),
    ):
        assert response.status_code == 403
        assert response.json() == {"message": "Missing Authentication Token"}


def test_a_malformed_or_failed_function_response_is_502(cloud, deploy_api):
    api_id = deploy_api(["/x"])
    for body in ("malformed", "crash"):
        response = requests.post(url(cloud, api_id, "/x"), data=body, timeout=30)
        assert response.status_code == 502
        assert response.json() == {"message": "Internal server error"}


def test_a_function_without_permission_for_api_gateway_is_500(cloud, deploy_api):
    api_id = deploy_api(["/x"], permission=False)
    response = requests.post(url(cloud, api_id, "/x"), timeout=30)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}


def test_non_proxy_lambda_integration_passes_the_body_through(cloud, deploy_api):
    source = (
        "def handler(event, context):\n"
        "    if event.get('bad'):\n"
        "        raise ValueError('Bad request: missing data')\n"
        "    return {'received': event}\n"
    )
    api_id = deploy_api(["/predict"], method="POST", integration="AWS", source=source)
    ok = requests.post(url(cloud, api_id, "/predict"), json={"data": "1,2"}, timeout=30)
    assert ok.status_code == 200
    assert ok.json() == {"received": {"data": "1,2"}}
    bad = requests.post(url(cloud, api_id, "/predict"), json={"bad": True}, timeout=30)
    assert bad.status_code == 400
    assert bad.json()["errorMessage"] == "Bad request: missing data"


def test_binary_media_types_arrive_base64_encoded(aws, cloud, deploy_api):
    api_id = deploy_api(["/upload"])
    aws("apigateway").update_rest_api(
        restApiId=api_id, patchOperations=[{"op": "add", "path": "/binaryMediaTypes/image~1png", "value": ""}]
    )
    response = requests.post(url(cloud, api_id, "/upload"), data=b"\x89PNG\x00", headers={"Content-Type": "image/png"},
                             timeout=30)
    event = response.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\x00"


def test_health_endpoint_lists_services(cloud):
    health = requests.get(f"{cloud.endpoint_url}/_localcloud/health", timeout=10).json()
    assert health["status"] == "running"
    assert {"lambda", "apigateway", "cloudformation", "s3", "sns"} <= set(health["services"])


MISBEHAVING = """
import json, time

def handler(event, context):
    body = event.get("body") if isinstance(event, dict) else None
    if body == "bad-base64":
        return {"statusCode": 200, "isBase64Encoded": True, "body": "not*base64!"}
    if body == "newline-header":
        return {"statusCode": 200, "headers": {"X-Bad": "a\\r\\nSet-Cookie: injected=1"}, "body": "x"}
    if body == "slow":
        headers = {name.lower(): value for name, value in event["headers"].items()}
        time.sleep(float(headers.get("x-sleep", "3")))
    return {"statusCode": 200, "body": json.dumps({"ok": True})}
"""


@pytest.mark.parametrize("body", ["bad-base64", "newline-header"])
def test_a_malformed_proxy_answer_is_a_json_502(cloud, deploy_api, body):
    api_id = deploy_api(["/x"], source=MISBEHAVING)
    response = requests.post(url(cloud, api_id, "/x"), data=body, timeout=30)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert "injected" not in response.headers.get("Set-Cookie", "")


def test_a_non_python_runtime_behind_an_api_is_a_json_502(cloud, deploy_api):
    api_id = deploy_api(["/x"], source=MISBEHAVING, Runtime="nodejs20.x")
    response = requests.get(url(cloud, api_id, "/x"), timeout=30)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_an_invalid_selection_pattern_is_a_json_500(cloud, deploy_api):
    api_id = deploy_api(["/x"], integration="AWS", source="def handler(e, c):\n    raise ValueError('Bad request')\n",
                        selection_pattern="Bad request(")
    response = requests.post(url(cloud, api_id, "/x"), json={}, timeout=30)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}


def test_a_non_json_body_to_a_non_proxy_integration_is_a_400_and_the_function_keeps_serving(cloud, deploy_api):
    """API Gateway passes the body through to Lambda, which accepts only JSON: API Gateway answers 400."""
    api_id = deploy_api(["/x"], integration="AWS", source="def handler(e, c):\n    return {'got': e}\n")
    for bad in ("not json", '{"a": NaN}', "[" * 5000):
        response = requests.post(url(cloud, api_id, "/x"), data=bad, timeout=30)
        assert response.status_code == 400
        assert response.json()["message"].startswith("Could not parse request body into json")
    assert requests.post(url(cloud, api_id, "/x"), json={"a": 1}, timeout=30).json() == {"got": {"a": 1}}


def test_the_integration_timeout_answers_504_while_the_function_runs(cloud, deploy_api):
    api_id = deploy_api(["/x"], source=MISBEHAVING, timeout_ms=1000, Timeout=10)
    started = time.monotonic()
    response = requests.post(url(cloud, api_id, "/x"), data="slow", headers={"x-sleep": "4"}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert elapsed < 3.5  # answered at TimeoutInMillis, not when the 4 s function finished


@pytest.mark.slow
def test_the_29_second_limit_is_applied_at_29_seconds(cloud, deploy_api):
    api_id = deploy_api(["/x"], source=MISBEHAVING, Timeout=60)
    started = time.monotonic()
    response = requests.post(url(cloud, api_id, "/x"), data="slow", headers={"x-sleep": "40"}, timeout=60)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert 28.5 < elapsed < 33


def test_header_names_reach_the_function_as_the_client_wrote_them(cloud, deploy_api):
    """REST APIs pass header names through unchanged: event["headers"].get("day") works on AWS (issue 16)."""
    api_id = deploy_api(["/echo"])
    target = urlsplit(url(cloud, api_id, "/echo"))
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    connection.request("GET", target.path, headers={"day": "Tuesday", "X-MiXeD": "yes"})
    event = json.loads(connection.getresponse().read())
    assert event["headers"]["day"] == "Tuesday" and event["headers"]["X-MiXeD"] == "yes"
    assert event["multiValueHeaders"]["day"] == ["Tuesday"]
    assert "Day" not in event["headers"] and "X-Mixed" not in event["headers"]
