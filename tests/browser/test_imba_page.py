"""web/index_imba.html in headless Chromium (Debian's, driven by Playwright) against module 5's stack on
localcloud: the page is served from http://127.0.0.1:<port> and the API answers at
http://<api>.execute-api.localhost:<other port>, so every call is cross-origin and the browser enforces CORS
(a URL without CORS headers is shown as unreachable). Screenshots go to output/browser/."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.localcloud.conftest import wait_for, wait_for_stack
from tests.localcloud.test_module_05 import FEATURE, PRODUCT_ID, USER_ID, model_artifact, put_item_json, run
from workshop.target import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "output" / "browser"
ENDPOINT = "workshop-imba-browser"
TABLE = "imba-browser"
FUNCTION = "imba_predict_browser"

if not CHROMIUM.exists():
    pytest.skip(f"BROWSER TEST SKIPPED: {CHROMIUM} is missing. scripts/test installs it when run as root "
                "(scripts/setup-system: apt-get install chromium chromium-driver); install it and run again.",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="BROWSER TEST SKIPPED: the playwright package is "
                               "missing; pip install -r requirements-dev.txt")


@pytest.fixture(scope="module")
def api(cloud, aws, base):
    """Module 5's stack (cloudformation/05_imba.yml) before an XGBoost endpoint, with one pair in its table."""
    cloudformation, sagemaker = aws("cloudformation"), aws("sagemaker")
    bucket = base["BucketName"]
    aws("s3").put_object(Bucket=bucket, Key="browser/imba/model.tar.gz", Body=model_artifact())
    sagemaker.create_model(ModelName=ENDPOINT, ExecutionRoleArn=base["SageMakerRoleArn"], PrimaryContainer={
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": f"s3://{bucket}/browser/imba/model.tar.gz"})
    sagemaker.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    code_key = run([sys.executable, "-m", "workshop.lambdas", "upload", "imba_predict", f"s3://{bucket}/browser/"],
                   {**os.environ, **cloud.env}).stdout.strip()
    cloudformation.create_stack(StackName="workshop-05-browser", Capabilities=["CAPABILITY_IAM"],
                                TemplateBody=(ROOT / "cloudformation/05_imba.yml").read_text(), Parameters=[
                                    {"ParameterKey": key, "ParameterValue": value} for key, value in {
                                        "EndpointName": ENDPOINT, "CodeKey": code_key, "Threshold": "0.5",
                                        "TableName": TABLE, "FunctionName": FUNCTION}.items()])
    outputs = wait_for_stack(cloudformation, "workshop-05-browser")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})
    aws("dynamodb").put_item(TableName=TABLE, Item=json.loads(put_item_json(USER_ID, PRODUCT_ID, FEATURE)))
    port = urlsplit(cloud.endpoint_url).port
    yield f"http://{outputs['ApiId']}.execute-api.localhost:{port}/test/predict"
    cloudformation.delete_stack(StackName="workshop-05-browser")
    cloudformation.get_waiter("stack_delete_complete").wait(StackName="workshop-05-browser", WaiterConfig={"Delay": 1})
    sagemaker.delete_endpoint(EndpointName=ENDPOINT)


@pytest.fixture(scope="module")
def site():
    """web/ served by a plain HTTP server on its own port: the page's origin."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            """No line per request in the test output."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(ROOT / "web")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=["--no-sandbox", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 900, "height": 640})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def invocations(aws) -> int:
    """How many times the page's function has run (one REPORT line per invocation in its log)."""
    logs = aws("logs")
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{FUNCTION}",
                                                                 filterPattern="REPORT")
        return sum(len(page["events"]) for page in pages)
    except logs.exceptions.ResourceNotFoundException:  # the log group appears with the first invocation
        return 0


def ask(page, site: str, api_url: str, user_id: str, product_id: str) -> str:
    page.goto(f"{site}/index_imba.html?api={quote(api_url, safe='')}")
    assert page.input_value("#api-url") == api_url
    page.fill("#user-id", user_id)
    page.fill("#product-id", product_id)
    page.click("#predict")
    sync_api.expect(page.locator("#predict")).to_be_enabled(timeout=60_000)
    return page.inner_text("#result")


def test_a_known_pair_shows_the_endpoints_probability_across_origins(aws, api, site, page):
    assert urlsplit(site).netloc != urlsplit(api).netloc
    before = invocations(aws)
    seen = []
    page.on("response", lambda response: seen.append(response) if response.url == api else None)
    text = ask(page, site, api, str(USER_ID), str(PRODUCT_ID))
    page.screenshot(path=str(SCREENSHOTS / "known-pair.png"))

    probability = float(aws("sagemaker-runtime").invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv",
                                                                 Body=FEATURE)["Body"].read())
    assert f"{100 * probability:.1f}%" in text
    assert ("Likely to buy it again" if probability >= 0.5 else "Unlikely to buy it again") in text
    assert f"user {USER_ID}, product {PRODUCT_ID}" in text
    post = next(r for r in seen if r.request.method == "POST")
    assert post.status == 200 and post.headers["access-control-allow-origin"] == "*"
    sent = post.request.all_headers()
    assert sent["origin"] == site and sent["content-type"] == "application/json"
    # A JSON POST is not a "simple" request: the browser sent a preflight first, which the function answered.
    assert wait_for(lambda: invocations(aws) == before + 2)


def test_an_unknown_pair_shows_the_404s_message(api, site, page):
    text = ask(page, site, api, str(USER_ID), "999999")
    page.screenshot(path=str(SCREENSHOTS / "unknown-pair.png"))
    assert "Unknown pair." in text
    assert f"No features for user {USER_ID} and product 999999" in text
    assert page.get_attribute("#result", "class") == "error"


def test_without_cors_headers_the_browser_refuses_the_answer(api, site, page):
    """API Gateway's own 403 for a path the API lacks carries no CORS headers: the page cannot read it,
    which shows that the answers above were readable because of the function's headers."""
    text = ask(page, site, re.sub(r"/predict$", "/nothing", api), str(USER_ID), str(PRODUCT_ID))
    assert text.startswith("Could not reach the API")


def test_bad_input_is_explained_without_calling_the_api(api, site, page):
    assert ask(page, site, api, "nineteen", "427") == "User and product ids are whole numbers, such as 19 and 427."
