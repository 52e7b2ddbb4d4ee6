"""Amazon API Gateway: REST API stages that really answer."""
