"""Module 1's break-glass stack on localcloud, created with the awscli commands the README gives: the
function answers the tutorial's shadow document, and a thermostat's shadow update is answered by
``state.desired.roomOccupancy``, written by the rule through ``aws_lambda()``.

Other tests of the session leave rules on ``$aws/things/+/shadow/update/accepted`` that answer with
the ``sound > 10`` rule; the shadow readings here are ones where that rule and the model agree, and
the function's own log shows that the break-glass rule asked it."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from botocore.exceptions import ClientError

from localcloud.algorithms.linear_learner import hyperparameters, learner
from mlformats.linear_learner import LinearLearnerModel
from tests.localcloud.conftest import run, wait_for, wait_for_stack
from workshop.datasets import thermostat
from workshop.target import ROOT

FUNCTION = ROOT / "lambda_src/classify_room_occupancy"
STACK = "workshop-01-breakglass"


def load_features():
    spec = importlib.util.spec_from_file_location("occupancy_features_under_test", FUNCTION / "occupancy_features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module





def model_artifact() -> bytes:
    """Linear Learner, trained on a week of the simulator with the function's own features."""
    features = load_features()
    readings = thermostat.simulate(days=7)
    rows = np.array([features.features(thermostat.shadow_update(row)["state"]["reported"], row["timestamp"],
                                       thermostat.UTC_OFFSET_HOURS) for _, row in readings.iterrows()],
                    dtype=np.float32)
    params = hyperparameters.validate({"predictor_type": "binary_classifier", "epochs": "5",
                                       "binary_classifier_model_selection_criteria": "f_beta"})
    fitted = learner.fit(rows, readings["occupied"].to_numpy(np.float32), None, params, log=lambda line: None)
    return LinearLearnerModel(fitted.weights, fitted.bias, "binary_classifier", fitted.threshold).to_tar_gz()


@pytest.fixture(scope="module")
def breakglass(cloud, aws, base):
    """The stack, made with the README's commands; deleted with awscli afterwards."""
    bucket = base["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="breakglass/thermostat/model.tar.gz", Body=model_artifact())
    env = {**os.environ, **cloud.env}
    code_key = run([sys.executable, "-m", "workshop.lambdas", "upload", "classify_room_occupancy",
                    f"s3://{bucket}/lambda/"], env).stdout.strip()
    assert code_key == "lambda/classify_room_occupancy.zip"
    run([sys.executable, "-m", "awscli", "cloudformation", "create-stack", "--stack-name", STACK,
         "--template-body", "file://cloudformation/breakglass/01_thermostat.yml",
         "--parameters", f"ParameterKey=ModelDataUrl,ParameterValue=s3://{bucket}/breakglass/thermostat/model.tar.gz",
         f"ParameterKey=CodeKey,ParameterValue={code_key}", "--capabilities", "CAPABILITY_IAM",
         "--tags", "Key=workshop,Value=serverless-ml"], env)
    outputs = wait_for_stack(aws("cloudformation"), STACK)
    yield outputs
    run([sys.executable, "-m", "awscli", "cloudformation", "delete-stack", "--stack-name", STACK], env)
    run([sys.executable, "-m", "awscli", "cloudformation", "wait", "stack-delete-complete", "--stack-name", STACK], env)
    assert "roomOccupancyEndpoint-breakglass" not in [
        e["EndpointName"] for e in aws("sagemaker").list_endpoints(NameContains="breakglass")["Endpoints"]]
    with pytest.raises(ClientError):
        aws("iot").get_topic_rule(ruleName="thermostatRule_breakglass")


def invoke(aws, function: str, event: dict) -> dict:
    reply = aws("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    assert "FunctionError" not in reply, reply["Payload"].read()
    return json.loads(reply["Payload"].read())


def test_the_stack_is_tagged_and_names_what_it_makes(aws, breakglass):
    assert breakglass == {"FunctionName": "classifyRoomOccupancy-breakglass", "RuleName": "thermostatRule_breakglass",
                          "EndpointName": "roomOccupancyEndpoint-breakglass"}
    rule = aws("iot").get_topic_rule(ruleName="thermostatRule_breakglass")
    assert rule["rule"]["awsIotSqlVersion"] == "2016-03-23"
    assert "aws_lambda(\"arn:aws:lambda:us-east-1:123456789012:function:classifyRoomOccupancy-breakglass\"" \
        in rule["rule"]["sql"]
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["Tags"] == [{"Key": "workshop", "Value": "serverless-ml"}]


def test_the_function_answers_the_tutorials_document_and_names_a_missing_sound(aws, breakglass):
    example = json.loads((FUNCTION / "events/shadow_update_accepted.json").read_text())
    answer = invoke(aws, breakglass["FunctionName"], example)
    assert answer["statusCode"] == 200
    assert answer["body"]["predicted_label"] in ("True", "False")
    assert 0.5 <= float(answer["body"]["probability"]) <= 1.0
    missing = json.loads((FUNCTION / "events/missing_sound.json").read_text())
    assert invoke(aws, breakglass["FunctionName"], missing) == {
        "statusCode": 400, "body": {"message": "Missing attributes: sound"}}


def test_the_readmes_shadow_update_is_answered_by_desired_room_occupancy(cloud, breakglass, tmp_path):
    env = {**os.environ, **cloud.env}
    (tmp_path / "reading.json").write_text(json.dumps({"state": {"reported": {
        "sound": 48, "temperature": 71.2, "hvacStatus": "STANDBY", "timestamp": 1795125600}}}))
    run([sys.executable, "-m", "awscli", "iot-data", "update-thing-shadow", "--thing-name", "workshop-thermostat",
         "--payload", f"fileb://{tmp_path / 'reading.json'}", "/dev/null"], env)

    def desired():
        run([sys.executable, "-m", "awscli", "iot-data", "get-thing-shadow", "--thing-name", "workshop-thermostat",
             str(tmp_path / "shadow.json")], env)
        return json.loads((tmp_path / "shadow.json").read_text())["state"].get("desired")

    assert wait_for(desired, timeout=20, interval=0.5) == {"roomOccupancy": True}
    run([sys.executable, "-m", "awscli", "iot-data", "delete-thing-shadow", "--thing-name", "workshop-thermostat",
         "/dev/null"], env)


@pytest.mark.parametrize(("moment", "reading", "occupied"), [
    ("03:00 on a Tuesday, nobody in", {"sound": 3, "temperature": 60.4, "hvacStatus": "HEATING"}, False),
    ("14:00 on a Tuesday, a meeting", {"sound": 48, "temperature": 71.2, "hvacStatus": "STANDBY"}, True),
])
def test_a_shadow_update_is_answered_by_desired_room_occupancy(aws, breakglass, unique, moment, reading, occupied):
    data, logs = aws("iot-data"), aws("logs")
    hour = int(moment[:2])
    timestamp = int(thermostat.START.timestamp()) + 86400 + hour * 3600  # Tuesday 2026-11-03
    thing = f"workshop-thermostat-{unique}-{hour}"
    data.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"reported": {**reading, "timestamp": timestamp}}}))

    def desired():
        try:
            document = json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())
        except ClientError:
            return None
        return document["state"].get("desired")

    assert wait_for(desired, timeout=15) == {"roomOccupancy": occupied}
    group = f"/aws/lambda/{breakglass['FunctionName']}"
    assert wait_for(lambda: [e for e in logs.filter_log_events(logGroupName=group)["events"]
                             if e["message"].startswith("REPORT")], timeout=10)
    data.delete_thing_shadow(thingName=thing)
