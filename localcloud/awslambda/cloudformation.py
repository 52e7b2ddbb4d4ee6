"""CloudFormation updates of inline (``Code.ZipFile``) functions, which moto cannot apply."""

from __future__ import annotations

import base64
import copy
from typing import Any

from moto.awslambda.models import LambdaFunction


def update_function(cls, original_resource: LambdaFunction, new_resource_name: str,
                    cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> LambdaFunction:
    """Apply new configuration and code in place, zipping inline source as CloudFormation does on create."""
    properties = copy.deepcopy(cloudformation_json["Properties"])
    code = properties["Code"]
    if "ZipFile" in code:
        code["ZipFile"] = base64.b64encode(LambdaFunction._create_zipfile_from_plaintext_code(code["ZipFile"]))
    original_resource.update_configuration(properties)
    original_resource.update_function_code(code)
    return original_resource
