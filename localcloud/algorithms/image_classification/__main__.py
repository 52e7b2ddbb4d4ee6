"""``python -m localcloud.algorithms.image_classification train|serve`` — the container's entry points."""

import sys

from localcloud.algorithms.container import run_training, serve


def main(argv: list[str]) -> int:
    if argv[1:] == ["train"]:
        from localcloud.algorithms.image_classification.train import train

        return run_training(train)
    if argv[1:] == ["serve"]:
        from localcloud.algorithms.image_classification.serve import load_model

        serve(load_model)
        return 0
    print("usage: python -m localcloud.algorithms.image_classification train|serve", file=sys.stderr)
    return 2


sys.exit(main(sys.argv))
