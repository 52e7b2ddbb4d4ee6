"""AWS CloudFormation on moto's engine, made strict: lint first, fail loudly, roll back."""
