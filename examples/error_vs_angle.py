"""Denoising error along the circle between training points (paper).

python examples/error_vs_angle.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "error-vs-angle", *sys.argv[1:]]))
