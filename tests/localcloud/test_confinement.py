"""Names from requests (S3 keys, manifest entries, archive members) never place a file outside its folder:
the job, endpoint or invocation fails with an error naming the offending input, and nothing is written."""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.localcloud.conftest import wait_for
from tests.localcloud.sagemaker_support import (
    BUCKET,
    breast_cancer_split,
    deploy,
    to_csv,
    training_request,
    wait_for_job,
)


@pytest.fixture(scope="module")
def bucket(aws):
    aws("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(scope="module")
def rows():
    x_train, _, y_train, _ = breast_cancer_split()
    return to_csv(x_train[:50], y_train[:50])


def nowhere_written(cloud, marker: str) -> bool:
    """No file named ``marker`` in /tmp (where the absolute names point) nor anywhere in the work folder
    (where the ``..`` names lead)."""
    in_work_dir = (name for _, folders, files in os.walk(cloud.work_dir) for name in folders + files)
    return not (Path("/tmp") / marker).exists() and marker not in set(in_work_dir)


@pytest.mark.parametrize("escape", ["/tmp/{marker}", "../../{marker}", "../{marker}"])
def test_an_s3_key_that_climbs_out_of_the_channel_fails_the_job(cloud, aws, bucket, rows, unique, escape):
    marker = f"escaped-{uuid.uuid4().hex}"
    prefix = f"escape-{unique}/train/"
    key = prefix + escape.format(marker=marker)
    aws("s3").put_object(Bucket=bucket, Key=prefix + "good.csv", Body=rows)
    aws("s3").put_object(Bucket=bucket, Key=key, Body=rows)

    name = f"escape-{unique}-{escape.count('.')}"
    aws("sagemaker").create_training_job(**training_request(name, f"s3://{bucket}/{prefix}",
                                                            hyperparameters={"num_round": 2}))
    job = wait_for_job(aws("sagemaker"), name)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f'ClientError: S3 object "s3://{bucket}/{key}" does not name a file '
                                           "inside its folder")
    assert nowhere_written(cloud, marker)


def test_a_manifest_entry_outside_the_channel_fails_the_job(cloud, aws, bucket, rows, unique):
    marker = f"escaped-{uuid.uuid4().hex}"
    prefix = f"s3://{bucket}/manifest-{unique}/"
    aws("s3").put_object(Bucket=bucket, Key=f"manifest-{unique}/good.csv", Body=rows)
    aws("s3").put_object(Bucket=bucket, Key=f"manifest-{unique}/../../{marker}", Body=rows)
    manifest = json.dumps([{"prefix": prefix}, "good.csv", f"../../{marker}"])
    aws("s3").put_object(Bucket=bucket, Key=f"manifest-{unique}.manifest", Body=manifest.encode())

    request = training_request(f"manifest-escape-{unique}", prefix, hyperparameters={"num_round": 2})
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"].update(
        S3DataType="ManifestFile", S3Uri=f"s3://{bucket}/manifest-{unique}.manifest")
    aws("sagemaker").create_training_job(**request)
    job = wait_for_job(aws("sagemaker"), request["TrainingJobName"])

    assert job["TrainingJobStatus"] == "Failed"
    assert f'manifest s3://{bucket}/manifest-{unique}.manifest entry "../../{marker}"' in job["FailureReason"]
    assert nowhere_written(cloud, marker)


def test_a_model_archive_member_outside_the_model_directory_fails_the_endpoint(cloud, aws, bucket, unique):
    marker = f"escaped-{uuid.uuid4().hex}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo(f"../../{marker}")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    aws("s3").put_object(Bucket=bucket, Key=f"evil-{unique}/model.tar.gz", Body=buffer.getvalue())

    name = f"evil-model-{unique}"
    deploy(aws("sagemaker"), name, f"s3://{bucket}/evil-{unique}/model.tar.gz", wait=False)
    with pytest.raises(WaiterError):
        aws("sagemaker").get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.5})
    endpoint = aws("sagemaker").describe_endpoint(EndpointName=name)

    assert endpoint["EndpointStatus"] == "Failed"
    assert f'member that would be written outside the model directory or is not a regular file or folder: ' \
           f'"../../{marker}"' in endpoint["FailureReason"]
    assert nowhere_written(cloud, marker)


def test_a_deployment_package_member_outside_the_task_root_is_refused(cloud, aws, make_function):
    marker = f"escaped-{uuid.uuid4().hex}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        archive.writestr(f"../../{marker}.py", "x = 1\n")
    name = make_function({"app.py": "def handler(event, context):\n    return 1\n"})
    aws("lambda").update_function_code(FunctionName=name, ZipFile=buffer.getvalue())

    with pytest.raises(ClientError) as raised:
        aws("lambda").invoke(FunctionName=name, Payload=b"{}")

    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert error["Code"] == "InvalidZipFileException"
    assert f'member "../../{marker}.py" does not name a file inside its folder' in error["Message"]
    assert nowhere_written(cloud, f"{marker}.py")


def test_a_layer_member_outside_opt_refuses_the_layer(cloud, aws, make_function, unique):
    marker = f"escaped-layer-{uuid.uuid4().hex}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/helper.py", "x = 1\n")
        archive.writestr(f"python/../../../{marker}.py", "x = 1\n")
    layer = aws("lambda").publish_layer_version(LayerName=f"escape-{unique}", Content={"ZipFile": buffer.getvalue()},
                                                CompatibleRuntimes=["python3.12"])["LayerVersionArn"]
    name = make_function({"app.py": "def handler(event, context):\n    return 1\n"}, Layers=[layer])

    with pytest.raises(ClientError) as raised:
        aws("lambda").invoke(FunctionName=name, Payload=b"{}")

    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidZipFileException"
    assert f'member "python/../../../{marker}.py" does not name a file inside its folder' in error["Message"]
    assert nowhere_written(cloud, f"{marker}.py")


def test_each_training_run_has_a_fresh_folder_removed_after_upload(cloud, aws, bucket, rows, unique):
    aws("s3").put_object(Bucket=bucket, Key=f"fresh-{unique}/train/part.csv", Body=rows)
    name = f"fresh-{unique}"
    aws("sagemaker").create_training_job(**training_request(name, f"s3://{bucket}/fresh-{unique}/train/",
                                                            hyperparameters={"num_round": 2}))
    job = wait_for_job(aws("sagemaker"), name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    training = cloud.work_dir / "sagemaker" / "training"
    # Removed right after the job ends (its status is set first).
    wait_for(lambda: not [entry for entry in os.listdir(training) if entry.startswith(name)], timeout=10)
