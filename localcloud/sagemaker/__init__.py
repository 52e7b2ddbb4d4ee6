"""Amazon SageMaker: training jobs that train, endpoints that serve (see ``models``, ``training``, ``hosting``)."""
