"""Run any registered toyflow experiment and print its headline numbers.

    python examples/run_experiment.py gap-vs-delta --outdir results [--quick]
    python examples/run_experiment.py --list

Writes ``results/NAME.json`` (configuration, plotted arrays, headline numbers) and
``results/NAME.png``. The same as ``toyflow experiment ...``; the per-experiment scripts in this
folder are one-line wrappers around it.
"""

import sys

from toyflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["experiment", *sys.argv[1:]]))
