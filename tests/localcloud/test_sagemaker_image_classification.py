"""Image Classification on localcloud: RecordIO and .lst channels, the quality bar, serving images."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from botocore.exceptions import ClientError

from mlformats import im2rec
from tests.localcloud.images import image_set
from tests.localcloud.sagemaker_support import BUCKET, deploy, training_request, wait_for_job

IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
QUALITY_HYPERPARAMETERS = {"num_classes": 4, "num_training_samples": 800, "image_shape": "3,64,64", "num_layers": 18,
                           "epochs": 6, "mini_batch_size": 32, "learning_rate": 0.05, "lr_scheduler_step": "4",
                           "lr_scheduler_factor": 0.1, "top_k": 2}


def upload_rec(aws, tmp_path, name: str, count: int, seed: int) -> str:
    folder = tmp_path / name
    folder.mkdir()
    entries = []
    for index, (image, label) in enumerate(image_set(count, 64, seed)):
        image.save(folder / f"{index}.png")
        entries.append(im2rec.ListEntry(index, (float(label),), f"{index}.png"))
    im2rec.write_rec(entries, folder, tmp_path / f"{name}.rec", tmp_path / f"{name}.idx")
    aws("s3").put_object(Bucket=BUCKET, Key=f"ic/{name}/{name}.rec", Body=(tmp_path / f"{name}.rec").read_bytes())
    return f"s3://{BUCKET}/ic/{name}/"


def ic_request(name: str, channels: dict[str, tuple[str, str]], hyperparameters: dict) -> dict:
    request = training_request(name, "s3://unused/", image=IMAGE, hyperparameters=hyperparameters)
    request["InputDataConfig"] = [{"ChannelName": channel, "ContentType": content_type, "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}} for channel, (uri, content_type) in channels.items()]
    return request


@pytest.fixture(scope="module")
def trained(aws, tmp_path_factory):
    aws("s3").create_bucket(Bucket=BUCKET)
    tmp = tmp_path_factory.mktemp("ic")
    channels = {"train": (upload_rec(aws, tmp, "train", 800, 1), "application/x-recordio"),
                "validation": (upload_rec(aws, tmp, "validation", 200, 2), "application/x-recordio")}
    aws("sagemaker").create_training_job(**ic_request("ic-shapes", channels, QUALITY_HYPERPARAMETERS))
    return wait_for_job(aws("sagemaker"), "ic-shapes")


def test_resnet18_reaches_90_percent_on_generated_shapes_within_two_minutes(trained):
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    assert trained["TrainingTimeInSeconds"] <= 120
    metrics = {m["MetricName"]: m["Value"] for m in trained["FinalMetricDataList"]}
    assert metrics["validation:accuracy"] >= 0.9
    assert {"train:accuracy", "validation:accuracy:top_k", "train:accuracy:top_k"} <= set(metrics)


def test_the_artifact_keeps_the_services_file_names(aws, trained):
    key = trained["ModelArtifacts"]["S3ModelArtifacts"].split(f"s3://{BUCKET}/", 1)[1]
    with tarfile.open(fileobj=io.BytesIO(aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())) as archive:
        names = sorted(archive.getnames())
        shapes = json.loads(archive.extractfile("model-shapes.json").read())
    assert names == ["image-classification-0006.params", "image-classification-symbol.json", "model-shapes.json"]
    assert shapes == [{"shape": [32, 3, 64, 64], "name": "data"}]


def test_the_log_has_the_services_epoch_lines(aws, trained):
    pages = aws("logs").get_paginator("filter_log_events").paginate(logGroupName="/aws/sagemaker/TrainingJobs",
                                                                    logStreamNamePrefix="ic-shapes/")
    messages = [e["message"] for page in pages for e in page["events"]]
    assert any("Epoch[5] Train-accuracy=" in m for m in messages)
    assert any("Epoch[5] Validation-accuracy=" in m for m in messages)
    assert any("Epoch[0] Time cost=" in m for m in messages)


@pytest.fixture(scope="module")
def endpoint(aws, trained):
    deploy(aws("sagemaker"), "ic-shapes", trained["ModelArtifacts"]["S3ModelArtifacts"], image=IMAGE)
    yield "ic-shapes"
    aws("sagemaker").delete_endpoint(EndpointName="ic-shapes")


def invoke(aws, body: bytes, content_type: str, accept: str = "application/json") -> bytes:
    return aws("sagemaker-runtime").invoke_endpoint(EndpointName="ic-shapes", Body=body, ContentType=content_type,
                                                    Accept=accept)["Body"].read()


def test_the_endpoint_classifies_new_jpeg_and_png_images(aws, endpoint):
    correct = 0
    fresh = image_set(20, 64, seed=99)
    for index, (image, label) in enumerate(fresh):
        image_format = "JPEG" if index % 2 else "PNG"
        body = im2rec.encode_image(image, image_format)
        probabilities = json.loads(invoke(aws, body, f"image/{image_format.lower()}"))
        assert len(probabilities) == 4 and sum(probabilities) == pytest.approx(1.0, abs=1e-5)
        correct += max(range(4), key=probabilities.__getitem__) == label
    assert correct / len(fresh) >= 0.9


def test_jsonlines_and_x_image_requests(aws, endpoint):
    body = im2rec.encode_image(image_set(1, 64, seed=5)[0][0])
    line = json.loads(invoke(aws, body, "application/x-image", "application/jsonlines"))
    assert set(line) == {"prediction"} and len(line["prediction"]) == 4


def test_bytes_that_are_not_an_image_are_a_400(aws, endpoint):
    with pytest.raises(ClientError) as raised:
        invoke(aws, b"definitely not a picture", "image/jpeg")
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400
    assert "Unable to decode the request body as an image" in error["OriginalMessage"]


def test_images_with_lst_channels(aws, tmp_path):
    aws("s3").create_bucket(Bucket=BUCKET)
    entries = []
    for index, (image, label) in enumerate(image_set(24, 32, seed=3)):
        aws("s3").put_object(Bucket=BUCKET, Key=f"ic-lst/train/{CLASS_DIRS[label]}/{index}.jpg",
                             Body=im2rec.encode_image(image))
        entries.append(im2rec.ListEntry(index, (float(label),), f"{CLASS_DIRS[label]}/{index}.jpg"))
    im2rec.write_lst(entries, tmp_path / "train.lst")
    aws("s3").put_object(Bucket=BUCKET, Key="ic-lst/train_lst/train.lst", Body=(tmp_path / "train.lst").read_bytes())
    channels = {"train": (f"s3://{BUCKET}/ic-lst/train/", "application/x-image"),
                "train_lst": (f"s3://{BUCKET}/ic-lst/train_lst/", "application/x-image")}
    hyperparameters = {"num_classes": 4, "num_training_samples": 24, "image_shape": "3,32,32", "num_layers": 20,
                       "epochs": 1, "mini_batch_size": 8}
    aws("sagemaker").create_training_job(**ic_request("ic-lst", channels, hyperparameters))
    job = wait_for_job(aws("sagemaker"), "ic-lst")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


CLASS_DIRS = ("circle", "square", "triangle", "cross")


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ({"num_training_samples": 8}, "'num_classes' is a required property"),
    ({"num_classes": 4, "num_training_samples": 8, "num_layers": 19}, "19 is not one of"),
    ({"num_classes": 4, "num_training_samples": 8, "image_shape": "64,64"}, "is not a valid image_shape"),
    ({"num_classes": 4, "num_training_samples": 8, "image_shape": "3,32,32", "num_layers": 20,
      "use_pretrained_model": 1}, "cannot be downloaded offline"),
])
def test_invalid_settings_fail_the_job_with_a_reason(aws, tmp_path, unique, hyperparameters, reason):
    aws("s3").create_bucket(Bucket=BUCKET)
    uri = upload_rec(aws, tmp_path, f"tiny-{unique}", 8, 4)
    request = ic_request(f"ic-invalid-{unique}", {"train": (uri, "application/x-recordio")}, hyperparameters)
    aws("sagemaker").create_training_job(**request)
    job = wait_for_job(aws("sagemaker"), request["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Failed"
    assert reason in job["FailureReason"]
