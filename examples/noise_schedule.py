"""EDM, VP, VE and cosine trained and sampled on the same data (learned).

python examples/noise_schedule.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "noise-schedule", *sys.argv[1:]]))
