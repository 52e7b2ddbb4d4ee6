"""Fixed identity of the local account and the client settings that point at it."""

from __future__ import annotations

import os
from pathlib import Path

ACCOUNT_ID = "123456789012"  # moto's default account: every request lands there
DEFAULT_REGION = "us-east-1"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
RAW_HEADERS = "localcloud.raw_headers"
"""WSGI environ key of the request's headers as the client sent them: ``[(name, value), ...]``."""


def home() -> Path:
    """Where the background server keeps its state file, logs and SDK configuration."""
    return Path(os.environ.get("LOCALCLOUD_HOME", Path.home() / ".localcloud"))


def sagemaker_sdk_config(region: str = DEFAULT_REGION) -> str:
    """SageMaker Python SDK configuration that keeps it off real STS and telemetry hosts."""
    return (
        "SchemaVersion: '1.0'\n"
        "SageMaker:\n"
        "  PythonSDK:\n"
        "    Modules:\n"
        "      TelemetryOptOut: true\n"
        "      Session:\n"
        f"        DefaultS3Bucket: sagemaker-{region}-{ACCOUNT_ID}\n"
    )


def write_sagemaker_sdk_config(directory: Path, region: str = DEFAULT_REGION) -> Path:
    path = Path(directory) / "sagemaker-sdk-config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sagemaker_sdk_config(region))
    return path


def client_env(endpoint_url: str, access_key_id: str, secret_access_key: str, sdk_config: Path | None = None,
               region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that send boto3, awscli and the SageMaker SDK to ``endpoint_url`` with the
    credentials that localcloud generated at start."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        # The SDK v3 checks the role with IAM SimulatePrincipalPolicy, which moto does not implement.
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }
    if sdk_config is not None:
        env["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(sdk_config)
    return env
