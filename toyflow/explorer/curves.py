"""Curves over the σ grid and the headline numbers (pure compute, cached per model and sampler).

- the relative train/validation gap ``(E_val − E_train)/E_train`` of the model and of the
  optimal denoiser (:func:`toyflow.metrics.gap_curve`);
- the model-vs-optimal error on noisy training samples and on trajectory states, and the
  trajectory-overlap measure (:func:`toyflow.metrics.trajectory_overlap`);
- headline numbers: the memorized fraction (nearest training point closer than 1/3 of the
  second-nearest) beside its fresh-data baseline (the same rule on fresh draws from the data
  distribution), the Fréchet overfit ``(FD_val − FD_train)/FD_train`` where training and
  validation sets differ (hidden, with a note, where they do not) and the training loss.
"""

from __future__ import annotations

import numpy as np

from toyflow.explorer.cache import CURVE_CACHE
from toyflow.explorer.compute import ExplorerCompute, TrajectoryView
from toyflow.explorer.model import CURVE_POINTS


def _fmt(value, spec: str) -> str:
    return "—" if value is None or not np.isfinite(value) else format(value, spec)


def headline_items(h: dict) -> list[tuple[str, str, str, str]]:
    """The headline numbers as ``(name, value, detail, explanation)`` texts, for the page's
    cards and the PNG alike: the memorized share with its fresh-data baseline as the detail,
    the Fréchet overfit (hidden, the detail saying why, where the data cannot show it) and the
    training loss."""
    base = h.get("memorized_baseline")
    detail = ""
    if base is not None:
        se = h.get("memorized_baseline_se") or 0.0
        detail = f"fresh data: {_fmt(base, '.1%')} ± {_fmt(se, '.1%')}"
    source = h.get("baseline_source") or "fresh points"
    items = [
        (
            "memorized samples",
            _fmt(h.get("memorized_fraction"), ".1%"),
            detail,
            "nearest training point closer than 1/3 of the second-nearest; fresh data: the "
            f"same share for {source} from the data distribution (what a model that "
            "generalizes perfectly scores)",
        )
    ]
    note = h.get("relative_overfit_note")
    what = "(FD to validation − FD to training) / FD to training"
    if h.get("relative_overfit") is None and note:
        why = what + f"; hidden: {note}"
        if h.get("fd_train_val") is not None:
            why += (
                f" (FD between them {h['fd_train_val']:.1e}, below the samples' own noise "
                f"{h['fd_noise']:.1e})"
            )
        items.append(("Fréchet overfit", "hidden", note, why))
    else:
        items.append(("Fréchet overfit", _fmt(h.get("relative_overfit"), ".3g"), "", what))
    items.append(
        ("training loss", _fmt(h.get("training_loss"), ".4g"), "", "EDM-weighted, recent steps")
    )
    return items


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
        out = {
            "sigmas": sig,
            "optimal_gap": opt["gap"],
            "model_gap": None,
            "overlap": None,
            "compare": c.compares(),
        }
        if denoiser is None:
            return out
        assert traj is not None  # a model always comes with its trajectories
        from toyflow.metrics import trajectory_overlap

        c.counts["curves"] += 1
        out["compare"] = c.compares()
        out["model_gap"] = self.gap(denoiser, sig) if out["compare"] else opt["gap"]
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
        keys = (
            "memorized_fraction",
            "memorized_baseline",
            "memorized_baseline_se",
            "baseline_source",
            "relative_overfit",
            "relative_overfit_note",
            "fd_train_val",
            "fd_noise",
            "fd_train",
            "fd_val",
            "training_loss",
        )
        return {**dict.fromkeys(keys), "sigma": self.compute.sigma()[1]}

    def memorization_baseline(self) -> dict:
        """The fresh-data baseline of the memorized fraction (same 1/3 rule, fresh points from
        the data distribution): ``memorized_baseline``, its standard error and its source."""
        from toyflow.metrics import memorization_baseline

        fresh = self.compute.fresh_points()
        ds = self.compute.data().dataset
        if fresh is None or ds.n_train < 2:
            return {}
        points, source = fresh
        p, se = memorization_baseline(points, ds.train_x)
        return {"memorized_baseline": p, "memorized_baseline_se": se, "baseline_source": source}

    def frechet_overfit(self, samples) -> dict:
        """The Fréchet overfit of the samples, or ``relative_overfit_note`` saying why it is
        hidden: it needs training and validation sets that differ by more than the samples'
        Monte Carlo noise (:func:`toyflow.metrics.frechet_resolution`)."""
        from toyflow.metrics import frechet_resolution, sample_overfit

        ds = self.compute.data().dataset
        if ds.n_val < 2 or ds.n_train < 2:
            return {"relative_overfit_note": "needs at least 2 training and 2 validation points"}
        res = frechet_resolution(ds.train_x, ds.val_x, samples.shape[0])
        if not res["resolvable"]:
            return {
                "relative_overfit_note": "train and validation sets share mean and covariance: "
                "it is 0 for any samples",
                "fd_train_val": res["fd_train_val"],
                "fd_noise": res["floor"],
            }
        return sample_overfit(samples, ds.train_x, ds.val_x)

    def headline(self) -> dict:
        """Memorized fraction of the samples (1/3 rule) beside its fresh-data baseline, the
        Fréchet overfit when the data can show it (else a note why not), the training loss."""
        traj = self.compute.trajectories()
        out = self.empty_headline()
        assert traj.memorized is not None  # trajectories() always flags the samples
        out["memorized_fraction"] = float(np.mean(traj.memorized))
        out.update(self.memorization_baseline())
        out.update(self.frechet_overfit(traj.samples))
        out["training_loss"] = self.training_loss()
        return out
