"""Autoguidance (δ_pos 1.8, δ_neg 2.2) with w from 0 to 2 (paper).

python examples/gap_vs_guidance.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "gap-vs-guidance", *sys.argv[1:]]))
