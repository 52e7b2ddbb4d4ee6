"""The SageMaker XGBoost built-in algorithm (``sagemaker-xgboost`` images) on the open-source library."""
