"""The paper's optimal flow fields at σ ≈ 28, 2.8, 0.63, with the δ model and their difference.

python examples/flow_fields.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "flow-fields", *sys.argv[1:]]))
