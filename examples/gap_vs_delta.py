"""The paper's toy gap curves: relative gap over σ for δ from 2.2 down to 1.2 (symmetric circle).

python examples/gap_vs_delta.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "gap-vs-delta", *sys.argv[1:]]))
