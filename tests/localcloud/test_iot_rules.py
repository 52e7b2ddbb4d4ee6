"""IoT topic rules through boto3: the smart-thermostat rule, every action kind, errorAction, refusals."""

from __future__ import annotations

import base64
import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/iot-rules"
CLASSIFIER = """
import json

def handler(event, context):
    sound = event["state"]["reported"]["sound"]
    print(json.dumps({"classified": event}))
    return {"statusCode": 200, "body": {"predicted_label": 1 if sound > 10 else 0}}
"""
RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"ok": True}
"""


def subscribe_queue(aws, topic_arn: str, queue_url: str, queue_arn: str) -> None:
    """Subscribe the queue with raw delivery, after the queue policy SNS needs to deliver to it
    (https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html)."""
    aws("sqs").set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]})})
    aws("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})


@pytest.fixture
def queue(aws, unique):
    """``queue("name")`` -> (url, arn) of a new queue; ``messages(url)`` drains what arrives."""
    sqs = aws("sqs")

    def make(name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=f"{name}-{unique}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return make


def receive(aws, url: str, expected: int, timeout: float = 10.0) -> list[str]:
    """Bodies of the first ``expected`` messages on the queue (fails if fewer arrive in time)."""
    sqs, bodies = aws("sqs"), []
    deadline = time.monotonic() + timeout
    while len(bodies) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(bodies) >= expected, f"expected {expected} messages, got {bodies}"
    return bodies


def quiet(aws, url: str, seconds: float = 1.0) -> list[str]:
    """What else arrives on the queue within ``seconds`` (to show that nothing more does)."""
    response = aws("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=int(seconds))
    return [m["Body"] for m in response.get("Messages", [])]


def sqs_rule(aws, name: str, sql: str, queue_url: str) -> None:
    aws("iot").create_topic_rule(ruleName=name, topicRulePayload={
        "sql": sql, "awsIotSqlVersion": "2016-03-23",
        "actions": [{"sqs": {"queueUrl": queue_url, "roleArn": ROLE}}]})


def allow_iot(aws, function_name: str, rule_name: str) -> None:
    rule_arn = aws("iot").get_topic_rule(ruleName=rule_name)["ruleArn"]
    aws("lambda").add_permission(FunctionName=function_name, StatementId=f"iot-{rule_name}",
                                 Action="lambda:InvokeFunction", Principal="iot.amazonaws.com", SourceArn=rule_arn,
                                 SourceAccount=rule_arn.split(":")[4])


def test_smart_thermostat_rule_writes_the_prediction_back_to_the_shadow(aws, make_function, queue, unique):
    iot, data = aws("iot"), aws("iot-data")
    function = make_function({"app.py": CLASSIFIER}, FunctionName=f"classifyRoomOccupancy-{unique}")
    function_arn = aws("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    thing = f"thermostat_{unique}"
    iot.create_thing(thingName=thing)
    rule = f"occupancy_{unique}"
    # The tutorial's own statement (its FROM covers every thing: this rule may see other tests' shadows, and
    # the WHERE clause and the Lambda keep it to reported sound levels).
    iot.create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": f'SELECT cast(get(get(aws_lambda("{function_arn}", *), "body"), "predicted_label") AS Boolean) '
               "AS state.desired.roomOccupancy FROM '$aws/things/+/shadow/update/accepted' "
               "WHERE state.reported.sound <> Null",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"topic": "$$aws/things/${topic(3)}/shadow/update", "roleArn": ROLE}}]})
    allow_iot(aws, function, rule)
    accepted_url, _ = queue("accepted")
    delta_url, _ = queue("delta")
    sqs_rule(aws, f"accepted_{unique}", f"SELECT * FROM '$aws/things/{thing}/shadow/update/accepted'", accepted_url)
    sqs_rule(aws, f"delta_{unique}", f"SELECT * FROM '$aws/things/{thing}/shadow/update/delta'", delta_url)

    data.update_thing_shadow(thingName=thing, payload=json.dumps({"state": {"reported": {"sound": 42}}}))

    def desired():
        document = json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())
        return document if "desired" in document["state"] else None

    document = wait_for(desired, timeout=15)
    assert document["state"]["desired"] == {"roomOccupancy": True}  # a JSON boolean, not 1 or "true"
    assert document["state"]["delta"] == {"roomOccupancy": True}
    assert document["version"] == 2
    delta = json.loads(receive(aws, delta_url, 1)[0])
    assert delta["state"] == {"roomOccupancy": True} and delta["version"] == 2
    # The republished update is desired-only: state.reported.sound is Undefined there, Undefined <> Null is
    # Undefined, so the WHERE clause does not pass and the rule does not fire again.
    accepted = [json.loads(body) for body in receive(aws, accepted_url, 2)]
    assert [sorted(a["state"]) for a in accepted] == [["reported"], ["desired"]]
    assert quiet(aws, accepted_url) == []
    assert json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())["version"] == 2
    # Its FROM covers every thing: left in place it would answer the other tests' shadow updates too.
    iot.delete_topic_rule(ruleName=rule)


def test_aws_lambda_needs_a_permission_for_iot(aws, make_function, queue, unique):
    function = make_function({"app.py": CLASSIFIER})
    function_arn = aws("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    url, _ = queue("unpermitted")
    rule = f"unpermitted_{unique}"
    aws("iot").create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": f"SELECT aws_lambda('{function_arn}', *) AS result FROM 'unpermitted/{unique}'",
        "awsIotSqlVersion": "2016-03-23", "actions": [{"sqs": {"queueUrl": url, "roleArn": ROLE}}]})
    payload = json.dumps({"state": {"reported": {"sound": 1}}})
    aws("iot-data").publish(topic=f"unpermitted/{unique}", payload=payload)
    assert quiet(aws, url, 2) == []  # no permission: the SQL fails and no action runs
    allow_iot(aws, function, rule)
    aws("iot-data").publish(topic=f"unpermitted/{unique}", payload=payload)
    assert json.loads(receive(aws, url, 1)[0]) == {"result": {"statusCode": 200, "body": {"predicted_label": 0}}}


def test_every_action_kind_reaches_its_target(aws, make_function, queue, unique):
    iot, dynamodb, s3 = aws("iot"), aws("dynamodb"), aws("s3")
    plain_url, _ = queue("plain")
    encoded_url, _ = queue("encoded")
    via_sns_url, via_sns_arn = queue("via-sns")
    republished_url, _ = queue("republished")
    topic_arn = aws("sns").create_topic(Name=f"iot-{unique}")["TopicArn"]
    subscribe_queue(aws, topic_arn, via_sns_url, via_sns_arn)
    for table, keys in ((f"v2-{unique}", [("deviceId", "HASH")]), (f"v1-{unique}", [("device", "HASH"), ("ts", "RANGE")])):
        dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
                              AttributeDefinitions=[{"AttributeName": n, "AttributeType": "N" if n == "ts" else "S"}
                                                    for n, _ in keys])
    bucket = f"iot-actions-{unique}"
    s3.create_bucket(Bucket=bucket)
    log_group = f"/iot/actions-{unique}"
    aws("logs").create_log_group(logGroupName=log_group)
    recorder = make_function({"app.py": RECORDER})
    recorder_arn = aws("lambda").get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    rule = f"all_actions_{unique}"
    sqs_rule(aws, f"republished_{unique}", f"SELECT * FROM 'republished/{unique}/+'", republished_url)
    iot.create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": f"SELECT deviceId, temperature, temperature * 2 AS doubled FROM 'sensors/{unique}/+'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {"sqs": {"queueUrl": plain_url, "roleArn": ROLE}},
            {"sqs": {"queueUrl": encoded_url, "roleArn": ROLE, "useBase64": True}},
            {"sns": {"targetArn": topic_arn, "roleArn": ROLE, "messageFormat": "RAW"}},
            {"republish": {"topic": f"republished/{unique}/${{topic(3)}}", "roleArn": ROLE, "qos": 1}},
            {"dynamoDBv2": {"putItem": {"tableName": f"v2-{unique}"}, "roleArn": ROLE}},
            {"dynamoDB": {"tableName": f"v1-{unique}", "roleArn": ROLE, "hashKeyField": "device",
                          "hashKeyValue": "${topic(3)}", "rangeKeyField": "ts", "rangeKeyType": "NUMBER",
                          "rangeKeyValue": "${seq}", "payloadField": "reading"}},
            {"s3": {"bucketName": bucket, "key": "${topic(3)}/${seq}.json", "roleArn": ROLE}},
            {"cloudwatchLogs": {"logGroupName": log_group, "roleArn": ROLE}},
            {"lambda": {"functionArn": recorder_arn}},
        ]})
    allow_iot(aws, recorder, rule)
    aws("iot-data").publish(topic=f"sensors/{unique}/dev1", qos=1,
                            payload=json.dumps({"deviceId": "dev1", "temperature": 21.5, "seq": 7, "extra": "x"}))
    expected = {"deviceId": "dev1", "temperature": 21.5, "doubled": 43}

    assert json.loads(receive(aws, plain_url, 1)[0]) == expected
    assert json.loads(base64.b64decode(receive(aws, encoded_url, 1)[0])) == expected
    assert json.loads(receive(aws, via_sns_url, 1)[0]) == expected
    assert json.loads(receive(aws, republished_url, 1)[0]) == expected
    item = wait_for(lambda: dynamodb.get_item(TableName=f"v2-{unique}", Key={"deviceId": {"S": "dev1"}}).get("Item"))
    assert item == {"deviceId": {"S": "dev1"}, "temperature": {"N": "21.5"}, "doubled": {"N": "43"}}
    item = wait_for(lambda: dynamodb.get_item(TableName=f"v1-{unique}",
                                              Key={"device": {"S": "dev1"}, "ts": {"N": "7"}}).get("Item"))
    assert item["reading"]["M"]["doubled"] == {"N": "43"}
    body = wait_for(lambda: _object(s3, bucket, "dev1/7.json"))
    assert json.loads(body) == expected
    events = wait_for(lambda: aws("logs").filter_log_events(logGroupName=log_group)["events"])
    assert json.loads(events[0]["message"]) == expected
    logged = wait_for(lambda: [m for m in _log_messages(aws, f"/aws/lambda/{recorder}") if m.startswith("EVENT ")],
                      timeout=20)
    assert json.loads(logged[0][len("EVENT "):]) == expected


def _log_messages(aws, group: str) -> list[str]:
    try:
        return [e["message"] for e in aws("logs").filter_log_events(logGroupName=group)["events"]]
    except ClientError:  # the group appears with the function's first log line
        return []


def _object(s3, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError:
        return None


def test_sns_json_message_format_sends_per_protocol_messages(aws, queue, unique):
    url, arn = queue("sns-json")
    topic_arn = aws("sns").create_topic(Name=f"iot-json-{unique}")["TopicArn"]
    subscribe_queue(aws, topic_arn, url, arn)
    aws("iot").create_topic_rule(ruleName=f"sns_json_{unique}", topicRulePayload={
        "sql": f"SELECT VALUE {{'default': 'fallback', 'sqs': concat('temp=', temperature)}} FROM 'json/{unique}'",
        "awsIotSqlVersion": "2016-03-23",
        "actions": [{"sns": {"targetArn": topic_arn, "roleArn": ROLE, "messageFormat": "JSON"}}]})
    aws("iot-data").publish(topic=f"json/{unique}", payload=b'{"temperature": 30}')
    assert receive(aws, url, 1) == ["temp=30"]


def test_error_action_receives_the_documented_failure_payload(aws, make_function, queue, unique):
    errors_url, _ = queue("errors")
    missing_queue = errors_url.rsplit("/", 1)[0] + f"/missing-{unique}"
    function = make_function({"app.py": RECORDER})  # no permission for IoT: the lambda action fails too
    function_arn = aws("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    rule = f"failing_{unique}"
    aws("iot").create_topic_rule(ruleName=rule, topicRulePayload={
        "sql": f"SELECT * FROM 'failing/{unique}'", "awsIotSqlVersion": "2016-03-23",
        "actions": [{"sqs": {"queueUrl": missing_queue, "roleArn": ROLE}}, {"lambda": {"functionArn": function_arn}}],
        "errorAction": {"sqs": {"queueUrl": errors_url, "roleArn": ROLE}}})
    payload = b'{"reading": 1}'
    aws("iot-data").publish(topic=f"failing/{unique}", payload=payload)
    report = json.loads(receive(aws, errors_url, 1)[0])
    assert report["ruleName"] == rule and report["topic"] == f"failing/{unique}"
    assert report["clientId"] == "n/a" and report["cloudwatchTraceId"]
    assert base64.b64decode(report["base64OriginalPayload"]) == payload
    failures = {f["failedAction"]: f for f in report["failures"]}
    assert set(failures) == {"SqsAction", "LambdaAction"}  # one message per rule and message, both failures
    assert failures["SqsAction"]["failedResource"] == missing_queue
    assert "not authorized" in failures["LambdaAction"]["errorMessage"]
    assert failures["LambdaAction"]["failedResource"] == function_arn


def test_bad_sql_and_unsupported_actions_are_refused_with_clear_messages(aws, unique):
    iot = aws("iot")
    with pytest.raises(ClientError) as raised:
        iot.create_topic_rule(ruleName=f"bad_sql_{unique}", topicRulePayload={
            "sql": "SELECT temperature FROM 'a/b' WHERE temperature IS NOT NULL", "actions": []})
    assert raised.value.response["Error"]["Code"] == "SqlParseException"
    assert "isNull" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        iot.create_topic_rule(ruleName=f"bad_fn_{unique}", topicRulePayload={
            "sql": "SELECT machinelearning_predict('m', 'r', *) FROM 'a/b'", "actions": []})
    assert "machinelearning_predict()" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        iot.create_topic_rule(ruleName=f"kinesis_{unique}", topicRulePayload={
            "sql": "SELECT * FROM 'a/b'",
            "actions": [{"kinesis": {"streamName": "s", "roleArn": ROLE}}]})
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "cannot perform the kinesis action" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:  # the republish documentation: job topics are not supported
        iot.create_topic_rule(ruleName=f"jobs_{unique}", topicRulePayload={
            "sql": "SELECT * FROM 'a/b'",
            "actions": [{"republish": {"topic": "$$aws/things/t/jobs/get", "roleArn": ROLE}}]})
    assert "job topics" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        iot.create_topic_rule(ruleName="has-hyphen", topicRulePayload={"sql": "SELECT * FROM 'a'", "actions": []})
    assert "ruleName" in raised.value.response["Error"]["Message"]
    names = [r["ruleName"] for r in iot.list_topic_rules()["rules"]]
    assert not any(n.endswith(unique) and n.startswith(("bad_", "kinesis_", "jobs_")) for n in names)


def test_rule_lifecycle_get_list_disable_replace_delete(aws, queue, unique):
    iot, data = aws("iot"), aws("iot-data")
    url, _ = queue("lifecycle")
    name = f"lifecycle_{unique}"
    sqs_rule(aws, name, f"SELECT 'v1' AS version FROM 'life/{unique}'", url)
    rule = iot.get_topic_rule(ruleName=name)
    assert rule["ruleArn"].endswith(f":rule/{name}")
    assert rule["rule"]["sql"] == f"SELECT 'v1' AS version FROM 'life/{unique}'"
    assert rule["rule"]["ruleDisabled"] is False and rule["rule"]["awsIotSqlVersion"] == "2016-03-23"
    listed = iot.list_topic_rules(topic=f"life/{unique}")["rules"]
    assert [(r["ruleName"], r["topicPattern"]) for r in listed] == [(name, f"life/{unique}")]
    with pytest.raises(ClientError) as raised:
        sqs_rule(aws, name, "SELECT * FROM 'x'", url)
    assert raised.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"

    iot.disable_topic_rule(ruleName=name)
    assert iot.get_topic_rule(ruleName=name)["rule"]["ruleDisabled"] is True
    data.publish(topic=f"life/{unique}", payload=b"{}")
    assert quiet(aws, url) == []  # a disabled rule does not fire
    iot.enable_topic_rule(ruleName=name)
    iot.replace_topic_rule(ruleName=name, topicRulePayload={
        "sql": f"SELECT 'v2' AS version FROM 'life/{unique}'", "awsIotSqlVersion": "2016-03-23",
        "actions": [{"sqs": {"queueUrl": url, "roleArn": ROLE}}]})
    data.publish(topic=f"life/{unique}", payload=b"{}")
    assert receive(aws, url, 1) == ['{"version":"v2"}']

    iot.delete_topic_rule(ruleName=name)
    # AWS answers a rule that does not exist with UnauthorizedException, not ResourceNotFoundException.
    with pytest.raises(ClientError) as raised:
        iot.get_topic_rule(ruleName=name)
    assert raised.value.response["Error"]["Code"] == "UnauthorizedException"
    data.publish(topic=f"life/{unique}", payload=b"{}")
    assert quiet(aws, url) == []


def test_a_rule_republishing_onto_its_own_topic_stops_after_the_hop_limit(aws, queue, unique):
    # AWS's documentation warns that such a rule loops forever and refuses none at creation (it says
    # nothing about self-loops beyond that warning); localcloud accepts it as AWS does and cuts the
    # chain after MAX_HOPS republishes, so the first publish plus 8 hops reach the queue.
    url, _ = queue("loop")
    aws("iot").create_topic_rule(ruleName=f"loop_{unique}", topicRulePayload={
        "sql": f"SELECT * FROM 'loop/{unique}'", "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"topic": f"loop/{unique}", "roleArn": ROLE}},
                    {"sqs": {"queueUrl": url, "roleArn": ROLE}}]})
    aws("iot-data").publish(topic=f"loop/{unique}", payload=b'{"n": 1}')
    assert len(receive(aws, url, 9)) == 9
    assert quiet(aws, url, 2) == []
    aws("iot").delete_topic_rule(ruleName=f"loop_{unique}")


def test_publish_refuses_wildcards_and_oversized_payloads(aws):
    data = aws("iot-data")
    with pytest.raises(ClientError) as raised:
        data.publish(topic="a/+/b", payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(ClientError) as raised:
        data.publish(topic="a/b", payload=b"x" * (128 * 1024 + 1))
    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"


def test_health_lists_iot_and_things_stay_with_moto(cloud, aws, unique):
    services = json.loads(urllib.request.urlopen(f"{cloud.endpoint_url}/_localcloud/health").read())["services"]
    assert {"iot", "iot-data"} <= set(services)
    iot = aws("iot")
    iot.create_thing(thingName=f"registry_{unique}", attributePayload={"attributes": {"room": "lab"}})
    assert iot.describe_thing(thingName=f"registry_{unique}")["attributes"] == {"room": "lab"}


def test_basic_ingest_reaches_the_named_rule_only_with_the_prefix_removed(aws, queue, unique):
    # iot-basic-ingest.html: publishing to $aws/rules/<rule name>/<topic> triggers that rule alone, and
    # topic() does not include the $aws/rules/<rule name> prefix.
    url, _ = queue("ingest")
    name = f"ingest_{unique}"
    sqs_rule(aws, name, "SELECT topic() AS topic, topic(2) AS floor, reading FROM 'unrelated/filter'", url)
    aws("iot-data").publish(topic=f"$aws/rules/{name}/buildings/floor2/room201", payload=b'{"reading": 5}')
    assert json.loads(receive(aws, url, 1)[0]) == {"topic": "buildings/floor2/room201", "floor": "floor2",
                                                   "reading": 5}
