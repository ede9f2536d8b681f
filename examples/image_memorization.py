"""Memorized fraction of generated images (images).

python examples/image_memorization.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "image-memorization", *sys.argv[1:]]))
