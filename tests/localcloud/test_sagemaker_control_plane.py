"""SageMaker's List* pages as the service pages, tags are kept, and what localcloud does not run is refused
(issue 8: moto's fake backend used to answer, with a job "Completed" that did nothing or an HTML 500)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.sagemaker_support import ROLE, XGBOOST_IMAGE

TAG = {"Key": "workshop", "Value": "serverless-ml"}


@pytest.fixture(scope="module")
def models(aws):
    """Twelve models, more than the service's default page of ten."""
    names = [f"paged-model-{index:02d}" for index in range(12)]
    for name in names:
        aws("sagemaker").create_model(ModelName=name, ExecutionRoleArn=ROLE, Tags=[TAG],
                                      PrimaryContainer={"Image": XGBOOST_IMAGE})
    return names


def test_list_operations_page_with_the_services_default_size(aws, models):
    first = aws("sagemaker").list_models(NameContains="paged-model-")
    assert len(first["Models"]) == 10 and "NextToken" in first
    rest = aws("sagemaker").list_models(NameContains="paged-model-", NextToken=first["NextToken"])
    assert len(rest["Models"]) == 2 and "NextToken" not in rest
    assert {m["ModelName"] for m in first["Models"] + rest["Models"]} == set(models)


def test_paginators_sorting_and_max_results(aws, models):
    pages = aws("sagemaker").get_paginator("list_models").paginate(
        NameContains="paged-model-", SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 5})
    sizes, names = [], []
    for page in pages:
        sizes.append(len(page["Models"]))
        names.extend(m["ModelName"] for m in page["Models"])
    assert sizes == [5, 5, 2]
    assert names == sorted(models)


def test_a_bad_page_token_is_a_validation_error(aws, models):
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").list_models(NextToken="not-a-token")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_tags_given_at_creation_and_added_later_are_listed_and_deleted(aws, models):
    sagemaker = aws("sagemaker")
    model_arn = sagemaker.describe_model(ModelName=models[0])["ModelArn"]
    assert sagemaker.list_tags(ResourceArn=model_arn)["Tags"] == [TAG]
    sagemaker.add_tags(ResourceArn=model_arn, Tags=[{"Key": "module", "Value": "03"}])
    assert {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=model_arn)["Tags"]} == {
        "workshop": "serverless-ml", "module": "03"}
    sagemaker.delete_tags(ResourceArn=model_arn, TagKeys=["module"])
    assert sagemaker.list_tags(ResourceArn=model_arn)["Tags"] == [TAG]


def test_tags_of_a_resource_that_does_not_exist_are_refused(aws):
    with pytest.raises(ClientError) as raised:
        aws("sagemaker").list_tags(ResourceArn="arn:aws:sagemaker:us-east-1:123456789012:model/nothing-here")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(("operation", "arguments"), [
    ("list_notebook_instances", {}),
    ("create_compilation_job", {"CompilationJobName": "c", "RoleArn": ROLE, "StoppingCondition": {},
                                "OutputConfig": {"S3OutputLocation": "s3://b/o", "TargetDevice": "ml_c5"}}),
    ("describe_domain", {"DomainId": "d-123"}),
])
def test_operations_localcloud_does_not_run_are_refused_never_faked(aws, operation, arguments):
    with pytest.raises(ClientError) as raised:
        getattr(aws("sagemaker"), operation)(**arguments)
    error = raised.value.response["Error"]
    assert error["Code"] == "UnsupportedOperation"
    assert "not supported by localcloud" in error["Message"] and "CreateTrainingJob" in error["Message"]
