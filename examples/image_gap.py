"""Per-σ generalization gap of a U-Net on images (images).

python examples/image_gap.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "image-gap", *sys.argv[1:]]))
