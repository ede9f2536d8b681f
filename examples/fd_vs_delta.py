"""The paper's Fréchet distance of samples to train and validation sets as δ shrinks.

python examples/fd_vs_delta.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "fd-vs-delta", *sys.argv[1:]]))
