"""``python -m localcloud.algorithms.linear_learner train|serve`` — the Linear Learner container's entry points."""

import sys

from localcloud.algorithms.container import main

sys.exit(main(__package__, sys.argv))
