"""Relative gap over σ for δ from 2.2 to 1.2 on the symmetric circle (paper).

python examples/gap_vs_delta.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "gap-vs-delta", *sys.argv[1:]]))
