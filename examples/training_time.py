"""Gap per σ and memorized samples across training snapshots (learned).

python examples/training_time.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "training-time", *sys.argv[1:]]))
