"""Lambda and API Gateway overhead of localcloud, measured against the handler called in-process.

    python -m benchmarks.lambda_invoke [--repeat 300]

localcloud runs in its own process, as it does for notebooks and CI.  Prints warm-invoke latency
(boto3 ``Invoke`` through localcloud) beside the same handler called
directly in this process, the overhead between them, cold-start time after a configuration change,
and the round trip of an HTTP POST through an API Gateway stage to the same function.
Targets: warm overhead p50 <= 5 ms, cold start < 1 s.
"""

from __future__ import annotations

import argparse
import io
import json
import types
import zipfile

import requests

from benchmarks.common import localcloud_process, report, summary, timed

HANDLER = """
import json

def handler(event, context):
    if "body" in event:
        return {"statusCode": 200, "body": json.dumps({"ok": True})}
    return {"echo": event}
"""


def package(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def in_process_handler():
    module = types.ModuleType("app")
    exec(HANDLER, module.__dict__)
    return module.handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--cold-repeat", type=int, default=10)
    args = parser.parse_args()

    event = {"reading": 21.5, "room": "lab"}
    payload = json.dumps(event).encode()
    handler = in_process_handler()
    baseline = summary(timed(lambda: json.dumps(handler(json.loads(payload), None)), args.repeat))

    with localcloud_process() as (endpoint_url, session):
        lam = session.client("lambda", endpoint_url=endpoint_url)
        apigateway = session.client("apigateway", endpoint_url=endpoint_url)
        role = session.client("iam", endpoint_url=endpoint_url).create_role(
            RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = lam.create_function(FunctionName="bench", Runtime="python3.12", Role=role, Handler="app.handler",
                                  Code={"ZipFile": package(HANDLER)})["FunctionArn"]

        lam.invoke(FunctionName="bench", Payload=payload)  # the first call starts the worker
        control_plane = summary(timed(lambda: lam.get_function_configuration(FunctionName="bench"), args.repeat))
        warm = summary(timed(lambda: lam.invoke(FunctionName="bench", Payload=payload)["Payload"].read(), args.repeat))

        cold_samples = []
        for index in range(args.cold_repeat):
            lam.update_function_configuration(FunctionName="bench", Environment={"Variables": {"RUN": str(index)}})
            cold_samples += timed(lambda: lam.invoke(FunctionName="bench", Payload=payload)["Payload"].read(), 1)
        cold = summary(cold_samples)

        api_id = apigateway.create_rest_api(name="bench")["id"]
        root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
        resource = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="predict")["id"]
        apigateway.put_method(restApiId=api_id, resourceId=resource, httpMethod="POST", authorizationType="NONE")
        apigateway.put_integration(
            restApiId=api_id, resourceId=resource, httpMethod="POST", type="AWS_PROXY", integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
        apigateway.create_deployment(restApiId=api_id, stageName="test")
        lam.add_permission(FunctionName="bench", StatementId="api", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com")
        url = f"{endpoint_url}/_aws/execute-api/{api_id}/test/predict"
        http = requests.Session()
        http.post(url, json=event, timeout=30)
        api = summary(timed(lambda: http.post(url, json=event, timeout=30).content, args.repeat))

    overhead = {key: warm[key] - baseline[key] for key in ("p50", "p99")}
    report(
        f"Lambda warm invoke ({args.repeat} calls, one warm worker)",
        [
            ("handler in-process", f"p50 {baseline['p50']:.3f} ms   p99 {baseline['p99']:.3f} ms"),
            ("boto3 Invoke via localcloud", f"p50 {warm['p50']:.2f} ms   p99 {warm['p99']:.2f} ms"),
            ("overhead (invoke - in-process)", f"p50 {overhead['p50']:.2f} ms   p99 {overhead['p99']:.2f} ms"
                                               f"   target p50 <= 5 ms: {'met' if overhead['p50'] <= 5 else 'MISSED'}"),
            ("for scale: boto3 GetFunctionConfiguration", f"p50 {control_plane['p50']:.2f} ms   "
                                                         f"p99 {control_plane['p99']:.2f} ms"),
            ("invoke / control-plane call", f"{warm['p50'] / control_plane['p50']:.2f}x at p50"),
        ],
    )
    report(
        f"Lambda cold start ({args.cold_repeat} invocations after UpdateFunctionConfiguration)",
        [("invoke incl. new worker", f"p50 {cold['p50']:.1f} ms   max {max(cold_samples):.1f} ms"
                                     f"   target < 1000 ms: {'met' if max(cold_samples) < 1000 else 'MISSED'}"),
         ("cold / warm", f"{cold['p50'] / warm['p50']:.1f}x at p50")],
    )
    report(
        f"API Gateway round trip ({args.repeat} POSTs to the stage URL, AWS_PROXY)",
        [("HTTP POST -> Lambda -> response", f"p50 {api['p50']:.2f} ms   p99 {api['p99']:.2f} ms"),
         ("API round trip / boto3 Invoke", f"{api['p50'] / warm['p50']:.2f}x at p50")],
    )


if __name__ == "__main__":
    main()
