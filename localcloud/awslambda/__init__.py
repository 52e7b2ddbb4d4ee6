"""AWS Lambda: real execution of Python deployment packages (see ``runtime`` and ``models``)."""
