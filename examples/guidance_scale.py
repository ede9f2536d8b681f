"""Learned MLPs: classifier-free guidance and autoguidance over the guidance weight.

python examples/guidance_scale.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "guidance-scale", *sys.argv[1:]]))
