"""The paper's density curves: 8 to 15 training points on the circle at δ = 1.6.

python examples/gap_vs_density.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "gap-vs-density", *sys.argv[1:]]))
