"""Unconditional, coarse labels, k-means K, one label per point (learned).

python examples/condition_granularity.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "condition-granularity", *sys.argv[1:]]))
