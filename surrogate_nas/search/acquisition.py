"""Bayesian acquisition over a finite candidate set, with BoTorch's acquisition functions.

A guided searcher's predictor gives, per candidate architecture, the posterior mean and std of the *latent*
(noise-free) value (and, where it can, their joint covariance: ``predict_cov``): acquisition scores the function,
never the observation noise of a measurement (BoTorch's ``observation_noise=False``). :func:`select` picks the ``q``
next architectures to measure:

* ``mean``: the ``q`` best predicted (greedy exploitation);
* ``ucb``: upper confidence bound ``mean + beta * std`` (BoTorch ``UpperConfidenceBound``; ``qUpperConfidenceBound``
  for ``q > 1``);
* ``ei``: expected improvement over an incumbent ``best_f`` (``LogExpectedImprovement``;
  ``qLogExpectedImprovement`` for ``q > 1``); guided search states it as the best posterior mean of the
  measured architectures (the noise-free incumbent, as noisy EI uses), see
  :meth:`~surrogate_nas.search.strategies.GuidedEvolution.incumbent`;
* ``thompson``: one joint posterior draw per pick, the argmax of each draw, without replacement
  (``MaxPosteriorSampling``).

Batches (``q > 1``) of ``ucb``/``ei`` are chosen by sequential greedy conditioning over the finite set
(``optimize_acqf_discrete``): each pick is made with the earlier ones pending, so correlated near-duplicates
are not chosen together. The joint quantities are computed on a pre-filtered set: the ``prefilter`` best
candidates by ``mean + 2 std`` plus the best by mean (EI, UCB and Thompson draws above that set are
vanishingly unlikely to win).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import SearchError

ACQUISITIONS = ("mean", "ucb", "ei", "thompson")

#: Monte-Carlo samples of the q-batch acquisition functions (quasi-random, seeded by the searcher's rng).
MC_SAMPLES = 256


def check_acquisition(name, where: str = "acquisition") -> str:
    if name not in ACQUISITIONS:
        raise SearchError(f"{where}: unknown acquisition {name!r}; choose one of {', '.join(ACQUISITIONS)}")
    return name


def posterior(model, cands: Sequence, with_std: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the *latent* (noise-free) value of a fitted predictor at ``cands``: what acquisition scores
    (BoTorch's ``observation_noise=False``). std is 0 for a predictor without uncertainty.

    Predictors take ``predict(archs, return_std=True, latent=True)``; one without the ``latent`` option gives its
    predictive std, from which its ``noise_variance()`` (where it has one) is taken out."""
    if not with_std:
        mean = np.asarray(model.predict(cands), dtype=float)
        return mean, np.zeros_like(mean)
    noise = 0.0
    try:
        mean, std = model.predict(cands, return_std=True, latent=True)
    except TypeError:
        try:
            mean, std = model.predict(cands, return_std=True)
        except TypeError:
            mean, std = model.predict(cands), None
        if std is not None and callable(getattr(model, "noise_variance", None)):
            noise = float(model.noise_variance())
    mean = np.asarray(mean, dtype=float)
    if std is None:
        return mean, np.zeros_like(mean)
    var = np.nan_to_num(np.asarray(std, dtype=float) ** 2, nan=0.0, posinf=0.0) - noise
    return mean, np.sqrt(var.clip(min=0.0))


