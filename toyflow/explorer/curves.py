"""Curves over the σ grid and the headline numbers (pure compute, cached per model and sampler).

- the relative train/validation gap ``(E_val − E_train)/E_train`` of the model and of the
  optimal denoiser (:func:`toyflow.metrics.gap_curve`);
- the model-vs-optimal error on noisy training samples and on trajectory states, and the
  trajectory-overlap measure (:func:`toyflow.metrics.trajectory_overlap`);
- headline numbers: the memorized fraction (nearest training point closer than 1/3 of the
  second-nearest), the Fréchet overfit ``(FD_val − FD_train)/FD_train`` and the training loss.
"""

from __future__ import annotations

import numpy as np

from toyflow.explorer.cache import CURVE_CACHE
from toyflow.explorer.compute import ExplorerCompute, TrajectoryView
from toyflow.explorer.model import CURVE_POINTS


class Summaries:
    """Curves and headline numbers of the current inputs, on top of an :class:`ExplorerCompute`."""

    def __init__(self, compute: ExplorerCompute):
        self.compute = compute
        self.inputs = compute.inputs

    def curve_points(self):
        """Training and validation points for the curves (at most CURVE_POINTS each, seeded)."""
        data = self.compute.data()
        ds = data.dataset
        rng = np.random.default_rng(self.inputs.seed)

        def pick(x, lab):
            if x.shape[0] <= CURVE_POINTS:
                return x, lab
            idx = np.sort(rng.choice(x.shape[0], CURVE_POINTS, replace=False))
            return x[idx], None if lab is None else lab[idx]

        tx, tl = pick(ds.train_x, data.train_labels)
        vx, vl = pick(ds.val_x, data.val_labels)
        return tx, tl, vx, vl

    def gap(self, denoiser, sigmas):
        """The relative gap curve of ``denoiser`` at ``sigmas`` (``None`` without validation)."""
        from toyflow.metrics import gap_curve

        tx, tl, vx, vl = self.curve_points()
        if vx.shape[0] == 0:
            return None
        n_noise = 50 if tx.shape[0] <= 40 else 16  # few values: each one compiles once
        return gap_curve(
            denoiser,
            tx,
            vx,
            sigmas,
            n_noise=n_noise,
            seed=self.inputs.seed,
            train_labels=tl,
            val_labels=vl,
        )

    def compute_curves(self, denoiser, traj: TrajectoryView | None) -> dict:
        """Gap curves (model and optimal), model-vs-optimal errors and the overlap over σ."""
        c, s = self.compute, self.inputs
        sig = c.sigma_grid()[:-1]
        okey = ("optimal-gap", c.data().key, sig.tobytes())
        opt = CURVE_CACHE.get(okey)
        if opt is None:
            c.counts["optimal_curves"] += 1
            opt = CURVE_CACHE.put(okey, {"gap": self.gap(c.optimal(), sig)})
        out = {"sigmas": sig, "optimal_gap": opt["gap"], "model_gap": None, "overlap": None}
        if denoiser is None:
            return out
        assert traj is not None  # a model always comes with its trajectories
        from toyflow.metrics import trajectory_overlap

        c.counts["curves"] += 1
        same = s.kind == "optimal" and s.guidance == "none"
        out["model_gap"] = opt["gap"] if same else self.gap(denoiser, sig)
        tx, tl, vx, vl = self.curve_points()
        has_val = vx.shape[0] > 0
        cond = traj.labels is not None
        out["overlap"] = trajectory_overlap(
            denoiser,
            traj.trajectory,
            traj.sigmas,
            tx,
            val_x=vx if has_val else None,
            optimal=c.optimal(),
            labels=traj.labels,
            train_labels=tl if cond else None,
            val_labels=vl if cond and has_val else None,
            seed=s.seed,
        )
        return out

    def cached_curves(self, model_key) -> dict | None:
        return CURVE_CACHE.get(("curves", self.compute.traj_key(model_key)))

    def curves(self) -> dict:
        """Curves over the grid σ (cached per model and sampler settings): ``sigmas``,
        ``model_gap`` / ``optimal_gap`` (:class:`toyflow.metrics.GapCurve`, ``None`` without
        validation points) and ``overlap`` (:class:`toyflow.metrics.TrajectoryOverlap`)."""
        denoiser, model_key = self.compute.model()
        key = ("curves", self.compute.traj_key(model_key))
        hit = CURVE_CACHE.get(key)
        if hit is None:
            hit = CURVE_CACHE.put(key, self.compute_curves(denoiser, self.compute.trajectories()))
        return hit

    def training_loss(self) -> float | None:
        """Mean loss of the last tenth of the steps up to the shown snapshot (learned models)."""
        if self.inputs.kind != "learned":
            return None
        learned = self.compute.learned()
        if learned.owner is None:
            return None
        steps = learned.steps
        losses = np.asarray(learned.owner.losses, np.float64).reshape(-1)
        shown = steps[self.compute.snapshot_position(len(steps))] if steps else losses.size
        upto = min(shown, losses.size)
        tail = losses[max(0, upto - max(1, upto // 10)) : upto]
        return float(np.mean(tail)) if tail.size else None

    def empty_headline(self) -> dict:
        keys = ("memorized_fraction", "relative_overfit", "fd_train", "fd_val", "training_loss")
        return {**dict.fromkeys(keys), "sigma": self.compute.sigma()[1]}

    def headline(self) -> dict:
        """Memorized fraction of the samples (1/3 rule), Fréchet distances of the samples to the
        training and validation sets and the relative overfit, the training loss (learned)."""
        from toyflow.metrics import sample_overfit

        traj = self.compute.trajectories()
        ds = self.compute.data().dataset
        out = self.empty_headline()
        assert traj.memorized is not None  # trajectories() always flags the samples
        out["memorized_fraction"] = float(np.mean(traj.memorized))
        if ds.n_val >= 2 and ds.n_train >= 2:
            out.update(sample_overfit(traj.samples, ds.train_x, ds.val_x))
        out["training_loss"] = self.training_loss()
        return out
