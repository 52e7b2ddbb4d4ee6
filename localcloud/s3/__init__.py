"""Amazon S3: event notifications that really reach Lambda, SQS and SNS."""
