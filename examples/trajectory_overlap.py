"""Claim 3: model error on noisy training data vs on sampling trajectories, per σ (learned).

python examples/trajectory_overlap.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "trajectory-overlap", *sys.argv[1:]]))
