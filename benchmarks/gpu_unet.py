"""Benchmark: train the paper's CIFAR-size U-Net on 32×32 procedural images.

Prints the JAX devices first, then compiles the training step (timed separately, with a warm-up
step), then times ``--steps`` steps of the same compiled function that ``toyflow.training.train``
runs (``make_train_step``: EDM loss, Adam, EMA, several steps per call under ``lax.fori_loop``).
Reports images/s, seconds per step and peak device memory (``memory_stats()`` where the backend
has it), and writes them as JSON with ``--json PATH``.

    python benchmarks/gpu_unet.py --steps 200 --batch-size 128 --json unet_h200.json
    python benchmarks/gpu_unet.py --bf16 --batch-size 256 --json unet_h200_bf16.json
    python benchmarks/gpu_unet.py --devices 8 --batch-size 1024        # data-parallel over 8
    python benchmarks/gpu_unet.py --quick                               # CPU smoke test

``--quick`` shrinks everything (a one-level 8-channel U-Net, 8×8 images, a few steps) so it runs
on a CPU in seconds; it checks the script, not the hardware.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any


def _memory(device) -> dict[str, Any]:
    """Peak and current bytes in use on ``device`` (None where the backend does not say)."""
    try:
        stats = device.memory_stats() or {}
    except Exception:
        stats = {}
    return {
        "peak_bytes": stats.get("peak_bytes_in_use"),
        "bytes_in_use": stats.get("bytes_in_use"),
        "bytes_limit": stats.get("bytes_limit"),
    }


def _cost_flops(cost) -> float | None:
    """The ``flops`` entry of a JAX cost analysis (a dict, or a list of dicts in older JAX)."""
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost:
        return None
    flops = cost.get("flops")
    return float(flops) if flops is not None and flops > 0 else None


def forward_flops_per_image(cfg, params, sigma_data, batch: int) -> dict[str, Any]:
    """Model FLOPs of one preconditioned forward pass per image, from XLA's cost analysis.

    Both the compiled program's count (``jit(f).lower(...).compile().cost_analysis()``) and the
    unoptimised HLO's (``lower(...).cost_analysis()``) are kept: a backend that hands
    convolutions to a library call (cuDNN) may leave them out of the compiled count, so the
    figure used is the larger one.
    """
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda p, x, s: cfg.apply(p, sigma_data, x, s))
    x = jnp.zeros((batch, *cfg.image_shape), jnp.float32)
    sig = jnp.ones((batch,), jnp.float32)
    lowered = f.lower(params, x, sig)
    try:
        hlo = _cost_flops(lowered.cost_analysis())
    except Exception:
        hlo = None
    try:
        compiled = _cost_flops(lowered.compile().cost_analysis())
    except Exception:
        compiled = None
    counts = [c for c in (compiled, hlo) if c is not None]
    per_image = max(counts) / batch if counts else None
    return {
        "forward_flops_per_image": per_image,
        "forward_flops_compiled": compiled,
        "forward_flops_hlo": hlo,
        "flops_batch": batch,
    }


def sample_throughput(
    preset: str = "cifar",
    size: int = 32,
    n: int = 512,
    steps: int = 18,
    bf16: bool = True,
    quick: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Images/s of ``toyflow.sample`` with Heun's method (EDM: Euler on the last step, so
    ``2·steps − 1`` network evaluations per image), timed on a second, compiled call."""
    import jax
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import toyflow
    from toyflow.images.unet import unet_config

    overrides: dict[str, Any] = {
        "image_shape": (size, size, 3),
        "compute_dtype": "bfloat16" if bf16 else "float32",
    }
    if quick:
        overrides.update(model_channels=8, channel_mult=(1,))
    cfg = unet_config(preset, **overrides)
    params = cfg.init(jax.random.PRNGKey(seed))
    den = cfg.make_denoiser(params, np.float32(0.5))
    t0 = time.perf_counter()
    out = toyflow.sample(den, n, steps=steps, solver="heun", seed=seed)
    jax.block_until_ready(out)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = toyflow.sample(den, n, steps=steps, solver="heun", seed=seed + 1)
    jax.block_until_ready(out)
    elapsed = time.perf_counter() - t0
    finite = bool(np.all(np.isfinite(np.asarray(out))))
    print(
        f"sampling: {n} images, Heun {steps} steps ({2 * steps - 1} evaluations): "
        f"{elapsed:.2f} s, {n / elapsed:,.0f} images/s (first call with compile {first:.1f} s), "
        f"finite {finite}",
        flush=True,
    )
    return {
        "n": n,
        "steps": steps,
        "nfe": 2 * steps - 1,
        "seconds": elapsed,
        "first_call_s": first,
        "images_per_s": n / elapsed,
        "finite": finite,
    }


