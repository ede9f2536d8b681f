"""The paper's autoguidance curves: δ_pos 1.8 guided by δ_neg 2.2, weight w from 0 to 2.

python examples/gap_vs_guidance.py --outdir results [--quick]
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", "gap-vs-guidance", *sys.argv[1:]]))
