"""The training controller of one explorer session: which learned model the inputs name, its
finished result or running job, and the training outputs it publishes into the store."""

from __future__ import annotations

import dataclasses

import numpy as np
import param

from toyflow.explorer.cache import TrainConfig, cached_result, fingerprint, new_token, remember
from toyflow.explorer.compute import LearnedModel
from toyflow.explorer.jobs import TrainingJob, train_workers
from toyflow.explorer.model import CUSTOM


class TrainingController:
    """Trains, caches and loads the learned model of one :class:`ExplorerState` session."""

    def __init__(self, state):
        self.state = state
        self.compute = state.compute
        self.disk_cache = True
        self.job: TrainingJob | None = None
        self._result = None  # a finished TrainResult for the current training config
        self._result_config: TrainConfig | None = None
        self._result_token = 0
        self.closed = False

    def config(self) -> TrainConfig:
        """The plain values that identify the learned model for the current inputs."""
        s = self.state
        data = self.compute.data()
        ds = data.dataset
        return TrainConfig(
            data=fingerprint(ds.train_x, data.train_labels),
            dataset=ds.name,
            n_train=ds.n_train,
            seed=s.seed,
            granularity=s.granularity,
            k=s.k if s.granularity == "kmeans" else None,
            num_classes=data.num_classes,
            width=s.width,
            depth=s.depth,
            steps=s.train_steps,
            batch_size=s.batch_size,
            learning_rate=float(s.learning_rate),
            schedule=s.schedule,
        )

    def learned(self) -> LearnedModel:
        """The snapshots for the current inputs: from the finished result, or from this
        session's job while it runs (or after it was cancelled)."""
        job = self.job
        training = job is not None and job.status in ("queued", "running")
        try:
            cfg = self.config()
        except ValueError:
            return LearnedModel([], [], training=training)
        if self._result is not None and self._result_config == cfg:
            r = self._result
            return LearnedModel(list(r.snapshots), list(r.snapshot_steps), r, self._result_token)
        if job is not None and job.config == cfg and job.snapshots:
            snaps, steps = list(job.snapshots), list(job.snapshot_steps)
            return LearnedModel(snaps, steps, job, job.token, training)
        return LearnedModel([], [], training=training)

    def sync(self) -> None:
        """After a change that names another learned model: show its finished result when this
        process or the disk cache has one (a configuration trained before comes back at once)."""
        try:
            cfg = self.config()
        except ValueError:
            return
        if self._result_config == cfg:
            return
        job = self.job
        if job is not None and job.config == cfg and job.status == "done":
            self._adopt(cfg, job.result, "done")
            return
        hit = cached_result(cfg, disk=self.disk_cache)
        if hit is not None:
            self._adopt(cfg, hit, "cached")
            return
        self._result, self._result_config = None, None
        if job is not None and job.config == cfg:
            return  # the running (or cancelled) job's state stays on show
        self._publish(0.0, None, [], "idle", "Not trained yet: press Train.")

    def _adopt(self, cfg: TrainConfig, result, status: str) -> None:
        self._result, self._result_config = result, cfg
        self._result_token = new_token()
        msg = (
            "Trained before: loaded at once."
            if status == "cached"
            else f"Trained {result.steps_done} steps in {result.wall_time:.1f} s."
        )
        self._publish(1.0, np.asarray(result.losses), result.snapshot_steps, status, msg)

    def _publish(self, progress, losses, steps, status, message) -> None:
        self.state.param.update(
            train_status=status,
            train_progress=float(min(max(progress, 0.0), 1.0)),
            loss_history=losses,
            snapshot_steps=list(steps),
            train_message=message,
        )
        self.state.train_serial += 1

    def train(self) -> TrainingJob | None:
        """Train the learned model for the current inputs on the shared pool (or load it from
        the caches at once). Returns the job, or ``None`` when a cached result was used.
        A session trains one model at a time: a running job of this session is cancelled."""
        s = self.state
        try:
            cfg = self.config()
        except ValueError as exc:
            s.error = str(exc)
            return None
        self.cancel()
        hit = cached_result(cfg, disk=self.disk_cache)
        if hit is not None:
            self._adopt(cfg, hit, "cached")
            self._show_learned()
            return None
        data = self.compute.data()
        job = TrainingJob(cfg, data.dataset.train_x, data.train_labels, disk_cache=self.disk_cache)
        job.subscribe(self._on_job)
        self.job = job
        self._result, self._result_config = None, None
        self._publish(0.0, None, [], "queued", "Waiting for a training worker…")
        with param.parameterized.discard_events(s):
            s.snapshot_index = -1
        job.submit()
        if job.status == "queued" and job.queue_position:
            s.train_message = self._queued_message(job.queue_position)
        self._show_learned()
        return job

    def _show_learned(self) -> None:
        s = self.state
        if s.kind != "learned":
            s.kind = "learned"
        else:
            s.request_refresh()

    @staticmethod
    def _queued_message(pos: int) -> str:
        return (
            f"Queued: number {pos} in line for a training worker "
            f"({train_workers()} models train at a time on this server)."
        )

    def cancel(self) -> None:
        """Cancel this session's training job, if one is queued or running."""
        job = self.job
        if job is not None and not job.finished:
            job.cancel()

    def _on_job(self, job: TrainingJob, event: str) -> None:
        """Updates from a training job (called on the training worker thread)."""
        if job is not self.job or self.closed:
            return
        s = self.state
        losses = np.asarray(job.losses, np.float64) if job.losses else None
        steps = list(job.snapshot_steps)
        if event == "status" and job.finished:
            if job.status == "done":
                self._adopt(job.config, job.result, "done")
            elif job.status == "failed":
                msg = (
                    f"Training failed: {job.error} The session is still "
                    f"usable: change the settings and press Train again."
                )
                self._publish(job.progress, losses, steps, "failed", msg)
            else:  # cancelled: what was trained so far stays viewable (but is not cached)
                self._publish(
                    job.progress, losses, steps, "cancelled", f"Cancelled at step {job.step}."
                )
            s.request_refresh()
            return
        if job.status == "running":
            msg = f"Training: step {job.step} of {job.config.steps} ({job.elapsed:.1f} s)."
        else:
            msg = self._queued_message(max(job.queue_position, 1))
        self._publish(job.progress, losses, steps, job.status, msg)
        if event == "snapshot" and s.kind == "learned":
            s.request_refresh()

    def load_result(self, result) -> None:
        """Show a :class:`toyflow.TrainResult` trained elsewhere (a script, a notebook).

        Width, depth, steps, batch size, learning rate and schedule are read from the result; set
        the data parameters it was trained on first (``explore(result=..., n_train=...)`` does).
        """
        s = self.state
        settings = dict(getattr(result, "settings", {}) or {})
        arch = settings.get("architecture", {}) or {}
        updates: dict[str, object] = {"kind": "learned"}
        for name in ("width", "depth"):
            if name in arch:
                updates[name] = int(arch[name])
        for src, dst in (
            ("steps", "train_steps"),
            ("batch_size", "batch_size"),
            ("learning_rate", "learning_rate"),
            ("schedule", "schedule"),
        ):
            if settings.get(src) is not None:
                updates[dst] = settings[src]
        n = settings.get("n_train")
        if n is not None and s.dataset != CUSTOM and int(n) != s.n_train:
            raise ValueError(
                f"The result was trained on {n} points but n_train is {s.n_train}; "
                f"pass the data parameters the script used."
            )
        with param.parameterized.discard_events(s):
            s.param.update(**updates)
        cfg = self.config()
        remember(cfg, result)
        self._adopt(cfg, result, "cached")
        s.train_message = "Loaded from a script run."
        s.request_refresh()

    def training_info(self) -> dict:
        """The training settings and status, for the JSON export."""
        s = self.state
        return {
            **dataclasses.asdict(self.config()),
            "status": s.train_status,
            "snapshot_steps": list(s.snapshot_steps),
        }

    def close(self) -> None:
        """End of a session: cancel its training."""
        self.closed = True
        job = self.job
        if job is not None:
            job.unsubscribe(self._on_job)
            if not job.finished:
                job.cancel()
