"""The SageMaker XGBoost built-in algorithm (``sagemaker-xgboost`` images) on the open-source library."""

UNUSED_MODULES = ("sklearn",)
"""xgboost.compat imports scikit-learn for xgboost's scikit-learn estimators, which the container never
uses: 0.96 s of the container's 1.15 s start-up (see ``container.entry_module``)."""
