"""Relative gap for 8 to 15 training points at δ = 1.6 (paper).

python examples/gap_vs_density.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "gap-vs-density", *sys.argv[1:]]))
