"""``python -m localcloud.algorithms.xgboost train|serve`` — the XGBoost container's entry points."""

import sys

from localcloud.algorithms.container import main

sys.exit(main(__package__, sys.argv))
