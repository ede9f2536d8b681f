"""Image gap for k-means pseudo-labels of growing K (images).

python examples/image_condition_granularity.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "image-condition-granularity", *sys.argv[1:]]))
