"""Module 3's templates and function on localcloud: the base stack, and the break-glass stack created
with the awscli command the README gives, answering the blog's row through the REST API."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import requests
from sklearn.datasets import load_breast_cancer

from localcloud.algorithms.linear_learner import hyperparameters, learner
from mlformats.linear_learner import LinearLearnerModel
from tests.localcloud.conftest import run, wait_for_stack
from workshop.target import ROOT

BLOG_ROW = json.loads((ROOT / "lambda_src/predict_breast_cancer/events/direct.json").read_text())["data"]





def test_the_base_bucket_is_encrypted_private_and_tls_only(aws, base):
    s3 = aws("s3")
    bucket = base["BucketName"]
    assert bucket == "workshop-123456789012-us-east-1"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    s3.put_object(Bucket=bucket, Key="probe.txt", Body=b"loopback counts as secure transport")
    role = aws("iam").get_role(RoleName=base["SageMakerRoleArn"].split("/")[-1])["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_the_breakglass_stack_from_the_readme_serves_the_blogs_row(cloud, aws, base):
    features, labels = load_breast_cancer(return_X_y=True)
    malignant = (labels == 0).astype(np.float32)
    params = hyperparameters.validate({"predictor_type": "binary_classifier", "mini_batch_size": "100", "epochs": "40"})
    fitted = learner.fit(features.astype(np.float32), malignant, None, params, log=lambda line: None)
    artifact = LinearLearnerModel(fitted.weights, fitted.bias, "binary_classifier", fitted.threshold).to_tar_gz()
    bucket = base["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="breakglass/model.tar.gz", Body=artifact)

    env = {**os.environ, **cloud.env}
    code_key = run([sys.executable, "-m", "workshop.lambdas", "upload", "predict_breast_cancer",
                    f"s3://{bucket}/lambda/"], env).stdout.strip()
    assert code_key == "lambda/predict_breast_cancer.zip"
    run([sys.executable, "-m", "awscli", "cloudformation", "create-stack", "--stack-name", "workshop-03-breakglass",
         "--template-body", "file://cloudformation/breakglass/03_breast_cancer.yml",
         "--parameters", f"ParameterKey=ModelDataUrl,ParameterValue=s3://{bucket}/breakglass/model.tar.gz",
         f"ParameterKey=CodeKey,ParameterValue={code_key}", "--capabilities", "CAPABILITY_IAM"], env)
    outputs = wait_for_stack(aws("cloudformation"), "workshop-03-breakglass")
    assert outputs["EndpointName"] == "workshop-breast-cancer-breakglass"

    url = f"{cloud.endpoint_url}/_aws/execute-api/{outputs['ApiId']}/test/predictbreastcancer"
    answer = requests.post(url, json={"data": BLOG_ROW}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["diagnosis"] == "B"
    bad = requests.post(url, json={"data": "1,2,3"}, timeout=60)
    assert bad.status_code == 400
    assert bad.json() == {"message": "Expected 30 comma-separated features, got 3"}

    run([sys.executable, "-m", "awscli", "cloudformation", "delete-stack", "--stack-name", "workshop-03-breakglass"],
        env)
    run([sys.executable, "-m", "awscli", "cloudformation", "wait", "stack-delete-complete", "--stack-name",
         "workshop-03-breakglass"], env)
    assert not [e for e in aws("sagemaker").list_endpoints(NameContains="breakglass")["Endpoints"]
                if e["EndpointName"] == "workshop-breast-cancer-breakglass"]
