#!/usr/bin/env bash
# One short session on a GPU machine (the project's `device` tool): checks that the core runs
# on that machine's JAX (0.11+, Python 3.12), then measures everything GPU-side with one
# `benchmarks/run.py --device` run: the optimal denoiser at 20,000 x 4,096 (default tiling and
# each candidate tiling, vs the naive dense softmax), at image scale (50,000 x 3,072, 1,000
# queries), and the cifar U-Net (forward FLOPs from XLA's cost analysis, bf16 training img/s and
# MFU, 18-step Heun sampling img/s); then image-trajectory-intervention at scale (claim 3 by
# intervention on U-Nets: the small preset on 32x32 shapes, 2 replicates of A and its twin).
# Results land in $OUT (or ./device-out).
#   TINY=1 bash benchmarks/device_check.sh     # the same paths at tiny sizes (runs on a CPU)
set -o pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-device-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 TOYFLOW_CACHE=/tmp/toyflow-cache
SIZE=""; [ -n "${TINY:-}" ] && SIZE="--tiny"
python3 -c "import sys, jax, flax, optax; print('python', sys.version.split()[0], 'jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())" | tee "$OUT/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null | tee -a "$OUT/versions.txt"
# 1) everything GPU-side, one summary (lines as in docs/benchmarks/*.txt, JSON beside them)
timeout "${DEVICE_S:-360}" python3 benchmarks/run.py --device $SIZE --json "$OUT/device.json" 2>&1 | grep -v Warning | tee "$OUT/device.txt"
# 2) the core's tests on this JAX version, on its CPU platform (as in CI)
JAX_PLATFORMS=cpu timeout "${COMPAT_S:-200}" python3 -m pytest -q -x -p no:cacheprovider \
  ${COMPAT_TESTS:-tests/test_optimal_blocking.py tests/test_denoisers.py tests/test_sampling.py} 2>&1 | tail -n 8 | tee "$OUT/compat.txt"
# 3) claim 3 by intervention on U-Nets at scale (TINY: the --quick tiny preset); JSON + PNG in $OUT
IMG_SET="--set preset=small --set data=shapes --set n_train=400 --set n_val=400 --set steps=4000 --set batch_size=128 --set replicates=2 --set n_traj=512 --set n_hybrid=256"
[ -n "${TINY:-}" ] && IMG_SET="--quick"
timeout "${IMAGE_S:-300}" python3 -m toyflow.cli experiment image-trajectory-intervention $IMG_SET --outdir "$OUT" --quiet 2>&1 | grep -v Warning | tail -n 40 | tee "$OUT/image-intervention.txt"
