"""The metric definitions SageMaker applies to Image Classification's log."""


def metric_definitions() -> list[dict[str, str]]:
    return [
        {"Name": "train:accuracy", "Regex": r"Epoch\[\d+\] Train-accuracy=([-+]?[0-9]*\.?[0-9]+)"},
        {"Name": "validation:accuracy", "Regex": r"Epoch\[\d+\] Validation-accuracy=([-+]?[0-9]*\.?[0-9]+)"},
        {"Name": "train:accuracy:top_k", "Regex": r"Epoch\[\d+\] Train-top_k_accuracy_\d+=([-+]?[0-9]*\.?[0-9]+)"},
        {"Name": "validation:accuracy:top_k",
         "Regex": r"Epoch\[\d+\] Validation-top_k_accuracy_\d+=([-+]?[0-9]*\.?[0-9]+)"},
    ]


# The objective metric the service documents for tuning Image Classification; reported every epoch.
TUNABLE_METRICS = {"validation:accuracy": "Maximize"}
