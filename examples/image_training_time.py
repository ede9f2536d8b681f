"""Image gap and memorization over training (images).

python examples/image_training_time.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "image-training-time", *sys.argv[1:]]))
