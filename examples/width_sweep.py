"""Model width against gap, memorized fraction and sample Fréchet overfit (learned).

python examples/width_sweep.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "width-sweep", *sys.argv[1:]]))