def _joint(model, cands: Sequence, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` (as given: it may carry a constraint penalty) and the latent covariance of ``cands``: the
    correlation of the predictor's ``predict_cov`` (the noise-free joint posterior) scaled by the latent ``std``
    (:func:`posterior`'s, the square root of that covariance's diagonal, so marginals match); else
    independent."""
    fn = getattr(model, "predict_cov", None)
    if fn is not None:
        _, cov = fn(cands)
        cov = np.asarray(cov, dtype=float)
        if cov.shape == (len(mean), len(mean)) and np.isfinite(cov).all():
            d = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
            corr = np.clip(cov / np.outer(d, d), -1.0, 1.0)
            np.fill_diagonal(corr, 1.0)
            return mean, _psd(0.5 * (corr + corr.T) * np.outer(std, std))
    return mean, np.diag(std**2)


def _psd(cov: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    """``cov`` with its eigenvalues clipped to at least ``rel`` x the mean variance: a predictor's float32 kernel
    rounding can leave tiny negative ones, and a joint posterior draw needs a Cholesky factor."""
    w, v = np.linalg.eigh(cov)
    floor = rel * max(float(np.mean(np.diag(cov))), 1e-300)
    if w.min() >= floor:
        return cov
    out = (v * np.maximum(w, floor)) @ v.T
    return 0.5 * (out + out.T)


def _botorch_model(mean: np.ndarray, cov: np.ndarray, noise: float = 0.0):
    """A BoTorch model over indices 0..n-1 of a finite set whose latent posterior is N(mean, cov); with
    ``observation_noise=True`` its posterior is that of a measurement, N(mean, cov + ``noise`` I)."""
    import torch
    from botorch.models.model import Model
    from botorch.posteriors.gpytorch import GPyTorchPosterior
    from gpytorch.distributions import MultivariateNormal

    mu = torch.as_tensor(mean, dtype=torch.float64)
    scale = float(np.mean(np.diag(cov))) if len(cov) else 1.0
    sigma = torch.as_tensor(cov, dtype=torch.float64) + max(scale, 1e-12) * 1e-8 * torch.eye(
        len(mean), dtype=torch.float64
    )
    noise = float(noise)

    class FinitePosteriorModel(Model):
        _num_outputs = 1

        @property
        def num_outputs(self) -> int:
            return 1

        @property
        def batch_shape(self) -> torch.Size:
            return torch.Size([])

        def posterior(self, X, output_indices=None, observation_noise=False, posterior_transform=None):
            idx = X[..., 0].round().long()
            m = mu[idx]
            c = sigma[idx.unsqueeze(-1), idx.unsqueeze(-2)]
            if observation_noise is True:
                c = c + noise * torch.eye(c.shape[-1], dtype=c.dtype)
            elif torch.is_tensor(observation_noise):
                c = c + torch.diag_embed(observation_noise[..., 0].to(c.dtype))
            post = GPyTorchPosterior(MultivariateNormal(m, c))
            return posterior_transform(post) if posterior_transform is not None else post

    return FinitePosteriorModel()


def select(
    model,
    cands: Sequence,
    q: int,
    acquisition: str,
    rng: np.random.Generator,
    best_f: float | None = None,
    beta: float = 1.0,
    prefilter: int = 256,
    mean_std: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[int]:
    """Indices into ``cands`` of the ``q`` architectures to measure next (best first).

    ``model``: a fitted predictor (``predict(archs, return_std=True)``; ``predict_cov`` used when present).
    ``best_f``: EI's incumbent (guided search passes the best latent posterior mean of the measured
    architectures; None: the best posterior mean over ``cands``). ``mean_std``: the latent posterior at ``cands``
    (:func:`posterior`) when the caller already has it. Deterministic given ``rng``.
    """
    check_acquisition(acquisition)
    n = len(cands)
    if n == 0:
        return []
    q = min(int(q), n)
    if mean_std is None:
        mean_std = posterior(model, cands, with_std=acquisition != "mean")
    mean, std = (np.nan_to_num(np.asarray(a, dtype=float), nan=-np.inf) for a in mean_std)
    if acquisition == "mean" or not np.any(std > 0):
        return [int(i) for i in np.argsort(-mean, kind="stable")[:q]]
    optimistic = np.where(np.isfinite(mean), mean + 2.0 * std, -np.inf)
    p = max(int(prefilter), 4 * q)
    keep = np.unique(
        np.concatenate([np.argsort(-optimistic, kind="stable")[:p], np.argsort(-mean, kind="stable")[: max(q, p // 4)]])
    )
    keep = keep[np.isfinite(mean[keep])]
    if len(keep) <= q:
        return [int(i) for i in keep[np.argsort(-mean[keep], kind="stable")]]
    sub = [cands[i] for i in keep]
    m, cov = (
        _joint(model, sub, mean[keep], std[keep])
        if (q > 1 or acquisition == "thompson")
        else (mean[keep], np.diag(std[keep] ** 2))
    )
    picked = _botorch_select(m, cov, q, acquisition, rng, best_f, beta)
    return [int(keep[i]) for i in picked]


def _botorch_select(mean, cov, q, acquisition, rng, best_f, beta) -> list[int]:
    import torch
    from botorch.acquisition import (
        AcquisitionFunction,
        LogExpectedImprovement,
        UpperConfidenceBound,
        qLogExpectedImprovement,
        qUpperConfidenceBound,
    )
    from botorch.generation.sampling import MaxPosteriorSampling
    from botorch.optim.optimize import optimize_acqf_discrete
    from botorch.sampling.normal import SobolQMCNormalSampler

    model = _botorch_model(mean, cov)
    choices = torch.arange(len(mean), dtype=torch.float64).unsqueeze(-1)
    seed = int(rng.integers(2**31 - 1))
    if best_f is None or not np.isfinite(best_f):
        best_f = float(np.max(mean))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if acquisition == "thompson":
            with torch.no_grad():
                x = MaxPosteriorSampling(model, replacement=False)(choices, num_samples=q)
            return [int(round(float(v))) for v in x[..., 0].reshape(-1)]
        acq: AcquisitionFunction
        if q == 1:
            acq = (
                UpperConfidenceBound(model, beta=float(beta) ** 2)
                if acquisition == "ucb"
                else LogExpectedImprovement(model, best_f=float(best_f))
            )
        else:
            sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed)
            acq = (
                qUpperConfidenceBound(model, beta=float(beta) ** 2, sampler=sampler)
                if acquisition == "ucb"
                else qLogExpectedImprovement(model, best_f=float(best_f), sampler=sampler)
            )
        with torch.no_grad():
            x, _ = optimize_acqf_discrete(acq, q=q, choices=choices, unique=True)
    return [int(round(float(v))) for v in x[..., 0].reshape(-1)]


__all__ = ["ACQUISITIONS", "check_acquisition", "posterior", "select"]
