"""The paper's denoising error along the circle, between and at training points, σ ≈ 1.

python examples/error_vs_angle.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "error-vs-angle", *sys.argv[1:]]))
