"""The SageMaker Linear Learner built-in algorithm (``linear-learner:1``), in numpy."""
