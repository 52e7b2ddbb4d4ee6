"""The moto adapter: a moto release that renames or reshapes what localcloud relies on stops localcloud at
start-up with a message naming it, never silently (issue 8, item 8)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from localcloud import motoadapter
from localcloud.motoadapter import MotoIncompatible


class Backend:
    def __init__(self):
        self.queues = {}

    def send(self, queue, body):
        return queue, body


def test_replacing_what_is_gone_or_reshaped_fails_loudly():
    with pytest.raises(MotoIncompatible, match="has no .*Backend.send_message"):
        motoadapter.replace(Backend, "send_message", lambda self: None)
    with pytest.raises(MotoIncompatible, match=r"changed .*Backend.send\('self', 'queue', 'body'\)"):
        motoadapter.replace(Backend, "send", lambda self: None, ("self", "queue_name", "body"))
    original = motoadapter.replace(Backend, "send", lambda self, queue, body: "ours", ("self", "queue", "body"))
    assert Backend().send(1, 2) == "ours" and original(Backend(), 1, 2) == (1, 2)


def test_instance_attributes_are_found_in_methods_and_missing_ones_named():
    motoadapter.require_instance_attribute(Backend, "queues")
    with pytest.raises(MotoIncompatible, match="Backend.topics is gone"):
        motoadapter.require_instance_attribute(Backend, "topics")


def test_adding_what_moto_now_has_fails_loudly():
    with pytest.raises(MotoIncompatible, match="now has .*Backend.send"):
        motoadapter.add(Backend, "send", lambda self: None)


def start_localcloud_after(setup: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent(setup) + textwrap.dedent("""
        import boto3
        from localcloud import LocalCloud
        with LocalCloud(port=0) as cloud:
            boto3.client("cloudformation", endpoint_url=cloud.endpoint_url, region_name="us-east-1",
                         aws_access_key_id=cloud.credentials.access_key_id,
                         aws_secret_access_key=cloud.credentials.secret_access_key).list_stacks()
            from moto.cloudformation import parsing
            print(parsing.resource_class_from_type("AWS::SageMaker::Endpoint").__module__)
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_a_moto_without_a_replaced_function_stops_localcloud_at_start():
    result = start_localcloud_after("""
        import moto.sns.models
        del moto.sns.models.Subscription.publish  # as a release that renamed it would be
    """)
    assert result.returncode != 0
    assert "MotoIncompatible" in result.stderr and "Subscription.publish" in result.stderr


def test_localclouds_resource_types_win_whatever_moto_read_or_imported_first():
    """moto caches its type registry from CloudFormationModel's subclasses: reading it before localcloud's
    classes exist, or importing moto's SageMaker models after them, used to bring moto's fake endpoint back."""
    result = start_localcloud_after("""
        from moto.cloudformation import parsing
        parsing.get_model_map()
        import localcloud.sagemaker.cloudformation
        import moto.sagemaker.models
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "localcloud.sagemaker.cloudformation"


def test_a_moto_whose_cloudformation_changed_is_reported_by_health_and_refused():
    """Strict CloudFormation installs on the first CloudFormation request (moto's template engine takes a second
    to import); an incompatible moto refuses stacks, shows in /_localcloud/health, never falls back to moto."""
    script = textwrap.dedent("""
        import json, urllib.request
        import boto3
        from botocore.exceptions import ClientError
        import moto.cloudformation.models
        del moto.cloudformation.models.Stack.create_resources
        from localcloud import LocalCloud
        with LocalCloud(port=0) as cloud:
            client = boto3.client("cloudformation", endpoint_url=cloud.endpoint_url, region_name="us-east-1",
                                  aws_access_key_id=cloud.credentials.access_key_id,
                                  aws_secret_access_key=cloud.credentials.secret_access_key,
                                  config=boto3.session.Config(retries={"max_attempts": 0}))
            try:
                client.list_stacks()
                print("answered")
            except ClientError as error:
                print("refused", error.response["ResponseMetadata"]["HTTPStatusCode"])
            health = json.load(urllib.request.urlopen(cloud.endpoint_url + "/_localcloud/health"))
            print(health["services"]["cloudformation"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0] == "refused 500", result.stdout + result.stderr
    assert lines[1].startswith("unavailable: moto") and "Stack.create_resources" in lines[1], result.stdout + result.stderr
