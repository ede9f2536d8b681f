"""toyflow: the optimal diffusion model memorises its training set; real ones generalise. See why.

The public contract: every denoiser is a callable ``D(x, sigma, labels=None)`` on batches that
returns an estimate of the clean points, shaped like ``x`` (the maths: ``docs/theory.md``).

    >>> import toyflow
    >>> data = toyflow.make_dataset("circle", n_train=10)
    >>> D = toyflow.ErrorProneDenoiser(data.train_x, delta=1.6)
    >>> samples, trajectory, sigmas = toyflow.sample(D, 500, return_trajectory=True)
    >>> gap = toyflow.metrics.relative_gap(D, data.train_x, data.val_x, sigmas[:-1])
"""

from toyflow import metrics
from toyflow._denoiser import Denoiser, Unconditional
from toyflow._function import FunctionDenoiser, as_denoiser
from toyflow.datasets import DATASETS, Dataset, from_points, load_csv, make_dataset
from toyflow.denoisers import (
    ErrorProneDenoiser,
    GaussianDenoiser,
    GuidedDenoiser,
    OptimalDenoiser,
    autoguidance,
    classifier_free,
    posterior_stats,
)
from toyflow.fields import compare_fields, flow_field, make_grid
from toyflow.hybrid import BandDenoiser, HybridDenoiser
from toyflow.labels import GRANULARITIES, kmeans, make_labels
from toyflow.nets import MLPConfig, MLPDenoiser
from toyflow.sampling import SOLVERS, sample
from toyflow.schedules import SCHEDULES, edm_sigmas, get_schedule, sampling_sigmas
from toyflow.training import (
    Progress,
    SweepResult,
    TrainingCancelled,
    TrainResult,
    load_result,
    save_result,
    train,
    train_sweep,
)

__version__ = "0.1.0"


def explore(*, result=None, state=None, **params):
    """The interactive explorer (Panel) for a notebook or ``pn.serve``; see
    :func:`toyflow.explorer.explore`. Imported lazily: the core never imports Panel."""
    from toyflow.explorer import explore as _explore

    return _explore(result=result, state=state, **params)


__all__ = [
    "DATASETS",
    "GRANULARITIES",
    "SCHEDULES",
    "SOLVERS",
    "BandDenoiser",
    "Dataset",
    "Denoiser",
    "ErrorProneDenoiser",
    "FunctionDenoiser",
    "GaussianDenoiser",
    "GuidedDenoiser",
    "HybridDenoiser",
    "MLPConfig",
    "MLPDenoiser",
    "OptimalDenoiser",
    "Progress",
    "SweepResult",
    "TrainResult",
    "TrainingCancelled",
    "Unconditional",
    "as_denoiser",
    "autoguidance",
    "classifier_free",
    "compare_fields",
    "edm_sigmas",
    "explore",
    "flow_field",
    "from_points",
    "get_schedule",
    "kmeans",
    "load_csv",
    "load_result",
    "make_dataset",
    "make_grid",
    "make_labels",
    "metrics",
    "posterior_stats",
    "sample",
    "sampling_sigmas",
    "save_result",
    "train",
    "train_sweep",
]
