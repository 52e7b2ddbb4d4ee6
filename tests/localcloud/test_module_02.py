"""Module 2's templates and functions on localcloud: the S3 -> Lambda -> SQS -> Lambda pipeline, the
inference function answering exactly as a SageMaker endpoint does for the same artifact, and the
break-glass stack created with the awscli commands the README gives."""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
import requests

from localcloud.algorithms.linear_learner import hyperparameters, learner
from mlformats.linear_learner import LinearLearnerModel
from tests.localcloud.conftest import run, wait_for, wait_for_stack
from tests.localcloud.sagemaker_support import deploy
from workshop.datasets import wild_rydes
from workshop.lambdas import package_lambda
from workshop.target import ROOT

CURL_BODY = {"distance": 30, "healthpoints": 30, "magicpoints": 2500, "TMAX": 333, "TMIN": 300, "PRCP": 0}
LINEAR_LEARNER_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
TAG = {"workshop": "serverless-ml"}
STATIONS = json.dumps({s.id: [s.latitude, s.longitude] for s in wild_rydes.STATIONS})





@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The generated rides joined with their stations' weather, as the notebook joins them."""
    generated = wild_rydes.generate(tmp_path_factory.mktemp("wild-rydes"))
    rides = wild_rydes.load_rides(generated.ride_files)
    weather = pd.concat([wild_rydes.load_dly(path) for path in generated.dly_files])
    stations = {s.id: (s.latitude, s.longitude) for s in wild_rydes.STATIONS}
    rides["station"] = [min(stations, key=lambda s: wild_rydes.haversine_km(lat, lon, *stations[s]))
                        for lat, lon in zip(rides.latitude, rides.longitude, strict=True)]
    rides["date"] = pd.to_datetime(rides.statustime).dt.date
    return generated, rides.merge(weather, on=["station", "date"])


@pytest.fixture(scope="module")
def artifact(data) -> bytes:
    """A Linear Learner binary classifier on the six features, trained by localcloud's learner."""
    _, joined = data
    sample = joined.iloc[:3000]
    params = hyperparameters.validate({"predictor_type": "binary_classifier", "mini_batch_size": "100",
                                       "epochs": "5"})
    fitted = learner.fit(sample[list(wild_rydes.FEATURES)].to_numpy(np.float32),
                         sample.fieldservice.to_numpy(np.float32), None, params, log=lambda line: None)
    return LinearLearnerModel(fitted.weights, fitted.bias, "binary_classifier", fitted.threshold).to_tar_gz()


def upload_code(aws, bucket: str, function: str) -> str:
    key = f"lambda/{function}.zip"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=package_lambda(function))
    return key


