"""``python -m localcloud.algorithms.image_classification train|serve`` — the Image Classification container's entry points."""

import sys

from localcloud.algorithms.container import main

sys.exit(main(__package__, sys.argv))
