"""Amazon SNS: Lambda subscriptions that receive the real SNS event."""