def test_the_pipeline_maps_every_ride_and_dead_letters_the_malformed_one(aws, base, data):
    generated, _ = data
    bucket = base["BucketName"]
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName="workshop-02-pipeline", Capabilities=["CAPABILITY_IAM"],
        TemplateBody=(ROOT / "cloudformation/02_wild_rydes_pipeline.yml").read_text(),
        Parameters=[{"ParameterKey": "IngestCodeKey", "ParameterValue": upload_code(aws, bucket, "ingest_rides")},
                    {"ParameterKey": "MapCodeKey", "ParameterValue": upload_code(aws, bucket, "map_ride_to_station")},
                    {"ParameterKey": "Stations", "ParameterValue": STATIONS}])
    outputs = wait_for_stack(cloudformation, "workshop-02-pipeline")
    functions = aws("lambda")
    for name in ("workshop-02-ingest-rides", "workshop-02-map-ride-to-station"):
        arn = functions.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        assert functions.list_tags(Resource=arn)["Tags"] == TAG

    s3 = aws("s3")
    days = generated.ride_files[:2]
    expected = sum(len(path.read_text().splitlines()) for path in days)
    for path in days:
        s3.put_object(Bucket=outputs["RidesBucket"], Key=f"rides/{path.name}", Body=path.read_bytes())
    s3.put_object(Bucket=outputs["RidesBucket"], Key="rides/broken.json",
                  Body=b'{"name": "Glitter", "statustime": "2019-05-06 09:00:00", "distance": 3.1}\n')

    def mapped() -> pd.DataFrame:
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=outputs["OutputPrefix"]) for o in page.get("Contents", [])]
        frames = [pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) for key in keys]
        return pd.concat(frames) if frames else pd.DataFrame()

    wait_for(lambda: len(mapped()) >= expected, timeout=90)
    rows = mapped()
    assert len(rows) == expected
    assert set(rows.station) == {s.id for s in wild_rydes.STATIONS}
    dead = wait_for(lambda: aws("sqs").receive_message(QueueUrl=outputs["DeadLetterQueueUrl"],
                                                       MaxNumberOfMessages=10).get("Messages"), timeout=60)
    assert [json.loads(m["Body"])["name"] for m in dead] == ["Glitter"]
    assert aws("sqs").list_queue_tags(QueueUrl=outputs["QueueUrl"])["Tags"] == TAG

    s3.delete_objects(Bucket=outputs["RidesBucket"], Delete={"Objects": [
        {"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=outputs["RidesBucket"])["Contents"]]})
    cloudformation.delete_stack(StackName="workshop-02-pipeline")
    cloudformation.get_waiter("stack_delete_complete").wait(StackName="workshop-02-pipeline",
                                                           WaiterConfig={"Delay": 1})
    assert not functions.list_event_source_mappings(FunctionName="workshop-02-map-ride-to-station")[
        "EventSourceMappings"]


def test_the_inference_function_answers_as_a_sagemaker_endpoint_does(cloud, aws, base, data, artifact):
    bucket = base["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="wild-rydes/test-model/model.tar.gz", Body=artifact)
    model_url = f"s3://{bucket}/wild-rydes/test-model/model.tar.gz"
    deploy(aws("sagemaker"), "workshop-wild-rydes-parity", model_url, image=LINEAR_LEARNER_IMAGE)
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName="workshop-02-inference", Capabilities=["CAPABILITY_IAM"],
        TemplateBody=(ROOT / "cloudformation/02_wild_rydes_inference.yml").read_text(),
        Parameters=[{"ParameterKey": "ModelDataUrl", "ParameterValue": model_url},
                    {"ParameterKey": "CodeKey", "ParameterValue": upload_code(aws, bucket, "model_inference")}])
    outputs = wait_for_stack(cloudformation, "workshop-02-inference")
    configuration = aws("lambda").get_function(FunctionName=outputs["FunctionName"])["Configuration"]
    assert configuration["Layers"][0]["Arn"] == \
        "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:16"

    _, joined = data
    rows = joined.iloc[-200:]
    features = rows[list(wild_rydes.FEATURES)].to_numpy(np.float64)
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in features)
    endpoint = json.loads(aws("sagemaker-runtime").invoke_endpoint(
        EndpointName="workshop-wild-rydes-parity", ContentType="text/csv", Accept="application/json",
        Body=body)["Body"].read())["predictions"]
    answers = []
    for row in rows[list(wild_rydes.FEATURES)].to_dict("records"):
        reply = aws("lambda").invoke(FunctionName=outputs["FunctionName"], Payload=json.dumps(row).encode())
        result = json.loads(reply["Payload"].read())
        assert result["statusCode"] == 200, result
        answers.append(json.loads(result["body"]))
    assert len(answers) == len(endpoint) == 200
    assert max(abs(a["score"] - e["score"]) for a, e in zip(answers, endpoint, strict=True)) <= 1e-5
    assert [a["predicted_label"] for a in answers] == [int(e["predicted_label"]) for e in endpoint]
    assert 0 < sum(a["predicted_label"] for a in answers) < 200  # both answers occur

    url = f"{cloud.endpoint_url}/_aws/execute-api/{outputs['ApiId']}/prod/"
    answer = requests.post(url, json=CURL_BODY, timeout=60)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"predicted_label", "score"}

    cloudformation.delete_stack(StackName="workshop-02-inference")
    cloudformation.get_waiter("stack_delete_complete").wait(StackName="workshop-02-inference",
                                                           WaiterConfig={"Delay": 1})
    aws("sagemaker").delete_endpoint(EndpointName="workshop-wild-rydes-parity")


def test_the_breakglass_stack_from_the_readme_answers_the_curl_body(cloud, aws, base, artifact):
    bucket = base["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="breakglass/wild-rydes/model.tar.gz", Body=artifact)
    env = {**os.environ, **cloud.env}
    code_key = run([sys.executable, "-m", "workshop.lambdas", "upload", "model_inference", f"s3://{bucket}/lambda/"],
                   env).stdout.strip()
    assert code_key == "lambda/model_inference.zip"
    run([sys.executable, "-m", "awscli", "cloudformation", "create-stack", "--stack-name", "workshop-02-breakglass",
         "--template-body", "file://cloudformation/breakglass/02_wild_rydes.yml",
         "--parameters", f"ParameterKey=ModelDataUrl,ParameterValue=s3://{bucket}/breakglass/wild-rydes/model.tar.gz",
         f"ParameterKey=CodeKey,ParameterValue={code_key}", "--capabilities", "CAPABILITY_IAM",
         "--tags", "Key=workshop,Value=serverless-ml"], env)
    outputs = wait_for_stack(aws("cloudformation"), "workshop-02-breakglass")

    url = f"{cloud.endpoint_url}/_aws/execute-api/{outputs['ApiId']}/prod/"
    answer = requests.post(url, data=json.dumps(CURL_BODY), headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 200, answer.text
    expected = LinearLearnerModel.load(artifact).predict(np.array([[30, 30, 2500, 300, 333, 0]]))[0]
    assert answer.json() == {"predicted_label": int(expected["predicted_label"]), "score": expected["score"]}
    bad = requests.post(url, json={"distance": 30, "healthpoints": "thirty"}, timeout=60)
    assert bad.status_code == 400
    assert bad.json() == {"message": "Missing field(s): magicpoints, TMIN, TMAX, PRCP"}

    run([sys.executable, "-m", "awscli", "cloudformation", "delete-stack", "--stack-name", "workshop-02-breakglass"],
        env)
    aws("cloudformation").get_waiter("stack_delete_complete").wait(StackName="workshop-02-breakglass",
                                                                  WaiterConfig={"Delay": 1})
