"""Side-by-side speed measurements of the toyflow core.

Each benchmark measures toyflow and a baseline in the same process, alternating the two over
several rounds so that a busy machine slows both alike, and prints one line:

    name | toyflow VALUE | baseline VALUE | ratio R (target >= T) | note

Benchmarks (the core issue's targets):
  optimal-denoiser   streaming D* (20,000 train x 4,096 queries) vs a naive dense jitted
                     ``softmax(-d²/2σ²) @ X``               target >= 7x on CPU, >= 4x on GPU
  train-w64/w256     single-model training steps/s (batch 1024) vs an eager PyTorch loop of
                     the same network, loss and optimiser (if torch is installed)  target >= 1x
  sweep-b256/b1024   a vmap sweep of 16 width-64 models vs training them one after another
                     (model-steps/s)                                              target >= 1.5x at b256

  optimal-pairs      the same run's (query, point) pairs/s vs this machine's jitted
                     ``jnp.exp(a).sum()`` elements/s                       target >= 0.5 on CPU
  optimal-image      D* for 1,000 queries against 50,000 x 3,072 (CIFAR-sized) images in a
                     fresh process: seconds and peak RSS                  target <= 4 GiB

Every run records the machine, versions, load average and date (``--json``).

``--device`` is the accelerator summary that ``benchmarks/device_check.sh`` runs: the D* lines
plus every candidate tiling, image-scale D*, and the cifar U-Net's forward FLOPs (XLA cost
analysis), bf16 training img/s and MFU, and 18-step Heun sampling img/s. ``--tiny`` shrinks
every size so any mode runs on a CPU in a minute or two (it checks the code, not the hardware).

Usage: python benchmarks/run.py [--quick | --tiny] [--device] [--json PATH] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import toyflow
from toyflow import training
from toyflow._denoiser import _apply


def _timeit(fn, repeats: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def _alternate(fn_a, fn_b, rounds: int) -> tuple[float, float]:
    """Median seconds of ``fn_a`` and ``fn_b`` timed in alternation (after one warm-up each)."""
    fn_a()
    fn_b()
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(_timeit(fn_a))
        tb.append(_timeit(fn_b))
    return statistics.median(ta), statistics.median(tb)


def _alternate_cpu(fn_a, fn_b, rounds: int):
    """Like :func:`_alternate`, also returning each one's median process CPU seconds (less
    sensitive than wall time to other processes on a shared machine)."""
    fn_a()
    fn_b()
    ta, tb, ca, cb = [], [], [], []
    for _ in range(rounds):
        for fn, t, c in ((fn_a, ta, ca), (fn_b, tb, cb)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
            c.append(time.process_time() - c0)
    med = statistics.median
    return (med(ta), med(ca)), (med(tb), med(cb))


def _line(name, value, unit, base, base_unit, ratio, target, note=""):
    ok = (
        "ok"
        if ratio is not None and target is not None and ratio >= target
        else ("n/a" if ratio is None else "BELOW TARGET")
    )
    r = "n/a" if ratio is None else f"{ratio:.2f}x"
    t = "" if target is None else f" (target >= {target}x, {ok})"
    b = "n/a" if base is None else f"{base:.4g} {base_unit}"
    print(
        f"{name:<18} | toyflow {value:.4g} {unit} | baseline {b} | ratio {r}{t}"
        + (f" | {note}" if note else ""),
        flush=True,
    )
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": base,
        "baseline_unit": base_unit,
        "ratio": ratio,
        "target": target,
        "meets_target": None if ratio is None or target is None else bool(ratio >= target),
        "note": note,
    }


# --- optimal denoiser -------------------------------------------------------------------------


@jax.jit
def naive_optimal(x, sigma, y):
    """The dense reference: all (n, N) distances, a softmax, and a matmul."""
    d2 = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    w = jax.nn.softmax(-d2 / (2 * sigma[:, None] ** 2), axis=1)
    return w @ y


_exp_sum = jax.jit(lambda a: jnp.exp(a).sum())


def _optimal_sizes(size: str) -> tuple[int, int]:
    return {"full": (20_000, 4_096), "quick": (5_000, 1_024), "tiny": (500, 128)}[size]


def bench_optimal(size: str = "full", variants: bool = False):
    """Streaming D* against the naive dense softmax, and its pairs/s against exp+sum."""
    from toyflow.denoisers import choose_blocking, posterior_stream

    n_train, n_query = _optimal_sizes(size)
    rng = np.random.default_rng(0)
    y = (10 * rng.normal(size=(n_train, 2))).astype(np.float32)
    x = (10 * rng.normal(size=(n_query, 2))).astype(np.float32)
    D = toyflow.OptimalDenoiser(y)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    sig = jnp.full((n_query,), 1.0, jnp.float32)
    fast = lambda: _apply(D, xj, sig, None).block_until_ready()
    slow = lambda: naive_optimal(xj, sig, yj).block_until_ready()
    err = float(jnp.max(jnp.abs(_apply(D, xj, sig, None) - naive_optimal(xj, sig, yj))))
    rounds = 5 if size == "full" else 3
    (t_fast, c_fast), (t_slow, c_slow) = _alternate_cpu(fast, slow, rounds)
    backend = jax.default_backend()
    plan = choose_blocking(n_query, n_train, 2)
    out = [
        _line(
            "optimal-denoiser",
            n_query / t_fast,
            "queries/s",
            n_query / t_slow,
            "queries/s",
            t_slow / t_fast,
            None if size != "full" else (7.0 if backend == "cpu" else 4.0),
            f"{n_train} train x {n_query} queries, max |diff| {err:.1e}; cpu-time ratio "
            f"{c_slow / max(c_fast, 1e-9):.2f}x; blocking {_plan_str(plan)}",
        )
    ]
    # Pairs/s against this machine's exp+sum, the two timed in alternation like the lines above.
    exp_n = 1 << (24 if size == "full" else 20)
    a = -jnp.abs(jax.random.normal(jax.random.PRNGKey(0), (exp_n,), jnp.float32))
    (t_fast2, c_fast2), (t_exp, c_exp) = _alternate_cpu(
        fast, lambda: _exp_sum(a).block_until_ready(), rounds
    )
    pairs, rate = n_train * n_query / t_fast2, exp_n / t_exp
    out.append(
        _line(
            "optimal-pairs",
            pairs,
            "pairs/s",
            rate,
            "exp+sum/s",
            pairs / rate,
            0.5 if backend == "cpu" and size == "full" else None,
            "toyflow's (query, training point) pairs per second vs a jitted jnp.exp(a).sum() "
            f"over 2^{exp_n.bit_length() - 1} float32, timed in alternation; cpu-time ratio "
            f"{(n_train * n_query / c_fast2) / (exp_n / max(c_exp, 1e-9)):.2f}",
        )
    )
    if variants:  # each candidate tiling on this backend, for choosing the defaults
        for name, plan in _candidate_plans(n_query, n_train, backend):
            fn = jax.jit(
                lambda x, s, y, plan=plan: posterior_stream(x, s, y, None, None, blocking=plan)
            )
            run = lambda fn=fn: fn(xj, sig, yj).denoised.block_until_ready()
            e = float(jnp.max(jnp.abs(fn(xj, sig, yj).denoised - naive_optimal(xj, sig, yj))))
            t_plan, t_base = _alternate(run, slow, 3)
            out.append(
                _line(
                    f"optimal-{name}",
                    n_query / t_plan,
                    "queries/s",
                    n_query / t_base,
                    "queries/s",
                    t_base / t_plan,
                    None,
                    f"blocking {_plan_str(plan)}, max |diff| {e:.1e}",
                )
            )
    return out


def _plan_str(plan) -> str:
    return (
        f"{plan.query_block}q x {plan.chunk}pts, {plan.distances} distances, {plan.sums} sums"
        + ("" if plan.precision == "highest" else f", precision {plan.precision}")
    )


def _candidate_plans(n: int, big_n: int, backend: str):
    """Alternative tilings to time beside the default (the GPU ones are the open question)."""
    from toyflow.denoisers import Blocking, choose_blocking

    auto = choose_blocking(n, big_n, 2, backend)
    cands = [("auto", auto)]
    for qb in sorted({min(n, 1024), min(n, 4096), min(n, 256)}):
        for ch in sorted({min(big_n, 4096), big_n}):
            for sums in ("reduce", "matmul"):
                p = Blocking(qb, ch, "direct", sums, auto.unroll)
                if p != auto:
                    cands.append((f"q{qb}-c{ch}-{sums}", p))
    return cands[: 1 + (12 if backend != "cpu" else 3)]


def _image_child(args: dict) -> dict:
    """Runs in a fresh process (so its peak RSS is its own): D* on an image-sized training set."""
    import resource

    n_train, n_query, dim = args["n_train"], args["n_query"], args["dim"]
    rng = np.random.default_rng(0)
    # Uniform pixels in [-1, 1], generated in float32 blocks (no float64 copy of the set).
    y = np.empty((n_train, dim), np.float32)
    for s in range(0, n_train, 4096):
        y[s : s + 4096] = rng.random((min(4096, n_train - s), dim), np.float32) * 2 - 1
    # Alternate queries near a training image (σ small: one image dominates) and far (σ large:
    # the weights spread over many images, where float32 accuracy is actually tested).
    sigma = np.where(np.arange(n_query) % 2 == 0, args["sigma"], 20.0).astype(np.float32)
    pick = rng.integers(n_train, size=n_query)
    x = (y[pick] + sigma[:, None] * rng.normal(size=(n_query, dim)).astype(np.float32)).astype(
        np.float32
    )
    D = toyflow.OptimalDenoiser(y)
    xj = jnp.asarray(x)
    sig = jnp.asarray(sigma)
    t0 = time.perf_counter()
    out = _apply(D, xj, sig, None).block_until_ready()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = _apply(D, xj, sig, None).block_until_ready()
    second = time.perf_counter() - t0
    # Accuracy: 4 queries against a float64 dense softmax (in blocks: no float64 copy of Y).
    x64 = x[:4].astype(np.float64)
    d2 = np.concatenate(
        [
            ((x64[:, None, :] - y[s : s + 2048].astype(np.float64)[None]) ** 2).sum(-1)
            for s in range(0, n_train, 2048)
        ],
        axis=1,
    )
    logit = -d2 / (2.0 * sigma[:4, None].astype(np.float64) ** 2)
    w = np.exp(logit - logit.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    want = sum(
        w[:, s : s + 2048] @ y[s : s + 2048].astype(np.float64) for s in range(0, n_train, 2048)
    )
    rel = float(np.max(np.abs(np.asarray(out[:4], np.float64) - want)) / np.max(np.abs(want)))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    dev = jax.devices()[0]
    try:
        dev_peak = (dev.memory_stats() or {}).get("peak_bytes_in_use")
    except Exception:
        dev_peak = None
    return {
        "first_s": first,
        "seconds": second,
        "rel_err": rel,
        "peak_rss": peak_rss,
        "device_peak": dev_peak,
        "max_weights": [float(v) for v in w.max(1)],
    }


def bench_optimal_image(size: str = "full"):
    """D* for 1,000 queries against 50,000 CIFAR-sized (3,072-d) images within 4 GiB."""
    import subprocess

    n_train, n_query, dim = {
        "full": (50_000, 1_000, 3072),
        "quick": (10_000, 256, 3072),
        "tiny": (600, 16, 3072),
    }[size]
    args = {"n_train": n_train, "n_query": n_query, "dim": dim, "sigma": 0.3}
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--image-child", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"image benchmark failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    gib = r["peak_rss"] / 2**30
    limit = 4.0
    dev = "" if r["device_peak"] is None else f", device peak {r['device_peak'] / 2**30:.2f} GiB"
    line = _line(
        "optimal-image",
        r["seconds"],
        "s",
        None,
        "",
        None,
        None,
        f"{n_train} x {dim} train, {n_query} queries: {r['seconds']:.2f} s "
        f"({n_train * n_query / r['seconds']:.3g} pairs/s; first call with compile "
        f"{r['first_s']:.2f} s), peak RSS {gib:.2f} GiB (limit {limit:g} GiB, "
        f"{'ok' if gib <= limit else 'OVER'}){dev}, rel. error vs float64 {r['rel_err']:.1e} "
        f"(largest weights {', '.join(f'{v:.2g}' for v in r['max_weights'])})",
    )
    line.update(
        peak_rss_bytes=r["peak_rss"], device_peak_bytes=r["device_peak"], rel_err=r["rel_err"]
    )
    line["meets_target"] = bool(gib <= limit)
    return [line]


# --- training ---------------------------------------------------------------------------------


def _toyflow_trainer(x, width, batch, steps, seeds=(0,)):
    """A closure that trains len(seeds) models for ``steps`` steps (compiled once, reused)."""

    def go():
        if len(seeds) == 1:
            toyflow.train(
                x,
                width=width,
                depth=3,
                steps=steps,
                batch_size=batch,
                n_snapshots=0,
                steps_per_call=steps,
                seed=seeds[0],
            )
        else:
            toyflow.train_sweep(
                x,
                seeds=list(seeds),
                width=width,
                depth=3,
                steps=steps,
                batch_size=batch,
                n_snapshots=0,
                steps_per_call=steps,
            )

    return go


def _torch_trainer(x, width, batch, steps):
    """The same MLP (Fourier noise embedding, 3 layers, SiLU), EDM loss and Adam, eager PyTorch."""
    import torch

    torch.manual_seed(0)
    # Same device as JAX: the GPU when JAX runs on one, else the CPU.
    dev = "cuda" if jax.devices()[0].platform == "gpu" and torch.cuda.is_available() else "cpu"
    torch.set_default_device(dev)
    data = torch.tensor(x, device=dev)
    sd = float(np.std(x))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.freqs = torch.randn(16) * 4.0
            self.in_x = torch.nn.Linear(2, width)
            self.in_noise = torch.nn.Linear(32, width)
            self.hidden = torch.nn.ModuleList([torch.nn.Linear(width, width) for _ in range(2)])
            self.out = torch.nn.Linear(width, 2)

        def forward(self, x, sigma):
            c_skip = sd**2 / (sigma**2 + sd**2)
            c_out = sigma * sd / torch.sqrt(sigma**2 + sd**2)
            c_in = 1 / torch.sqrt(sigma**2 + sd**2)
            c_noise = torch.log(sigma) / 4
            ang = 2 * np.pi * c_noise[:, None] * self.freqs[None]
            emb = torch.cat([torch.cos(ang), torch.sin(ang)], 1)
            h = torch.nn.functional.silu(self.in_x(c_in[:, None] * x) + self.in_noise(emb))
            for layer in self.hidden:
                h = torch.nn.functional.silu(layer(h))
            return c_skip[:, None] * x + c_out[:, None] * self.out(h)

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    shift = float(np.log(sd / 0.5))

    def go_steps(n_steps):
        for _ in range(n_steps):
            idx = torch.randint(0, data.shape[0], (batch,))
            y = data[idx]
            sigma = torch.exp(-1.2 + shift + 1.2 * torch.randn(batch))
            xn = y + sigma[:, None] * torch.randn_like(y)
            w = (sigma**2 + sd**2) / (sigma * sd) ** 2
            loss = (w * ((net(xn, sigma) - y) ** 2).mean(1)).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        if dev == "cuda":
            torch.cuda.synchronize()

    def go():
        go_steps(steps)

    if dev == "cpu":
        # OpenMP threads spin when the cores are busy, which can slow eager torch several times
        # over: give the baseline its best thread count (1 or all cores), measured briefly.
        best = None
        for threads in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            for _ in range(2):
                go_steps(max(steps // 20, 5))
            elapsed = time.perf_counter() - t0
            if best is None or elapsed < best[0]:
                best = (elapsed, threads)
        torch.set_num_threads(best[1])
    where = "cuda" if dev == "cuda" else f"{torch.get_num_threads()} thread(s), the faster setting"
    return go, torch.__version__, where


def _circle(n=500, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi, n)
    return (10 * np.stack([np.cos(a), np.sin(a)], 1)).astype(np.float32)


def bench_train(quick: bool):
    x = _circle()
    out = []
    steps = 200 if quick else 1000
    for width in (64, 256):
        tf = _toyflow_trainer(x, width, 1024, steps)
        try:
            th, version, threads = _torch_trainer(x, width, 1024, steps)
        except ImportError:
            tf()
            t = _timeit(tf, 2)
            out.append(
                _line(
                    f"train-w{width}",
                    steps / t,
                    "steps/s",
                    None,
                    "",
                    None,
                    1.0,
                    "torch not installed: no baseline (pip install torch==2.13.0)",
                )
            )
            continue
        t_fast, t_slow = _alternate(tf, th, 3)
        out.append(
            _line(
                f"train-w{width}",
                steps / t_fast,
                "steps/s",
                steps / t_slow,
                "steps/s",
                t_slow / t_fast,
                1.0,
                f"batch 1024, depth 3, eager torch {version} on {threads}",
            )
        )
    return out


def bench_sweep(quick: bool):
    x = _circle()
    out = []
    models = 16
    steps = 100 if quick else 400
    for batch in (256, 1024):
        seeds = list(range(models))
        sweep = _toyflow_trainer(x, 64, batch, steps, seeds=seeds)
        singles = [_toyflow_trainer(x, 64, batch, steps, seeds=(s,)) for s in seeds]

        def sequential(singles=singles):
            for f in singles:
                f()

        t_sweep, t_seq = _alternate(sweep, sequential, 2 if quick else 3)
        ms = models * steps
        out.append(
            _line(
                f"sweep-b{batch}",
                ms / t_sweep,
                "model-steps/s",
                ms / t_seq,
                "model-steps/s",
                t_seq / t_sweep,
                1.5 if batch == 256 else None,
                f"{models} width-64 models under vmap in {training.sweep_groups(models)} "
                "concurrent group(s) vs one after another",
            )
        )
    return out


# --- U-Net on an accelerator: FLOPs, MFU, training and sampling throughput -------------------

#: Dense bf16 peak FLOP/s per chip (vendor figures, no sparsity), for MFU.
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "TPU v5e": 197e12}


def _bf16_peak(device_kind: str) -> float | None:
    for name, peak in BF16_PEAK.items():
        if name.lower() in device_kind.lower():
            return peak
    return None


def bench_unet(size: str = "full"):
    """The cifar U-Net: forward FLOPs per image (XLA cost analysis), training img/s in bf16 and
    MFU, and 18-step Heun sampling img/s and MFU (``tiny``: a small U-Net on 8×8 images)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gpu_unet

    tiny = size == "tiny"
    batch = 8 if tiny else 256
    steps = 4 if tiny else 100
    argv = ["--bf16", "--batch-size", str(batch), "--steps", str(steps)]
    argv += ["--quick"] if tiny else ["--steps-per-call", "50"]
    train = gpu_unet.main(argv)
    dev = jax.devices()[0]
    peak = _bf16_peak(dev.device_kind) if dev.platform != "cpu" else None
    fwd = train.get("forward_flops_per_image")
    out = []
    mfu = None if (peak is None or fwd is None) else 3 * fwd * train["images_per_s"] / peak
    out.append(
        _line(
            "unet-train-bf16",
            train["images_per_s"],
            "img/s",
            None,
            "",
            None,
            None,
            f"{train['n_params'] / 1e6:.1f} M params, batch {batch}; forward "
            f"{_gflop(fwd)} GFLOP/image (XLA cost analysis), training = 3x forward; "
            f"MFU {'n/a' if mfu is None else f'{100 * mfu:.1f}%'} of "
            f"{'n/a' if peak is None else f'{peak / 1e12:.0f} TFLOP/s'} bf16 peak; "
            f"target 4000 img/s on one H200",
        )
    )
    out[-1].update(forward_flops_per_image=fwd, mfu=mfu, peak_flops=peak)
    sample = gpu_unet.sample_throughput(
        preset="tiny" if tiny else "cifar",
        size=8 if tiny else 32,
        n=4 if tiny else 512,
        steps=18,
        bf16=True,
        quick=tiny,
    )
    nfe = sample["nfe"]
    smfu = None if (peak is None or fwd is None) else nfe * fwd * sample["images_per_s"] / peak
    out.append(
        _line(
            "unet-sample-heun18",
            sample["images_per_s"],
            "img/s",
            None,
            "",
            None,
            None,
            f"{sample['n']} images, Heun, 18 steps ({nfe} network evaluations per image), bf16; "
            f"MFU {'n/a' if smfu is None else f'{100 * smfu:.1f}%'}",
        )
    )
    out[-1].update(mfu=smfu, nfe=nfe)
    return out


