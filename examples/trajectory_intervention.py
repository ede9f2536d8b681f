"""Claim 3 by intervention: injection with a twin control, copy ratio, AUC, hybrids (learned).

python examples/trajectory_intervention.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "trajectory-intervention", *sys.argv[1:]]))
