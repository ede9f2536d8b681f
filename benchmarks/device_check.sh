#!/usr/bin/env bash
# One short session on a GPU machine (the project's `device` tool): checks that the core runs
# on that machine's JAX (0.11+, Python 3.12), then measures the core benchmarks and the cifar
# U-Net on the GPU. Results land in $OUT (or ./device-out).
set -o pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-device-out}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 TOYFLOW_CACHE=/tmp/toyflow-cache
python3 -c "import sys, jax, flax, optax; print('python', sys.version.split()[0], 'jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())" | tee "$OUT/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/versions.txt"
# 1) the core benchmarks on the GPU
timeout "${BENCH_S:-150}" python3 benchmarks/run.py --json "$OUT/bench_gpu.json" 2>&1 | grep -v Warning | tee "$OUT/bench_gpu.txt"
# 2) the cifar-preset U-Net on 32x32 procedural data
timeout "${UNET_S:-150}" python3 benchmarks/gpu_unet.py --json "$OUT/unet.json" 2>&1 | grep -v Warning | tee "$OUT/unet.txt"
# 3) the core's tests on this JAX version, on its CPU platform (as in CI)
JAX_PLATFORMS=cpu timeout "${COMPAT_S:-200}" python3 -m pytest -q -x -p no:cacheprovider \
  ${COMPAT_TESTS:-tests/test_denoisers.py tests/test_schedules.py tests/test_sampling.py tests/test_fields.py tests/test_metrics.py tests/test_training.py} 2>&1 | tail -n 8 | tee "$OUT/compat.txt"
