"""Module 4's templates and function on localcloud, driven only through S3 uploads: the module stack
(photo bucket, IdentifySpeciesAndNotify, SNS topic, SQS subscription) and the break-glass stack
created with the awscli commands the README gives.

The endpoint serves a real Image Classification artifact whose weights are freshly initialised
(seeded): these tests check the wiring and the refusals; the notebook checks the accuracy."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import time

import numpy as np
import pytest
import requests
import torch

from localcloud.algorithms.image_classification import hyperparameters, train
from localcloud.algorithms.image_classification.network import ResNet
from mlformats import im2rec
from tests.localcloud.conftest import run, wait_for, wait_for_stack
from workshop.datasets import birds
from workshop.target import ROOT

IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CLASS_NAMES = ",".join(birds.SPECIES)



def model_artifact(tmp_path) -> bytes:
    torch.manual_seed(4)
    params = hyperparameters.validate({"num_classes": "4", "num_training_samples": "4", "image_shape": "3,64,64",
                                       "num_layers": "18", "mini_batch_size": "8"})
    train.save(ResNet(18, 4), tmp_path / "model", 1, params)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted((tmp_path / "model").iterdir()):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def photo(species: str, seed: int) -> bytes:
    image, _ = birds.photograph(species, np.random.default_rng(seed))
    return im2rec.encode_image(image)




@pytest.fixture(scope="module")
def model_url(aws, base, tmp_path_factory):
    aws("s3").put_object(Bucket=base["BucketName"], Key="birds-model/model.tar.gz",
                         Body=model_artifact(tmp_path_factory.mktemp("birds-model")))
    return f"s3://{base['BucketName']}/birds-model/model.tar.gz"


@pytest.fixture(scope="module")
def code_key(cloud, base):
    return run([sys.executable, "-m", "workshop.lambdas", "upload", "identify_species_and_notify",
                f"s3://{base['BucketName']}/lambda/"], {**os.environ, **cloud.env}).stdout.strip()


def received(aws, queue_url: str, expected: int, settle: float = 2.0) -> list[str]:
    """Every message in the queue once ``expected`` have arrived and no more came for ``settle`` s."""
    sqs, messages = aws("sqs"), []
    deadline = time.monotonic() + 60
    quiet_since = None
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in batch:
            messages.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if len(messages) >= expected and not batch:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                break
        else:
            quiet_since = None
    return messages


def log_messages(aws, group: str) -> list[str]:
    return [e["message"] for e in aws("logs").filter_log_events(logGroupName=group)["events"]]


@pytest.fixture(scope="module")
def module_stack(aws, base, model_url, code_key):
    sagemaker = aws("sagemaker")
    sagemaker.create_model(ModelName="workshop-birds-test", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url})
    sagemaker.create_endpoint_config(EndpointConfigName="workshop-birds-test", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "workshop-birds-test", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName="nabirds-species-identifier", EndpointConfigName="workshop-birds-test")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="nabirds-species-identifier",
                                                     WaiterConfig={"Delay": 0.5, "MaxAttempts": 240})
    cloudformation = aws("cloudformation")
    parameters = {"CodeKey": code_key, "ClassNames": CLASS_NAMES}
    cloudformation.create_stack(StackName="workshop-04-birds", TemplateBody=(ROOT / "cloudformation/04_birds.yml")
                                .read_text(), Capabilities=["CAPABILITY_IAM"],
                                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    yield wait_for_stack(cloudformation, "workshop-04-birds")
    sagemaker.delete_endpoint(EndpointName="nabirds-species-identifier")


def test_only_jpegs_under_birds_are_identified_and_a_corrupt_one_is_logged(aws, module_stack):
    s3, bucket = aws("s3"), module_stack["PhotoBucketName"]
    assert bucket == "workshop-birds-123456789012-us-east-1"
    card = photo("Northern Cardinal", 1)
    s3.put_object(Bucket=bucket, Key="birds/card.jpg", Body=card)
    s3.put_object(Bucket=bucket, Key="birds/back yard/my bird+1.jpg", Body=photo("Purple Martin", 2))
    s3.put_object(Bucket=bucket, Key="other/x.jpg", Body=card)
    s3.put_object(Bucket=bucket, Key="birds/x.png", Body=im2rec.encode_image(
        birds.photograph("Eastern Bluebird", np.random.default_rng(3))[0], "PNG"))
    s3.put_object(Bucket=bucket, Key="birds/bad.jpg", Body=b"\xff\xd8\xff\xe0 a truncated photo")
    s3.put_object(Bucket=bucket, Key="birds/notes.jpg", Body=b"not a photo at all")

    messages = received(aws, module_stack["QueueUrl"], expected=2)
    assert len(messages) == 2, messages
    by_key = {m.split("]", 1)[0].removeprefix("Bird ["): m for m in messages}
    assert set(by_key) == {"birds/card.jpg", "birds/back yard/my bird+1.jpg"}
    for message in by_key.values():
        first, link = message.splitlines()
        assert any(f"a: {species}(" in first for species in birds.SPECIES), first
        url = link.removeprefix("Photo (link valid for one hour): ")
        assert "X-Amz-Expires=3600" in url
    card_link = by_key["birds/card.jpg"].splitlines()[1].split(": ", 1)[1]
    assert requests.get(card_link, timeout=30).content == card

    group = "/aws/lambda/IdentifySpeciesAndNotify"
    logs = wait_for(lambda: (lambda lines: lines if sum("ERROR" in line for line in lines) >= 2 else None)(
        log_messages(aws, group)), timeout=30)
    assert any("ERROR s3://workshop-birds-123456789012-us-east-1/birds/bad.jpg was refused by endpoint "
               "nabirds-species-identifier" in line and "nothing was published" in line for line in logs), logs
    assert any("ERROR s3://workshop-birds-123456789012-us-east-1/birds/notes.jpg is not a JPEG or PNG image" in line
               for line in logs), logs
    assert sum(line.startswith("START RequestId") for line in logs) == 4  # never for other/ or .png
    assert not [line for line in logs if "Traceback" in line]


def test_the_bucket_notifies_the_function_and_everything_is_tagged(aws, module_stack):
    configuration = aws("s3").get_bucket_notification_configuration(Bucket=module_stack["PhotoBucketName"])
    [target] = configuration["LambdaFunctionConfigurations"]
    assert target["LambdaFunctionArn"].endswith(":function:IdentifySpeciesAndNotify")
    assert target["Events"] == ["s3:ObjectCreated:*"]
    rules = {r["Name"].lower(): r["Value"] for r in target["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "birds/", "suffix": ".jpg"}
    tag = {"Key": "workshop", "Value": "serverless-ml"}
    assert tag in aws("s3").get_bucket_tagging(Bucket=module_stack["PhotoBucketName"])["TagSet"]
    function = aws("lambda").get_function(FunctionName="IdentifySpeciesAndNotify")
    assert function["Tags"]["workshop"] == "serverless-ml"
    assert function["Configuration"]["Environment"]["Variables"]["CLASS_NAMES"] == CLASS_NAMES
    assert tag in aws("sns").list_tags_for_resource(ResourceArn=module_stack["TopicArn"])["Tags"]
    assert aws("sqs").list_queue_tags(QueueUrl=module_stack["QueueUrl"])["Tags"] == {"workshop": "serverless-ml"}


def test_the_stack_is_deleted_once_its_bucket_is_emptied(aws, module_stack):
    s3, bucket = aws("s3"), module_stack["PhotoBucketName"]
    keys = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    aws("cloudformation").delete_stack(StackName="workshop-04-birds")
    aws("cloudformation").get_waiter("stack_delete_complete").wait(StackName="workshop-04-birds",
                                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    # localcloud answers "does not exist" while the deletion is still in progress, which ends that waiter.
    wait_for(lambda: bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]])
    assert "IdentifySpeciesAndNotify" not in [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]


def test_the_breakglass_stack_from_the_readme_notifies_for_an_upload(cloud, aws, base, model_url, tmp_path):
    env = {**os.environ, **cloud.env}
    bucket = base["BucketName"]
    aws("s3").copy_object(Bucket=bucket, Key="breakglass/birds/model.tar.gz",
                          CopySource={"Bucket": bucket, "Key": "birds-model/model.tar.gz"})
    aws_cli = [sys.executable, "-m", "awscli"]
    code_key = run([sys.executable, "-m", "workshop.lambdas", "upload", "identify_species_and_notify",
                    f"s3://{bucket}/lambda/"], env).stdout.strip()
    assert code_key == "lambda/identify_species_and_notify.zip"
    run([*aws_cli, "cloudformation", "create-stack", "--stack-name", "workshop-04-breakglass",
         "--template-body", "file://cloudformation/breakglass/04_birds.yml",
         "--parameters", f"ParameterKey=ModelDataUrl,ParameterValue=s3://{bucket}/breakglass/birds/model.tar.gz",
         f"ParameterKey=CodeKey,ParameterValue={code_key}", "--capabilities", "CAPABILITY_IAM",
         "--tags", "Key=workshop,Value=serverless-ml"], env)
    outputs = wait_for_stack(aws("cloudformation"), "workshop-04-breakglass")
    assert outputs["EndpointName"] == "nabirds-species-identifier-breakglass"
    photos = outputs["PhotoBucketName"]
    assert photos == "workshop-birds-breakglass-123456789012-us-east-1"

    (tmp_path / "my-bird.jpg").write_bytes(photo("Eastern Bluebird", 5))
    run([*aws_cli, "s3", "cp", str(tmp_path / "my-bird.jpg"), f"s3://{photos}/birds/my-bird.jpg"], env)
    [message] = received(aws, outputs["QueueUrl"], expected=1)
    assert message.startswith("Bird [birds/my-bird.jpg] ")
    assert any(f"a: {species}(" in message for species in birds.SPECIES), message

    run([*aws_cli, "s3", "rm", f"s3://{photos}", "--recursive"], env)
    run([*aws_cli, "cloudformation", "delete-stack", "--stack-name", "workshop-04-breakglass"], env)
    aws("cloudformation").get_waiter("stack_delete_complete").wait(StackName="workshop-04-breakglass",
                                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    wait_for(lambda: photos not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]])
    assert not [e for e in aws("sagemaker").list_endpoints()["Endpoints"]
                if e["EndpointName"] == "nabirds-species-identifier-breakglass"]
