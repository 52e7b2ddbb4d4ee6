"""AWS IAM: roles and policies are stored by moto; localcloud does not enforce them."""
