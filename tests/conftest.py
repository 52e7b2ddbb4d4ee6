"""One localcloud for the whole test session, shared by the localcloud and browser tests."""

from __future__ import annotations

import boto3
import pytest

from localcloud import LocalCloud
from tests.localcloud.conftest import wait_for_stack
from workshop.target import ROOT


@pytest.fixture(scope="session")
def cloud():
    with LocalCloud(port=0) as running:
        yield running


@pytest.fixture(scope="session")
def aws(cloud):
    """``aws("lambda")`` -> a boto3 client for the running localcloud."""
    session = boto3.session.Session(
        aws_access_key_id=cloud.credentials.access_key_id,
        aws_secret_access_key=cloud.credentials.secret_access_key,
        region_name="us-east-1",
    )
    clients = {}

    def client(service: str):
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=cloud.endpoint_url)
        return clients[service]

    return client


@pytest.fixture(scope="session")
def base(aws):
    """The workshop's base stack (bucket and SageMaker role), as 00_setup deploys it, once per session."""
    cloudformation = aws("cloudformation")
    live = [s for page in cloudformation.get_paginator("list_stacks").paginate() for s in page["StackSummaries"]
            if s["StackName"] == "workshop-base" and s["StackStatus"] != "DELETE_COMPLETE"]
    if not live:
        cloudformation.create_stack(StackName="workshop-base", Capabilities=["CAPABILITY_IAM"],
                                    TemplateBody=(ROOT / "cloudformation/00_workshop_base.yml").read_text())
    return wait_for_stack(cloudformation, "workshop-base")
