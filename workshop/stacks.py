"""Deploying CloudFormation templates and waiting for them, with a progress bar and clear failures."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import ClientError
from tqdm import tqdm

from workshop.names import TAG
from workshop.target import ROOT

POLL_SECONDS = 1
TERMINAL = ("_COMPLETE", "_FAILED")


class StackFailed(RuntimeError):
    """A stack did not reach the state asked for; the message lists each failed resource's reason."""


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, !Sub ...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _resource_count(template: str) -> int:
    return len((yaml.load(template, Loader=_TemplateLoader) or {}).get("Resources", {}))


def stack_outputs(stack_name: str) -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _status(cloudformation, stack_name: str) -> str | None:
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def deploy_stack(stack_name: str, template_path: str | Path, parameters: dict[str, str] | None = None) -> dict[str, str]:
    """Create the stack, or update it if it exists; wait; return its outputs."""
    cloudformation = boto3.client("cloudformation")
    template = (ROOT / template_path).read_text()
    arguments = {
        "StackName": stack_name,
        "TemplateBody": template,
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in (parameters or {}).items()],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        # CloudFormation puts the stack's tags on every resource that takes tags: clean-up finds them by it.
        "Tags": [TAG],
    }
    status = _status(cloudformation, stack_name)
    if status == "ROLLBACK_COMPLETE":  # a failed first create can only be deleted
        delete_stack(stack_name)
        status = None
    if status is None:
        cloudformation.create_stack(**arguments)
        action = "CREATE"
    else:
        try:
            cloudformation.update_stack(**arguments)
        except ClientError as error:
            if "No updates are to be performed" in str(error):
                print(f"Stack {stack_name}: up to date")
                return stack_outputs(stack_name)
            raise
        action = "UPDATE"
    _wait(cloudformation, stack_name, action, _resource_count(template))
    return stack_outputs(stack_name)


def delete_stack(stack_name: str) -> None:
    cloudformation = boto3.client("cloudformation")
    if _status(cloudformation, stack_name) is None:
        return
    cloudformation.delete_stack(StackName=stack_name)
    while (status := _status(cloudformation, stack_name)) not in (None, "DELETE_COMPLETE"):
        if status == "DELETE_FAILED":
            raise StackFailed(f"Stack {stack_name} could not be deleted: {_reasons(cloudformation, stack_name)}")
        time.sleep(POLL_SECONDS)
    print(f"Stack {stack_name}: deleted")


def _wait(cloudformation, stack_name: str, action: str, total: int) -> None:
    done_states = {f"{action}_COMPLETE"}
    with tqdm(total=total, desc=f"{action.title()} {stack_name}", unit="resource", file=sys.stderr,
              bar_format="{desc}: {n_fmt}/{total_fmt} resources |{bar:20}|") as progress:
        while True:
            status = _status(cloudformation, stack_name)
            resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"] \
                if status else []
            finished = sum(1 for r in resources if r["ResourceStatus"] in done_states)
            progress.update(max(0, min(total, finished) - progress.n))
            if status and status.endswith(TERMINAL) and "IN_PROGRESS" not in status:
                break
            time.sleep(POLL_SECONDS)
    if status != f"{action}_COMPLETE":
        raise StackFailed(f"Stack {stack_name} ended {status}: {_reasons(cloudformation, stack_name)}")
    print(f"Stack {stack_name}: {status}")


def _reasons(cloudformation, stack_name: str) -> str:
    events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    reasons = [f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}" for e in events
               if "FAILED" in e["ResourceStatus"] and e.get("ResourceStatusReason")]
    return "; ".join(reasons) or "no reason reported"
