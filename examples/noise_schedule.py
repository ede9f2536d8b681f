"""Learned MLPs: EDM, VP, VE and cosine schedules trained and sampled on the same data.

python examples/noise_schedule.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "noise-schedule", *sys.argv[1:]]))
