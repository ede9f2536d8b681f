"""Learned MLP: model error on noisy training data against the error along sampling trajectories.

python examples/trajectory_overlap.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "trajectory-overlap", *sys.argv[1:]]))
