"""From a handful of points to dense support: where the learned field stops localizing (learned).

python examples/dataset_size.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "dataset-size", *sys.argv[1:]]))
