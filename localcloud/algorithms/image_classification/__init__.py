"""The SageMaker Image Classification built-in algorithm (``image-classification:1``): ResNet in PyTorch."""