def _gflop(f) -> str:
    return "n/a" if f is None else f"{f / 1e9:.3g}"


def device_summary(size: str):
    """Everything GPU-side in one short run: D* at 20k x 4096 (with the candidate tilings) and at
    image scale, then the U-Net's FLOPs, MFU, training and sampling throughput."""
    out = bench_optimal(size, variants=True)
    out += bench_optimal_image(size)
    out += bench_unet(size)
    return out


BENCHMARKS = {
    "optimal": bench_optimal,
    "optimal-image": bench_optimal_image,
    "train": lambda size: bench_train(size != "full"),
    "sweep": lambda size: bench_sweep(size != "full"),
}
DEFAULT = ("optimal", "optimal-image", "train", "sweep")


def machine_meta(size: str) -> dict:
    """What a reader needs to judge the figures: machine, versions, load and date."""
    import datetime

    import flax
    import jaxlib
    import optax

    dev = jax.devices()[0]
    cpu_model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu_model = names[0] if names else cpu_model
    except OSError:
        pass
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "toyflow": toyflow.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": dev.platform,
        "device": dev.device_kind,
        "n_devices": jax.device_count(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "host_os": platform.platform(),
        "load_avg_start": list(os.getloadavg()),
        "size": size,
        "quick": size != "full",
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: checks the code paths (CPU)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    ap.add_argument(
        "--device",
        action="store_true",
        help="the accelerator summary (D* tilings, image-scale D*, U-Net FLOPs/MFU/train/sample)",
    )
    ap.add_argument("--image-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.image_child:  # internal: the image-scale D* in its own process
        print(json.dumps(_image_child(json.loads(args.image_child))), flush=True)
        return []
    size = "tiny" if args.tiny else ("quick" if args.quick else "full")
    meta = machine_meta(size)
    print(
        f"# toyflow {meta['toyflow']}, jax {meta['jax']} on {meta['platform']} "
        f"({meta['device']}), {meta['cpus']} CPUs ({meta['cpu_model']}), python "
        f"{meta['python']}, {meta['date_utc']}, load avg {meta['load_avg_start'][0]:.2f}"
        + ("" if size == "full" else f" [{size}]"),
        flush=True,
    )
    results = []
    if args.device:
        results = device_summary(size)
    else:
        for name in args.only or DEFAULT:
            results.extend(BENCHMARKS[name](size))
    meta["load_avg_end"] = list(os.getloadavg())
    print(f"# load avg at the end {meta['load_avg_end'][0]:.2f}", flush=True)
    if args.json:
        training.atomic_write_bytes(
            args.json, json.dumps({"meta": meta, "results": results}, indent=2).encode()
        )
    return results


if __name__ == "__main__":
    main()
