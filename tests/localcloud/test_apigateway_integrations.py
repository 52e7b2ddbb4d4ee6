"""API Gateway AWS and MOCK integrations with Velocity mapping templates (issue 16)."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError

from tests.localcloud.conftest import TEMPLATES, failure_reasons, settled, wait_for_stack

TRUST_APIGATEWAY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
TRUST_LAMBDA = TRUST_APIGATEWAY.replace("apigateway", "lambda")


@pytest.fixture(scope="module")
def api_role(aws):
    return aws("iam").create_role(RoleName="localcloud-test-apigateway",
                                  AssumeRolePolicyDocument=TRUST_APIGATEWAY)["Role"]["Arn"]


@pytest.fixture
def build_api(aws, unique):
    """A REST API with one method at ``path`` and the given integration; returns its stage URL for ``path``."""

    def build(cloud, integration: dict, responses: list[dict], method: str = "POST", path: str = "/x",
              method_responses: dict | None = None, stage_variables: dict | None = None,
              method_parameters: dict | None = None) -> str:
        apigateway = aws("apigateway")
        api_id = apigateway.create_rest_api(name=f"integrations-{unique}")["id"]
        parent = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        for part in [p for p in path.split("/") if p]:
            parent = apigateway.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
        apigateway.put_method(restApiId=api_id, resourceId=parent, httpMethod=method, authorizationType="NONE",
                              requestParameters=method_parameters or {})
        apigateway.put_integration(restApiId=api_id, resourceId=parent, httpMethod=method, **integration)
        for response in responses:
            status = response["statusCode"]
            apigateway.put_method_response(restApiId=api_id, resourceId=parent, httpMethod=method, statusCode=status,
                                           **(method_responses or {}).get(status, {}))
            apigateway.put_integration_response(restApiId=api_id, resourceId=parent, httpMethod=method, **response)
        apigateway.create_deployment(restApiId=api_id, stageName="dev", variables=stage_variables or {})
        return f"{cloud.endpoint_url}/_aws/execute-api/{api_id}/dev"

    return build


def refusal(aws, unique, **integration) -> str:
    apigateway = aws("apigateway")
    api_id = apigateway.create_rest_api(name=f"refused-{unique}")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    with pytest.raises(ClientError) as error:
        apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", **integration)
    assert error.value.response["Error"]["Code"] == "BadRequestException"
    return error.value.response["Error"]["Message"]


def test_put_integration_refuses_what_localcloud_cannot_perform(aws, unique, api_role):
    """PutIntegration answers BadRequestException for a request it cannot honour (API Gateway API reference,
    PutIntegration "Errors"); localcloud refuses there what it cannot run, instead of a 502 on every request."""
    other_role = aws("iam").create_role(RoleName=f"lambda-only-{unique}", AssumeRolePolicyDocument=TRUST_LAMBDA)
    cases = {
        "HTTP": dict(type="HTTP", integrationHttpMethod="GET", uri="https://example.com/"),
        "kinesis": dict(type="AWS", integrationHttpMethod="POST", credentials=api_role,
                        uri="arn:aws:apigateway:us-east-1:kinesis:action/PutRecord"),
        "cannot call the lambda service": dict(type="AWS", integrationHttpMethod="GET", credentials=api_role,
                                               uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions"),
        "not an action": dict(type="AWS", integrationHttpMethod="POST", credentials=api_role,
                              uri="arn:aws:apigateway:us-east-1:dynamodb:action/PutThing"),
        "Role ARN": dict(type="AWS", integrationHttpMethod="POST",
                         uri="arn:aws:apigateway:us-east-1:dynamodb:action/Scan"),
        "does not exist": dict(type="AWS", integrationHttpMethod="POST", uri="arn:aws:apigateway:us-east-1:sqs:action/"
                               "SendMessage", credentials="arn:aws:iam::123456789012:role/missing"),
        "permission to assume": dict(type="AWS", integrationHttpMethod="POST", credentials=other_role["Role"]["Arn"],
                                     uri="arn:aws:apigateway:us-east-1:sns:action/Publish"),
        "mapping expression parameter specified: method.bogus": dict(
            type="MOCK", requestParameters={"integration.request.header.x": "method.bogus"}),
        "parameter specified: method.request.querystring.undeclared": dict(
            type="MOCK", requestParameters={"integration.request.header.x": "method.request.querystring.undeclared"}),
        "passthrough behavior": dict(type="MOCK", passthroughBehavior="SOMETIMES"),
    }
    for expected, integration in cases.items():
        assert expected in refusal(aws, unique, **integration)


def test_integration_responses_need_their_method_response_and_declared_headers(aws, unique):
    """An integration response maps to an existing method response (PutIntegrationResponse statusCode), and its
    responseParameters may set only headers that method response declares (API Gateway API reference,
    PutIntegrationResponse and MethodResponse responseParameters)."""
    apigateway = aws("apigateway")
    api_id = apigateway.create_rest_api(name=f"responses-{unique}")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    method = dict(restApiId=api_id, resourceId=root, httpMethod="GET")
    apigateway.put_method(**method, authorizationType="NONE")
    apigateway.put_integration(**method, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    with pytest.raises(ClientError) as missing:
        apigateway.put_integration_response(**method, statusCode="200")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    apigateway.put_method_response(**method, statusCode="200",
                                   responseParameters={"method.response.header.X-Declared": False})
    with pytest.raises(ClientError) as undeclared:
        apigateway.put_integration_response(**method, statusCode="200",
                                            responseParameters={"method.response.header.X-Other": "'1'"})
    assert "method.response.header.X-Other" in undeclared.value.response["Error"]["Message"]
    apigateway.put_integration_response(**method, statusCode="200",
                                        responseParameters={"method.response.header.X-Declared": "'1'"})


def test_an_openapi_import_keeps_its_mappings_and_serves_them(aws, cloud, unique):
    """ImportRestApi creates the methods, integrations and integration responses that the document's
    x-amazon-apigateway-integration objects describe (developer guide, "API Gateway extensions to OpenAPI");
    its parameter mappings refer to the parameters and headers the document declares."""
    document = {"openapi": "3.0.1", "info": {"title": f"imported-{unique}", "description": "import", "version": "1"},
                "paths": {"/things/{id}": {"get": {
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok", "headers": {"X-Id": {"schema": {"type": "string"}}}}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "requestParameters": {"integration.request.header.x-id": "method.request.path.id"},
                        "responses": {"default": {"statusCode": "200",
                                                  "responseParameters": {"method.response.header.X-Id": "'fixed'"},
                                                  "responseTemplates": {"application/json":
                                                                        '{"id": "$input.params(\'id\')"}'}}}}}}}}
    api_id = aws("apigateway").import_rest_api(body=json.dumps(document).encode())["id"]
    aws("apigateway").create_deployment(restApiId=api_id, stageName="dev")
    response = requests.get(f"{cloud.endpoint_url}/_aws/execute-api/{api_id}/dev/things/7", timeout=10)
    assert response.status_code == 200, response.text
    assert (response.json(), response.headers["X-Id"]) == ({"id": "7"}, "fixed")


def test_mock_integration_answers_enable_cors_options(cloud, build_api):
    """An Enable-CORS OPTIONS method is a MOCK integration: the request template's statusCode selects the
    integration response, whose static header values ('*') become the method response's headers
    (API Gateway developer guide, "Enabling CORS for a REST API resource" and "MOCK integrations")."""
    headers = {name: "'*'" if name != "Access-Control-Allow-Methods" else "'GET,OPTIONS'" for name in
               ("Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods")}
    stage = build_api(
        cloud, {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
        [{"statusCode": "200", "responseParameters": {f"method.response.header.{k}": v for k, v in headers.items()},
          "responseTemplates": {"application/json": ""}}],
        method="OPTIONS",
        method_responses={"200": {"responseParameters": {f"method.response.header.{k}": True for k in headers}}},
    )
    response = requests.options(f"{stage}/x", timeout=10)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert response.content == b""


def test_mock_status_selects_integration_response_by_pattern_and_templates_see_the_request(cloud, build_api):
    """For non-Lambda integrations the selection pattern is matched against the status code (developer guide,
    "Integration responses"); templates see $input.params, $context, $stageVariables and $util as "Variables
    for data transformations for API Gateway" documents them, and a missing value renders as nothing."""
    response_template = (
        '{"code": "$input.params(\'code\')", "stage": "$context.stage", "method": "$context.httpMethod", '
        '"resource": "$context.resourcePath", "request": "$context.requestId", "flavour": "$stageVariables.flavour", '
        '"encoded": "$util.urlEncode(\'a b&c\')", "decoded": "$util.urlDecode(\'a+b%26c\')", '
        '"b64": "$util.base64Encode(\'hi\')", "plain": "$util.base64Decode(\'aGk=\')", '
        '"escaped": "$util.escapeJavaScript($input.params(\'quote\'))", "ip": "$context.identity.sourceIp", '
        '"absent": "$input.params(\'absent\')$input.path(\'$.absent\')$context.identity.apiKey", '
        '"params": $input.params().querystring.size(), "has": $input.params().querystring.containsKey("code")}'
    )
    stage = build_api(
        cloud, {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": $input.params("code")}'}},
        [{"statusCode": "200", "responseTemplates": {"application/json": response_template}},
         {"statusCode": "404", "selectionPattern": "4\\d{2}",
          "responseTemplates": {"application/json": '{"missing": "$input.params(\'code\')"}'}}],
        method="GET", path="/things", stage_variables={"flavour": "mint"},
    )
    ok = requests.get(f"{stage}/things", params={"code": "200", "quote": 'say "hi" à/b'}, timeout=10)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["code"] == "200" and body["stage"] == "dev" and body["method"] == "GET"
    assert body["resource"] == "/things" and body["flavour"] == "mint" and body["ip"] == "127.0.0.1"
    assert body["request"] == ok.headers["x-amzn-RequestId"]
    assert (body["encoded"], body["decoded"], body["b64"], body["plain"]) == ("a+b%26c", "a b&c", "aGk=", "hi")
    assert body["escaped"] == 'say "hi" à/b'
    assert '\\u00E0\\/' in ok.text  # escapeJavaScript writes non-ASCII and "/" as Java does
    assert body["absent"] == ""  # null references print nothing in API Gateway, not their own text
    assert (body["params"], body["has"]) == (2, True)  # maps answer Java's size() and containsKey()
    missing = requests.get(f"{stage}/things", params={"code": "404"}, timeout=10)
    assert missing.status_code == 404
    assert missing.json() == {"missing": "404"}


def test_the_response_template_is_chosen_by_accept(cloud, build_api):
    """The integration response's template for the content type the client accepts is applied and names the
    response's Content-Type; without a named match, application/json's (developer guide, "Mapping template
    transformations for REST APIs")."""
    stage = build_api(cloud, {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
                      [{"statusCode": "200", "responseTemplates": {"application/xml": "<ok/>",
                                                                   "application/json": '{"ok": true}'}}],
                      method="GET")
    xml = requests.get(f"{stage}/x", headers={"Accept": "application/xml"}, timeout=10)
    assert (xml.text, xml.headers["Content-Type"]) == ("<ok/>", "application/xml")
    anything = requests.get(f"{stage}/x", headers={"Accept": "*/*"}, timeout=10)
    assert (anything.json(), anything.headers["Content-Type"]) == ({"ok": True}, "application/json")


def test_templates_override_the_status_and_headers(cloud, build_api):
    """A response template sets $context.responseOverride.status and .header.NAME to override the method
    response's status code and headers (developer guide, "Override your API's request and response
    parameters and status codes for REST APIs")."""
    stage = build_api(cloud, {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
                      [{"statusCode": "200", "responseTemplates": {"application/json": (
                          '#set($context.responseOverride.status = 302)'
                          '#set($context.responseOverride.header.Location = "/elsewhere")moved')}}],
                      method="GET")
    response = requests.get(f"{stage}/x", allow_redirects=False, timeout=10)
    assert (response.status_code, response.headers["Location"], response.text) == (302, "/elsewhere", "moved")


@pytest.mark.parametrize("behavior, templates, content_type, expected", [
    ("WHEN_NO_MATCH", {"application/json": '{"statusCode": 201}'}, "text/plain", 200),
    ("WHEN_NO_MATCH", {"application/json": '{"statusCode": 201}'}, "application/json", 201),
    ("WHEN_NO_TEMPLATES", {}, "text/plain", 200),
    ("WHEN_NO_TEMPLATES", {"application/json": '{"statusCode": 201}'}, "text/plain", 415),
    ("NEVER", {"application/json": '{"statusCode": 201}'}, "text/plain", 415),
    ("NEVER", {}, "application/json", 415),
])
def test_passthrough_behavior_and_template_selection_by_content_type(cloud, build_api, behavior, templates,
                                                                     content_type, expected):
    """The request template is chosen by Content-Type; without one, PassthroughBehavior decides: WHEN_NO_MATCH
    passes the body through, WHEN_NO_TEMPLATES only when no template is defined, NEVER never; a refused
    request is 415 Unsupported Media Type (developer guide, "Method request behavior for payloads without
    mapping templates")."""
    stage = build_api(cloud, {"type": "MOCK", "passthroughBehavior": behavior, "requestTemplates": templates},
                      [{"statusCode": "200"}, {"statusCode": "201", "selectionPattern": "201"}])
    response = requests.post(f"{stage}/x", data='{"statusCode": 200}', headers={"Content-Type": content_type},
                             timeout=10)
    assert response.status_code == expected
    if expected == 415:
        assert response.json() == {"message": "Unsupported Media Type"}


@pytest.mark.parametrize("template", ["$util.parseJson('not json')", "#if($input.body", "$input.path('$.a')"])
def test_a_failing_mapping_template_is_a_500(cloud, build_api, template):
    """A mapping template that cannot be evaluated makes API Gateway answer 500 {"message": "Internal server
    error"}, the reason in the execution log (developer guide, "Troubleshooting mapping templates")."""
    stage = build_api(cloud, {"type": "MOCK", "requestTemplates": {"text/plain": template}}, [{"statusCode": "200"}])
    response = requests.post(f"{stage}/x", data="not json either", headers={"Content-Type": "text/plain"}, timeout=10)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}


def test_the_reason_of_a_failed_template_is_in_the_stage_execution_log(aws, cloud, build_api):
    """With the stage's loggingLevel at INFO, API Gateway writes each step and the failure reason to the
    API-Gateway-Execution-Logs_{restApiId}/{stageName} log group (developer guide, "Set up CloudWatch logging
    for REST APIs in API Gateway"), while the client gets only {"message": "Internal server error"}."""
    stage_url = build_api(cloud, {"type": "MOCK", "requestTemplates": {"application/json": "$util.parseJson('{')"}},
                          [{"statusCode": "200"}])
    api_id = stage_url.split("/")[-2]
    aws("apigateway").update_stage(restApiId=api_id, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"}])
    response = requests.post(f"{stage_url}/x", json={"a": 1}, timeout=10)
    assert response.status_code == 500 and response.json() == {"message": "Internal server error"}
    events = aws("logs").filter_log_events(logGroupName=f"API-Gateway-Execution-Logs_{api_id}/dev")["events"]
    messages = [event["message"] for event in events]
    request_id = response.headers["x-amzn-RequestId"]
    assert all(message.startswith(f"({request_id}) ") for message in messages)
    assert any('Method request body before transformations: {"a": 1}' in message for message in messages)
    assert any("parseJson" in message for message in messages)
    assert messages[-1].endswith("Method completed with status: 500")


def test_dynamodb_actions_put_get_query_and_scan(aws, cloud, build_api, api_role, unique):
    """AWS integrations with the action form (arn:aws:apigateway:{region}:dynamodb:action/{Action}) send the
    mapped body as that action's request and map the service's JSON answer (developer guide, "Tutorial:
    Create a REST API as an Amazon DynamoDB proxy")."""
    table = f"items-{unique}"
    aws("dynamodb").create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])

    def action(name: str, template: str, response_template: str | None = None, method: str = "POST",
               headers: dict | None = None) -> str:
        templates = {"application/json": response_template} if response_template else {}
        return build_api(cloud, {"type": "AWS", "integrationHttpMethod": "POST", "credentials": api_role,
                                 "uri": f"arn:aws:apigateway:us-east-1:dynamodb:action/{name}",
                                 "requestTemplates": {"application/json": template}},
                         [{"statusCode": "200", "responseTemplates": templates, "responseParameters": headers or {}},
                          {"statusCode": "400", "selectionPattern": "4\\d{2}"}], method=method,
                         method_responses={"200": {"responseParameters": dict.fromkeys(headers or {}, False)}})

    put = action("PutItem", f'{{"TableName": "{table}", "Item": {{"pk": {{"S": "$input.path(\'$.pk\')"}}, '
                            f'"data": {{"S": "$util.escapeJavaScript($input.json(\'$.data\'))"}}}}}}')
    for pk in ("a", "b"):
        assert requests.post(f"{put}/x", json={"pk": pk, "data": {"n": 1}}, timeout=10).status_code == 200
    get = action("GetItem", f'{{"TableName": "{table}", "Key": {{"pk": {{"S": "$input.params(\'pk\')"}}}}}}',
                 '#set($item = $input.path(\'$.Item\')){"pk": "$item.pk.S", "data": $item.data.S}', method="GET")
    assert requests.get(f"{get}/x", params={"pk": "a"}, timeout=10).json() == {"pk": "a", "data": {"n": 1}}
    query = action("Query", f'{{"TableName": "{table}", "KeyConditionExpression": "pk = :pk", '
                            f'"ExpressionAttributeValues": {{":pk": {{"S": "$input.params(\'pk\')"}}}}}}',
                   '{"count": $input.path(\'$.Count\')}', method="GET",
                   headers={"method.response.header.X-Count": "integration.response.body.Count",
                            "method.response.header.X-Type": "integration.response.header.Content-Type"})
    queried = requests.get(f"{query}/x", params={"pk": "b"}, timeout=10)
    assert queried.json() == {"count": 1}
    assert (queried.headers["X-Count"], queried.headers["X-Type"]) == ("1", "application/x-amz-json-1.0")
    scan = action("Scan", f'{{"TableName": "{table}"}}', "$input.json('$.Items[*].pk.S')", method="GET")
    assert sorted(requests.get(f"{scan}/x", timeout=10).json()) == ["a", "b"]
    missing = action("Scan", '{"TableName": "no-such-table"}', method="GET")
    refused = requests.get(f"{missing}/x", timeout=10)
    assert refused.status_code == 400
    assert "ResourceNotFoundException" in refused.text


def test_the_sdk_examples_profiles_api_stores_lists_and_reads_items(aws, cloud, api_role, unique):
    """The flow of the AWS SDK for Python example "API Gateway REST API backed by DynamoDB" (issue 16): Scan,
    PutItem and GetItem action integrations with JSON request templates, WHEN_NO_TEMPLATES, empty response
    templates (the service's answer passes through) and a GetItem key taken from $method.request.path."""
    table = f"profiles-{unique}"
    aws("dynamodb").create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                 AttributeDefinitions=[{"AttributeName": "username", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "username", "KeyType": "HASH"}])
    apigateway = aws("apigateway")
    api_id = apigateway.create_rest_api(name=f"profiles-{unique}")["id"]
    root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    profiles = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="profiles")["id"]
    username = apigateway.create_resource(restApiId=api_id, parentId=profiles, pathPart="{username}")["id"]
    for resource, verb, action, template in [
        (profiles, "GET", "Scan", {"TableName": table}),
        (profiles, "POST", "PutItem", {"TableName": table, "Item": {
            "username": {"S": "$input.path('$.username')"}, "title": {"S": "$input.path('$.title')"}}}),
        (username, "GET", "GetItem", {"TableName": table, "Key": {"username": {"S": "$method.request.path.username"}}}),
    ]:
        method = dict(restApiId=api_id, resourceId=resource, httpMethod=verb)
        apigateway.put_method(**method, authorizationType="NONE")
        apigateway.put_method_response(**method, statusCode="200", responseModels={"application/json": "Empty"})
        apigateway.put_integration(**method, type="AWS", integrationHttpMethod="POST", credentials=api_role,
                                   uri=f"arn:aws:apigateway:us-east-1:dynamodb:action/{action}",
                                   requestTemplates={"application/json": json.dumps(template)},
                                   passthroughBehavior="WHEN_NO_TEMPLATES")
        apigateway.put_integration_response(**method, statusCode="200", responseTemplates={"application/json": ""})
    apigateway.create_deployment(restApiId=api_id, stageName="test")
    url = f"{cloud.endpoint_url}/_aws/execute-api/{api_id}/test/profiles"
    for name, title in [("will", "playwright"), ("jane", "author")]:
        assert requests.post(url, json={"username": name, "title": title}, timeout=10).status_code == 200
    listed = requests.get(url, timeout=10).json()
    assert sorted(item["username"]["S"] for item in listed["Items"]) == ["jane", "will"]
    assert requests.get(f"{url}/jane", timeout=10).json()["Item"] == {"username": {"S": "jane"},
                                                                     "title": {"S": "author"}}


