"""What is still running and billable: the costliest mistake is an endpoint left on after a workshop."""

from __future__ import annotations

import boto3

PRICES_AS_OF = "2026-11-23"
# USD per instance-hour for real-time inference, on-demand, us-east-1, as recorded by the workshop
# authors on PRICES_AS_OF. AWS changes prices and other regions differ: https://aws.amazon.com/sagemaker/pricing/
HOURLY_PRICES = {
    "ml.t2.medium": 0.056,
    "ml.t2.large": 0.111,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.m4.xlarge": 0.28,
    "ml.p3.2xlarge": 3.825,
    "ml.g4dn.xlarge": 0.736,
}
RUNNING = ("InService", "Creating", "Updating", "SystemUpdating", "RollingBack")


def billable_endpoints() -> list[dict]:
    """Each running endpoint's variants with instance type, count and hourly price (None if unknown)."""
    sagemaker = boto3.client("sagemaker")
    endpoints = [e for page in sagemaker.get_paginator("list_endpoints").paginate() for e in page["Endpoints"]]
    rows = []
    for endpoint in endpoints:
        if endpoint["EndpointStatus"] not in RUNNING:
            continue
        description = sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])
        config = sagemaker.describe_endpoint_config(EndpointConfigName=description["EndpointConfigName"])
        for variant in config["ProductionVariants"]:
            instance_type = variant.get("InstanceType", "serverless")
            count = variant.get("InitialInstanceCount", 1)
            price = HOURLY_PRICES.get(instance_type)
            rows.append({"endpoint": endpoint["EndpointName"], "variant": variant["VariantName"],
                         "status": endpoint["EndpointStatus"], "instance_type": instance_type, "count": count,
                         "hourly_usd": None if price is None else round(price * count, 3)})
    return rows


def show_billable() -> None:
    """Print the endpoints that bill by the hour, with what they cost (``billable_endpoints`` returns them)."""
    rows = billable_endpoints()
    if not rows:
        print("Nothing billable is running: no SageMaker endpoints are up.")
        return
    print(f"{'endpoint':<32} {'variant':<12} {'instances':<22} {'USD/hour':>9}")
    for row in rows:
        price = "unknown" if row["hourly_usd"] is None else f"{row['hourly_usd']:.3f}"
        print(f"{row['endpoint']:<32} {row['variant']:<12} {row['count']} x {row['instance_type']:<16} {price:>9}")
    known = sum(r["hourly_usd"] for r in rows if r["hourly_usd"] is not None)
    print(f"Total: {known:.3f} USD per hour, {known * 24:.2f} USD per day on AWS "
          f"(list prices of {PRICES_AS_OF}, us-east-1). Run notebooks/99_cleanup.ipynb when you are done.")
