"""Fréchet distance of samples to train and validation as δ shrinks (paper).

python examples/fd_vs_delta.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "fd-vs-delta", *sys.argv[1:]]))
