# %% [markdown]
# # toyflow in ten cells
#
# A notebook-style walk-through: each `# %%` block is a cell (VS Code, JupyterLab with
# jupytext, or `python examples/api/walkthrough.py` top to bottom). It builds the optimal
# denoiser of a sparse circle, shows that its samples are training points, trains a small
# MLP, and opens the explorer inline on the trained model.

# %%

import toyflow
from toyflow import metrics

TINY = __name__ == "__main__" and "--tiny" in __import__("sys").argv
data = toyflow.make_dataset("circle", n_train=10, seed=0)
print(data.train_x.shape, data.val_x.shape)

# %% [markdown]
# The optimal denoiser D* is the posterior mean over the training points. Sampled with the
# probability-flow ODE, it lands on them: 100 % memorized.

# %%
optimal = toyflow.OptimalDenoiser(data.train_x)
samples = toyflow.sample(optimal, 200, seed=0)
print("D* memorized:", metrics.memorized_fraction(samples, data.train_x))

# %% [markdown]
# A learned MLP fits the training points better than unseen ones at intermediate σ (the
# per-σ gap), yet many of its samples are new points.

# %%
result = toyflow.train(data.train_x, width=128, steps=60 if TINY else 3000, seed=0)
sigmas = toyflow.sampling_sigmas("edm", 40)[:-1]
gap = metrics.relative_gap(result.denoiser, data.train_x, data.val_x, sigmas, n_noise=8)
print(f"peak gap {gap.max():+.3f} at σ = {sigmas[gap.argmax()]:.3g}")
learned_samples = toyflow.sample(result.denoiser, 200, seed=0)
print("learned memorized:", metrics.memorized_fraction(learned_samples, data.train_x))

# %% [markdown]
# In a notebook, the explorer renders inline on the trained model: move σ, compare with D*.

# %%
app = toyflow.explore(result=result)
app  # noqa: B018  (the last expression of a cell is what a notebook displays)
