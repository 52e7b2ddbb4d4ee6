"""localcloud's additions to moto's DynamoDB."""
