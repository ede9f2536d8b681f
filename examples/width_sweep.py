"""Learned MLPs: width against the gap, the memorized fraction and the Fréchet overfit.

python examples/width_sweep.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "width-sweep", *sys.argv[1:]]))
