"""Amazon SQS: CloudFormation queue policies (the queues themselves are moto's)."""