def test_sqs_sns_and_s3_integrations(aws, cloud, build_api, api_role, unique):
    """SQS SendMessage (path form with a form-encoded body), SNS Publish (action form with query string
    parameters) and S3 objects (path override with path parameters), as the developer guide's "Tutorial:
    Create a REST API as an Amazon S3 proxy" and the SQS/SNS integration examples configure them."""
    queue_url = aws("sqs").create_queue(QueueName=f"api-{unique}")["QueueUrl"]
    send = build_api(cloud, {
        "type": "AWS", "integrationHttpMethod": "POST", "credentials": api_role,
        "uri": f"arn:aws:apigateway:us-east-1:sqs:path/123456789012/api-{unique}",
        "requestParameters": {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
        "requestTemplates": {"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
    }, [{"statusCode": "200"}])
    assert requests.post(f"{send}/x", json={"order": 7}, timeout=10).status_code == 200
    messages = aws("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert json.loads(messages[0]["Body"]) == {"order": 7}

    topic = aws("sns").create_topic(Name=f"api-{unique}")["TopicArn"]
    aws("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]}]})})
    aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Attributes={"RawMessageDelivery": "true"},
                         Endpoint=aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                             "Attributes"]["QueueArn"])
    publish = build_api(cloud, {
        "type": "AWS", "integrationHttpMethod": "POST", "credentials": api_role,
        "uri": "arn:aws:apigateway:us-east-1:sns:action/Publish",
        "requestParameters": {"integration.request.querystring.TopicArn": f"'{topic}'",
                              "integration.request.querystring.Message": "method.request.querystring.message"},
    }, [{"statusCode": "200"}], method_parameters={"method.request.querystring.message": True})
    assert requests.post(f"{publish}/x", params={"message": "hello"}, timeout=10).status_code == 200
    assert aws("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]["Body"] == "hello"

    bucket = f"api-{unique}"
    aws("s3").create_bucket(Bucket=bucket)
    s3_integration = {
        "type": "AWS", "credentials": api_role,
        "uri": f"arn:aws:apigateway:us-east-1:s3:path/{bucket}/{{key}}",
        "requestParameters": {"integration.request.path.key": "method.request.path.key"},
    }
    declared = {"method.request.path.key": True}
    put = build_api(cloud, dict(s3_integration, integrationHttpMethod="PUT"), [{"statusCode": "200"}],
                    method="PUT", path="/{key}", method_parameters=declared)
    assert requests.put(f"{put}/notes.txt", data=b"stored via API", headers={"Content-Type": "text/plain"},
                        timeout=10).status_code == 200
    assert aws("s3").get_object(Bucket=bucket, Key="notes.txt")["Body"].read() == b"stored via API"
    get = build_api(cloud, dict(s3_integration, integrationHttpMethod="GET"), [{"statusCode": "200"}],
                    method="GET", path="/{key}", method_parameters=declared)
    assert requests.get(f"{get}/notes.txt", timeout=10).content == b"stored via API"
    renaming = dict(s3_integration, integrationHttpMethod="PUT", requestTemplates={"text/plain": (
        '#set($context.requestOverride.path.key = "renamed-$input.params(\'key\')")$input.body')})
    put_renamed = build_api(cloud, renaming, [{"statusCode": "200"}], method="PUT", path="/{key}",
                            method_parameters=declared)
    assert requests.put(f"{put_renamed}/a.txt", data="via override", headers={"Content-Type": "text/plain"},
                        timeout=10).status_code == 200
    assert aws("s3").get_object(Bucket=bucket, Key="renamed-a.txt")["Body"].read() == b"via override"


def test_lambda_invoke_as_a_non_proxy_aws_integration_with_templates(aws, cloud, build_api, make_function):
    """Lambda's invoke path as an AWS (non-proxy) integration: the request template builds the event, a
    function error's errorMessage is matched by the selection patterns, and the response template maps the
    result (developer guide, "Set up Lambda custom integrations in API Gateway")."""
    source = ("def handler(event, context):\n"
              "    if event['name'] == 'bad':\n"
              "        raise ValueError('Invalid name: bad')\n"
              "    return {'greeting': 'hello ' + event['name'], 'agent': event['agent'], 'raw': event['raw']}\n")
    function = make_function({"app.py": source})
    function_arn = aws("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    aws("lambda").add_permission(FunctionName=function, StatementId="apigw", Action="lambda:InvokeFunction",
                                 Principal="apigateway.amazonaws.com")
    stage = build_api(cloud, {
        "type": "AWS", "integrationHttpMethod": "POST",
        "uri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        "requestTemplates": {"application/json": '{"name": "$input.path(\'$.name\')", '
                                                 '"agent": "$input.params(\'User-Agent\')", '
                                                 '"raw": "$util.base64Encode($input.body)"}'},
    }, [{"statusCode": "200", "responseTemplates": {"application/json": '{"says": "$input.path(\'$.greeting\')"}'}},
        {"statusCode": "400", "selectionPattern": "Invalid name.*",
         "responseTemplates": {"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'}}])
    ok = requests.post(f"{stage}/x", json={"name": "ada"}, headers={"User-Agent": "probe"}, timeout=30)
    assert ok.status_code == 200 and ok.json() == {"says": "hello ada"}
    bad = requests.post(f"{stage}/x", json={"name": "bad"}, timeout=30)
    assert bad.status_code == 400 and bad.json() == {"error": "Invalid name: bad"}


def test_the_dynamodb_example_from_cloudformation_stores_and_lists_items(aws, cloud, unique):
    """The API Gateway -> DynamoDB example (developer guide, "Tutorial: Create a REST API as an Amazon DynamoDB
    proxy"), deployed with CreateStack: POST stores an item with PutItem, GET lists them with Scan."""
    cloudformation = aws("cloudformation")
    name = f"apigw-dynamodb-{unique}"
    cloudformation.create_stack(StackName=name, TemplateBody=(TEMPLATES / "apigateway_dynamodb.yml").read_text(),
                                Capabilities=["CAPABILITY_IAM"])
    outputs = wait_for_stack(cloudformation, name)
    items = f"{cloud.endpoint_url}/_aws/execute-api/{outputs['ApiId']}/prod/items"
    ids = []
    for count, label in enumerate(['plain', 'with "quotes"']):
        stored = requests.post(items, json={"name": label, "count": count}, timeout=10)
        assert stored.status_code == 200, stored.text
        ids.append(stored.json()["id"])
    listed = requests.get(items, timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.headers["Access-Control-Allow-Origin"] == "*"
    assert sorted((item["id"], item["name"], item["count"]) for item in listed.json()["items"]) == sorted(
        zip(ids, ['plain', 'with "quotes"'], [0, 1], strict=True))
    refused = requests.post(items, data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            timeout=10)
    assert refused.status_code == 415
    preflight = requests.options(items, timeout=10)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    cloudformation.delete_stack(StackName=name)


def test_cloudformation_fails_a_method_whose_integration_localcloud_cannot_perform(aws, unique):
    """A stack with an integration localcloud cannot run fails (CREATE_FAILED, then ROLLBACK_COMPLETE, as
    CloudFormation rolls back a failed creation) with the reason, instead of deploying an API that answers 502."""
    template = {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": f"http-{unique}"}},
        "Get": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": "GET", "AuthorizationType": "NONE",
            "Integration": {"Type": "HTTP_PROXY", "IntegrationHttpMethod": "GET", "Uri": "https://example.com/"}}},
    }}
    cloudformation = aws("cloudformation")
    name = f"apigw-http-{unique}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    assert settled(cloudformation, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("HTTP_PROXY is not supported" in reason for reason in failure_reasons(cloudformation, name))
    cloudformation.delete_stack(StackName=name)
