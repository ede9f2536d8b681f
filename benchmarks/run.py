"""Side-by-side speed measurements of the toyflow core.

Each benchmark measures toyflow and a baseline in the same process, alternating the two over
several rounds so that a busy machine slows both alike, and prints one line:

    name | toyflow VALUE | baseline VALUE | ratio R (target >= T) | note

Benchmarks (the core issue's targets):
  optimal-denoiser   streaming D* (20,000 train x 4,096 queries) vs a naive dense jitted
                     ``softmax(-d²/2σ²) @ X``                                   target >= 4x
  train-w64/w256     single-model training steps/s (batch 1024) vs an eager PyTorch loop of
                     the same network, loss and optimiser (if torch is installed)  target >= 1x
  sweep-b256/b1024   a vmap sweep of 16 width-64 models vs training them one after another
                     (model-steps/s)                                              target >= 1.5x at b256

Usage: python benchmarks/run.py [--quick] [--json PATH] [--only NAME ...]
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


def bench_optimal(quick: bool):
    n_train, n_query = (20_000, 4_096) if not quick else (5_000, 1_024)
    rng = np.random.default_rng(0)
    y = (10 * rng.normal(size=(n_train, 2))).astype(np.float32)
    x = (10 * rng.normal(size=(n_query, 2))).astype(np.float32)
    D = toyflow.OptimalDenoiser(y)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    sig = jnp.full((n_query,), 1.0, jnp.float32)
    fast = lambda: _apply(D, xj, sig, None).block_until_ready()
    slow = lambda: naive_optimal(xj, sig, yj).block_until_ready()
    err = float(jnp.max(jnp.abs(_apply(D, xj, sig, None) - naive_optimal(xj, sig, yj))))
    t_fast, t_slow = _alternate(fast, slow, 3 if quick else 5)
    q_per_s = n_query / t_fast
    return [
        _line(
            "optimal-denoiser",
            q_per_s,
            "queries/s",
            n_query / t_slow,
            "queries/s",
            t_slow / t_fast,
            4.0,
            f"{n_train} train x {n_query} queries, max |diff| {err:.1e}",
        )
    ]


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

        def sequential():
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


BENCHMARKS = {"optimal": bench_optimal, "train": bench_train, "sweep": bench_sweep}


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    args = ap.parse_args(argv)
    dev = jax.devices()[0]
    print(
        f"# toyflow {toyflow.__version__}, jax {jax.__version__} on {dev.platform} "
        f"({dev.device_kind}), {os.cpu_count()} CPUs, python {platform.python_version()}"
        + (" [quick]" if args.quick else ""),
        flush=True,
    )
    results = []
    for name in args.only or list(BENCHMARKS):
        results.extend(BENCHMARKS[name](args.quick))
    if args.json:
        meta = {
            "jax": jax.__version__,
            "platform": dev.platform,
            "device": dev.device_kind,
            "cpus": os.cpu_count(),
            "quick": args.quick,
        }
        training.atomic_write_bytes(
            args.json, json.dumps({"meta": meta, "results": results}, indent=2).encode()
        )
    return results


if __name__ == "__main__":
    main()
