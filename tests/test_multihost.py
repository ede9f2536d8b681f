"""Multi-host training through ``jax.distributed``, proven on one machine.

Two CPU processes join one run with ``jax.distributed.initialize`` on localhost (CPU collectives
over gloo), each owning one device of a 2-device ``("model", "data")`` mesh. They train the same
small MLP data-parallel, each process feeding half of every global batch; both must end with the
parameters a single process reaches on the same global batch (the loss is a mean over the global
batch, so only float summation order may differ).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import toyflow

pytestmark = pytest.mark.slow  # three Python processes, three compilations (~30 s of CPU)

WORKER = textwrap.dedent(r"""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    from toyflow.training import initialize_distributed, make_mesh, train
    import numpy as np

    info = initialize_distributed(sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
    x = np.load(sys.argv[3])
    mesh = make_mesh()
    r = train(x, mesh=mesh, **json.loads(sys.argv[4]))
    params = jax.tree_util.tree_leaves(r.denoiser.params)
    print("RESULT " + json.dumps({
        **info,
        "mesh": dict(mesh.shape),
        "losses": r.losses.tolist(),
        "params": [np.asarray(p).ravel().tolist() for p in params],
        "settings_mesh": r.settings.get("mesh"),
    }), flush=True)
""")

SETTINGS = dict(
    width=16, depth=2, steps=20, batch_size=16, steps_per_call=5, n_snapshots=2, ema=0.9
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multihost")
    script, data = folder / "worker.py", folder / "x.npy"
    script.write_text(WORKER)
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32) * 3.0
    np.save(data, x)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=root)
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    address = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), address, str(i), str(data), json.dumps(SETTINGS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-4000:]
            line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1]
            outs.append(json.loads(line[len("RESULT ") :]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return x, outs


def test_two_processes_form_one_two_device_mesh(two_processes):
    _, outs = two_processes
    assert [o["process_index"] for o in outs] == [0, 1]
    for o in outs:
        assert o["process_count"] == 2 and o["local_devices"] == 1 and o["global_devices"] == 2
        assert o["mesh"] == {"model": 1, "data": 2}
        assert o["settings_mesh"] == {"model": 1, "data": 2}


def test_two_processes_train_to_the_single_process_parameters(two_processes):
    x, outs = two_processes
    ref = toyflow.train(x, **SETTINGS)  # one process, one device, the same global batches
    ref_params = [np.asarray(p).ravel() for p in jax.tree_util.tree_leaves(ref.denoiser.params)]
    moved = max(
        float(np.max(np.abs(a - np.ravel(b))))
        for a, b in zip(ref_params, jax.tree_util.tree_leaves(ref.snapshots[0].params))
        if a.size
    )
    assert moved > 1e-4  # training changed the weights between snapshots ...
    for o in outs:
        np.testing.assert_allclose(o["losses"], ref.losses, rtol=1e-5, atol=1e-6)
        assert len(o["params"]) == len(ref_params)
        for got, want in zip(o["params"], ref_params):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)  # ... the same way
    assert outs[0]["params"] == outs[1]["params"]  # every process holds the same replicated weights
