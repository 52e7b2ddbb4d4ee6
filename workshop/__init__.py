"""Helpers every workshop notebook needs and no notebook should teach.

    import workshop
    target = workshop.connect()                 # WORKSHOP_TARGET=local (default) or aws
    base = workshop.stack_outputs(workshop.name("base"))
    outputs = workshop.deploy_stack("workshop-03-api", "cloudformation/03_breast_cancer_api.yml", {...})
    workshop.show_billable()                    # what would still cost money on AWS

Teaching code stays plain boto3 and SageMaker SDK; this package only chooses where it runs,
names things, packages Lambda folders, deploys templates with a progress bar and cleans up.
"""

import warnings

from workshop.billing import billable_endpoints, show_billable
from workshop.lambdas import package_lambda
from workshop.names import PREFIX, TAG, name, unique_name
from workshop.stacks import StackFailed, delete_stack, deploy_stack, stack_outputs
from workshop.target import ROOT, Target, api_url, connect

# The SDK v3 draws its waits as a live rich panel, which in a notebook needs ipywidgets; without it rich
# prints a warning carrying the reader's site-packages path.  The workshop stays without ipywidgets because
# nbval cannot replay widget output, so the wait simply prints its result when done.
warnings.filterwarnings("ignore", message='install "ipywidgets" for Jupyter support', category=UserWarning,
                        module="rich.live")

__all__ = ["PREFIX", "ROOT", "StackFailed", "TAG", "Target", "api_url", "billable_endpoints", "connect", "delete_stack",
           "deploy_stack", "name", "package_lambda", "show_billable", "stack_outputs", "unique_name"]
