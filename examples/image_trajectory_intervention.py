"""Claim 3 by intervention on U-Nets: injection with a twin, copy ratio, AUC, hybrids (images).

python examples/image_trajectory_intervention.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "image-trajectory-intervention", *sys.argv[1:]]))
