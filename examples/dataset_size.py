"""Learned MLPs: from a handful of points to dense support, where the field stops localizing.

python examples/dataset_size.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "dataset-size", *sys.argv[1:]]))