def _gib(b) -> str:
    return "n/a" if b is None else f"{b / 2**30:.2f} GiB"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed training steps after warm-up (default 200; 4 with --quick)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="global batch size (default 128; 8 with --quick)",
    )
    parser.add_argument(
        "--steps-per-call",
        type=int,
        default=None,
        help="steps per compiled call (default 50; 2 with --quick)",
    )
    parser.add_argument("--preset", default="cifar", help="U-Net preset (tiny, small, cifar)")
    parser.add_argument("--size", type=int, default=32, help="image size (square)")
    parser.add_argument("--n-images", type=int, default=4096, help="procedural training images")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 compute (float32 parameters)")
    parser.add_argument(
        "--devices",
        type=int,
        default=1,
        help="devices for data parallelism (batch split over a mesh's data axis)",
    )
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--ema", type=float, default=0.9999)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny CPU smoke test")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    defaults = dict(steps=200, batch_size=128, steps_per_call=50)
    if args.quick:
        args.preset, args.size, args.n_images = "tiny", 8, 64
        defaults = dict(steps=4, batch_size=8, steps_per_call=2)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.steps < 1 or args.batch_size < 1 or args.steps_per_call < 1:
        parser.error("--steps, --batch-size and --steps-per-call must be positive")

    import jax
    import jax.numpy as jnp
    import numpy as np

    devices = jax.devices()
    print(f"jax {jax.__version__} on {jax.default_backend()}: {len(devices)} device(s)", flush=True)
    for d in devices:
        print(f"  {d.id}: {d.device_kind} ({d.platform})", flush=True)
    if args.devices > len(devices):
        parser.error(f"--devices {args.devices} but only {len(devices)} device(s) are visible")

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from toyflow.images.data import procedural
    from toyflow.images.unet import conv_impl, param_count, unet_config
    from toyflow.schedules import get_schedule
    from toyflow.training import TrainState, make_optimizer, make_train_step, measure_sigma_data

    data = procedural(
        args.n_images, size=args.size, channels=3, kind="shapes", seed=args.seed, val_fraction=0.0
    )
    overrides: dict[str, Any] = {
        "image_shape": (args.size, args.size, 3),
        "compute_dtype": "bfloat16" if args.bf16 else "float32",
    }
    if args.quick:  # the smallest network that still has every part: compiles in seconds
        overrides.update(model_channels=8, channel_mult=(1,))
    cfg = unet_config(args.preset, **overrides)
    n_params = param_count(cfg)
    print(
        f"model: {cfg.describe()}, {n_params / 1e6:.2f} M parameters, conv={conv_impl()}",
        flush=True,
    )
    print(
        f"data: {data.n_train} procedural {args.size}×{args.size}×3 images; batch {args.batch_size}, "
        f"{args.steps} timed steps, {args.steps_per_call} per call",
        flush=True,
    )

    optimizer = make_optimizer(args.learning_rate)
    chunk = min(args.steps_per_call, args.steps)
    x = data.train_x
    sigma_data = np.float32(measure_sigma_data(x))
    key = jax.random.PRNGKey(args.seed)
    k_init, k_run = jax.random.split(key)

    if args.devices > 1:
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as P

        from toyflow.images.parallel import ShardedConfig, check_batch, make_mesh, place

        mesh = make_mesh(model=1, data=args.devices, devices=devices[: args.devices])
        try:
            check_batch(args.batch_size, mesh)
        except ValueError as exc:
            parser.error(str(exc))
        run_cfg = ShardedConfig(cfg, mesh)
        rep = NamedSharding(mesh, P())
        put = lambda a: place(a, rep)
    else:
        run_cfg = cfg
        put = lambda a: jax.device_put(a, devices[0])
    run = make_train_step(
        run_cfg,
        optimizer,
        get_schedule("edm"),
        batch_size=args.batch_size,
        ema_decay=args.ema,
        max_chunk=chunk,
    )
    params = cfg.init(k_init)
    flops = forward_flops_per_image(cfg, params, sigma_data, min(args.batch_size, 64))
    print(
        "forward FLOPs per image (XLA cost analysis): "
        + (
            "n/a"
            if flops["forward_flops_per_image"] is None
            else f"{flops['forward_flops_per_image'] / 1e9:.3g} GFLOP "
            f"(compiled {flops['forward_flops_compiled']}, HLO {flops['forward_flops_hlo']})"
        ),
        flush=True,
    )
    opt_state = optimizer.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(args.learning_rate, jnp.float32)
    state = TrainState(jnp.int32(0), params, opt_state, params)
    state = jax.tree_util.tree_map(lambda a: put(np.asarray(a)), state)
    data_x = put(x)
    idx = put(np.arange(x.shape[0], dtype=np.int32))
    count = put(np.int32(x.shape[0]))
    sd = put(sigma_data)
    k_run = put(np.asarray(k_run))
    step_fn = jax.jit(run, donate_argnums=(0,))

    # Compile + warm-up (one step), then the timed steps.
    t0 = time.perf_counter()
    state, losses = step_fn(state, k_run, sd, data_x, None, idx, count, put(np.int32(1)))
    jax.block_until_ready(losses)
    compile_s = time.perf_counter() - t0
    warm_loss = float(np.asarray(losses)[0])
    print(f"compile + warm-up step: {compile_s:.1f} s (loss {warm_loss:.4f})", flush=True)

    all_losses = []
    done = 0
    t0 = time.perf_counter()
    while done < args.steps:
        n = min(chunk, args.steps - done)
        state, losses = step_fn(state, k_run, sd, data_x, None, idx, count, put(np.int32(n)))
        all_losses.append((losses, n))
        done += n
    jax.block_until_ready(state.params)
    elapsed = time.perf_counter() - t0
    losses = np.concatenate([np.asarray(chunk)[:n] for chunk, n in all_losses])
    step_s = elapsed / args.steps
    images_per_s = args.batch_size * args.steps / elapsed
    mem = [_memory(d) for d in devices[: max(1, args.devices)]]
    peaks = [m["peak_bytes"] for m in mem if m["peak_bytes"] is not None]
    peak = max(peaks) if peaks else None
    finite = bool(np.all(np.isfinite(losses)))

    print(
        f"{args.steps} steps in {elapsed:.2f} s: {step_s * 1000:.2f} ms/step, "
        f"{images_per_s:,.0f} images/s",
        flush=True,
    )
    print(
        f"peak device memory: {_gib(peak)} (per device: {[_gib(m['peak_bytes']) for m in mem]})",
        flush=True,
    )
    print(
        f"loss: first {losses[0]:.4f}, mean of last 10 {losses[-10:].mean():.4f}, finite {finite}",
        flush=True,
    )

    out = {
        "benchmark": "gpu_unet",
        "jax_version": jax.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "n_devices_visible": len(devices),
        "n_devices_used": max(1, args.devices),
        "preset": args.preset,
        "config": cfg.to_dict(),
        "n_params": n_params,
        "conv_impl": conv_impl(),
        "compute_dtype": cfg.compute_dtype,
        "image_size": args.size,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "steps_per_call": chunk,
        "compile_and_warmup_s": compile_s,
        "elapsed_s": elapsed,
        "step_time_s": step_s,
        "images_per_s": images_per_s,
        "peak_memory_bytes": peak,
        "memory": mem,
        "loss_first": float(losses[0]),
        "loss_last10": float(losses[-10:].mean()),
        "losses_finite": finite,
        "quick": bool(args.quick),
        **flops,
    }
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}", flush=True)
    return out


if __name__ == "__main__":
    main()
