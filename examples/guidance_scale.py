"""Classifier-free and autoguidance weights with learned models (learned).

python examples/guidance_scale.py --outdir results [--quick] [--set KEY=VALUE ...]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "guidance-scale", *sys.argv[1:]]))
