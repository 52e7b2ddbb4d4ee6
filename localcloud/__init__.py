"""localcloud: a loopback AWS for the workshop.

moto (in server mode) answers the control plane; localcloud adds the data planes moto lacks, so
that Lambda code really runs, API Gateway stages really answer, S3 and SNS really trigger, and
CloudFormation fails loudly on what it cannot create.

    with localcloud.LocalCloud(port=0) as cloud:
        boto3.client("lambda", endpoint_url=cloud.endpoint_url, ...)
"""

__version__ = "0.1.0"
__all__ = ["LocalCloud", "__version__"]


def __getattr__(name):
    # Lazy, so that `python -m localcloud env` and the Lambda worker never import moto.
    if name == "LocalCloud":
        from localcloud.core import LocalCloud

        return LocalCloud
    raise AttributeError(name)
