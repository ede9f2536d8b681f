"""Optimal flow field at σ ≈ 28, 2.8, 0.63 beside the δ model (paper).

python examples/flow_fields.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "flow-fields", *sys.argv[1:]]))
