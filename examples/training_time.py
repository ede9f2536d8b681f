"""Learned MLP: the gap per σ over training snapshots beside the memorized fraction of samples.

python examples/training_time.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "training-time", *sys.argv[1:]]))
