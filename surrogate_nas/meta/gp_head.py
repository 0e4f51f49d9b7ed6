"""The deep-kernel GP head of an adapted predictor: conditioned on the support's residuals from the (adapted) GNN,
it gives the predictive mean and std, and the joint posterior of a candidate batch.

Functions of a :class:`~surrogate_nas.meta.adapt.MetaGNNPredictor` whose checkpoint has a GP head
(:mod:`surrogate_nas.meta.deep_kernel`); the GP reads the GNN's embedding, in z units (the network's scale).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import DataError
from .predict_inputs import PredictInputs

if TYPE_CHECKING:
    from .adapt import MetaGNNPredictor
    from .deep_kernel import ResidualGP

__all__ = [
    "condition",
    "head",
    "support_residual",
    "earned_correction_sd",
    "embed",
    "embed_all",
    "joint_posterior",
    "network_and_prior",
    "network_outputs",
    "noise_variance",
    "predict",
    "prior_warp",
    "PriorWarp",
    "warp_weight",
    "warp_inputs",
]

#: Architectures (with source records, a fixed sample) the network's warp of its transfer prior is fitted on.
WARP_ARCHS = 2048


def condition(
    predictor: MetaGNNPredictor, inputs: PredictInputs, z, values=None
) -> tuple[ResidualGP, tuple[float, float]]:
    """(the checkpoint's GP head conditioned on the support's residuals, the value map from the GP's scale to z):
    :func:`support_residual`; ``gp_steps`` > 0: the GP's hyper-parameters first re-fitted by type-II maximum
    likelihood."""
    from .deep_kernel import condition, fit_hyperparameters

    m, e = embed_all(predictor, inputs)
    gp = head(predictor, e.shape[1], len(e))
    r, value_map = support_residual(predictor, m, z, values)
    if predictor.gp_steps:
        return fit_hyperparameters(gp, e, r, predictor.gp_steps), value_map
    return condition(gp, e, r), value_map


def support_residual(predictor: MetaGNNPredictor, m: torch.Tensor, z, values=None) -> tuple[torch.Tensor, tuple]:
    """(the residual the GP is conditioned on, the value map from the GP's scale to z) of support targets ``z`` and
    the network's predictions ``m`` (:func:`embed`'s prior mean: ``z - transfer prior`` where the correction is
    earned, :func:`earned_correction_sd`): ``z - m``; in part their ranking disagreement where the predictor's rank
    share is > 0, ordered by the unscaled ``values`` (oriented as ``z``: ``TargetScale.orient``;
    ``deep_kernel.rank_residual``, whose map it is; ``(0, 1)`` otherwise)."""
    from .deep_kernel import rank_residual

    r = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=predictor.device) - m
    share = predictor.rank_share(len(r))
    if share > 0:
        return rank_residual(m, r, share, values)
    return r, (0.0, 1.0)


def head(predictor: MetaGNNPredictor, width: int, k: int) -> ResidualGP:
    """The checkpoint's GP head with its meta-learned hyper-parameters, not conditioned, for inputs of ``width``
    columns (:func:`embed`'s; where the correction is earned its basis is the last one) and a support of ``k``
    points (its signal variance times :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.gp_signal_scale`), on the
    predictor's device."""
    from .deep_kernel import add_correction_basis, make_gp, scale_signal

    ckpt = predictor.ckpt_
    gp = make_gp(ckpt.model.embedding_dim(), predictor._kernel(), ckpt.gp, predictor.space_)
    factor = predictor.gp_signal_scale(k)
    if factor != 1.0:
        gp = scale_signal(gp, factor)
    sd = earned_correction_sd(predictor)
    if sd is not None:
        gp = add_correction_basis(gp, width - 1, sd)
    return gp.to(predictor.device)


def earned_correction_sd(predictor: MetaGNNPredictor) -> float | None:
    """The prior std of the weight of the GNN's learned correction where it enters as a GP basis the support has to
    earn (``correction_sd`` set and a network that reads sources); None where it is part of the GP's mean."""
    return predictor.correction_sd if predictor.ckpt_.model.config.use_sources else None


def embed(predictor: MetaGNNPredictor, inputs: PredictInputs) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yields (start, the GP's prior mean [b], the GP's input [b, d]) over ``inputs.archs`` in chunks of
    ``predictor.BATCH`` (z units, no gradients). The prior mean is the GNN's prediction; where the correction is
    earned (:func:`earned_correction_sd`) it is the transfer prior alone and the correction the inputs' last column."""
    earned = earned_correction_sd(predictor) is not None
    for i, m, e in network_outputs(predictor, inputs):
        if earned:
            with torch.no_grad():
                prior = predictor.ckpt_.model.transfer_prior(e)
            m, e = prior, torch.cat([e, (m - prior).unsqueeze(1)], 1)
        yield i, m, e


def network_outputs(predictor: MetaGNNPredictor, inputs: PredictInputs):
    """(start, the GNN's prediction, the GP's input) per chunk: :func:`embed` before the correction is split off;
    with the predictor's ``correction_weight`` (:func:`prior_warp`), the prediction's correction beyond the warp of
    its transfer prior weighted by it."""
    warp = getattr(predictor, "prior_warp_", None)
    for i, m, e in _raw_network_outputs(predictor, inputs):
        if warp is not None:
            with torch.no_grad():
                m = warp.apply(predictor.ckpt_.model.transfer_prior(e), m)
        yield i, m, e


def _raw_network_outputs(predictor: MetaGNNPredictor, inputs: PredictInputs):
    """:func:`network_outputs` as the network gives them."""
    from .deep_kernel import gp_inputs

    kernel, model, batch = predictor._kernel(), predictor.ckpt_.model, predictor.BATCH
    if predictor._cached():
        graph = kernel.endswith("+graph")
        rows, src, w = predictor._pooled(inputs, graph), inputs.src, model.pool_dim()
        for i in range(0, len(rows), batch):
            r = rows[i : i + batch]
            s = torch.as_tensor(src[i : i + batch], dtype=torch.float32, device=predictor.device)
            with torch.no_grad():
                m, e = model.readout(r[:, :w], s, predictor.corr_, len(r), embed=True)
                if graph:
                    e = torch.cat([e, r[:, w:]], 1)  # as gp_inputs appends the graph encoding
            yield i, m, e
    else:
        i = 0
        for b in inputs.batches():
            with torch.no_grad():
                m, e = gp_inputs(model, predictor.params_, b, predictor.corr_, kernel)
            yield i, m, e
            i += b[3]


class PriorWarp:
    """A network's monotone warp of its transfer prior ``W`` (piecewise linear through the blocks of an isotonic fit of
    its predictions on its prior, at each block's mean prior: centred isotonic regression, strictly increasing, so it
    keeps the prior's order; linear beyond the end blocks), and the weight of the rest of its correction."""

    def __init__(self, knots_x: np.ndarray, knots_y: np.ndarray, weight: float) -> None:
        self.knots_x, self.knots_y, self.weight = knots_x, knots_y, weight

    @classmethod
    def fit(cls, prior: np.ndarray, prediction: np.ndarray, weight: float) -> PriorWarp | None:
        """The warp of ``prediction`` on ``prior`` (None where the isotonic fit is one constant: no warp)."""
        from scipy.optimize import isotonic_regression

        order = np.argsort(prior, kind="stable")
        x, y = np.asarray(prior, dtype=float)[order], np.asarray(prediction, dtype=float)[order]
        _, first, ties = np.unique(x, return_index=True, return_counts=True)  # equal priors: one point, their mean
        fit = isotonic_regression(np.add.reduceat(y, first) / ties, weights=ties.astype(float), increasing=True)
        fitted = np.repeat(fit.x, ties)
        starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
        if len(starts) < 2:
            return None
        knots_x = np.add.reduceat(x, starts) / np.diff(np.r_[starts, len(x)])
        return cls(knots_x, fitted[starts], weight)

    def __call__(self, prior: np.ndarray) -> np.ndarray:
        """``W(prior)``."""
        x, y = self.knots_x, self.knots_y
        out = np.interp(prior, x, y)
        lo, hi = prior < x[0], prior > x[-1]
        out[lo] = y[0] + (prior[lo] - x[0]) * (y[1] - y[0]) / (x[1] - x[0])
        out[hi] = y[-1] + (prior[hi] - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2])
        return out

    def with_weight(self, weight: float) -> PriorWarp:
        """The same warp with ``weight`` of the rest of the correction."""
        return PriorWarp(self.knots_x, self.knots_y, weight)

    def apply(self, prior: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """``W(prior) + weight x (prediction - W(prior))``, on ``prediction``'s device and dtype."""
        w = torch.as_tensor(self(prior.detach().cpu().numpy().astype(float)), dtype=prediction.dtype)
        w = w.to(prediction.device)
        return w + self.weight * (prediction - w)


def prior_warp(predictor: MetaGNNPredictor) -> PriorWarp | None:
    """The fitted predictor's :class:`PriorWarp` where the correction weight it uses
    (:meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.correction_weight_used`) is below 1 and its network reads
    sources (None otherwise): fitted on the network's predictions, under the support's source correlations, for a
    fixed sample of :data:`WARP_ARCHS` architectures with records in the first source task (no target value is
    read beyond those correlations)."""
    weight = warp_weight(predictor, predictor.correction_weight_used())
    if weight is None:
        return None
    m, prior = network_and_prior(predictor, warp_inputs(predictor), raw=True)
    return PriorWarp.fit(prior, m, weight)


def warp_weight(predictor: MetaGNNPredictor, weight: float | None) -> float | None:
    """``weight`` where a fit of ``predictor`` with that correction weight (None: the full correction) warps the
    transfer prior -- a weight below 1, a network that reads sources, source tasks with a table --, else None."""
    sources = predictor.sources_
    if weight is None or weight >= 1 or not predictor.ckpt_.model.config.use_sources:
        return None
    return float(weight) if sources.table is not None and sources.tasks else None


def network_and_prior(predictor: MetaGNNPredictor, inputs: PredictInputs, raw: bool = False):
    """(the network's predictions, their transfer-prior term) over ``inputs.archs`` as numpy arrays in z units:
    :func:`network_outputs` (``raw``: without the predictor's warp of the prior, :func:`prior_warp`)."""
    outputs = _raw_network_outputs if raw else network_outputs
    model, ms, priors = predictor.ckpt_.model, [], []
    with torch.no_grad():
        for _, m, e in outputs(predictor, inputs):
            ms.append(m.cpu().numpy())
            priors.append(model.transfer_prior(e).cpu().numpy())
    return np.concatenate(ms), np.concatenate(priors)


def warp_inputs(predictor: MetaGNNPredictor) -> PredictInputs:
    """:func:`prior_warp`'s inputs: a fixed sample (seed 0, in the table's order) of :data:`WARP_ARCHS` architectures
    with records in the first source task and their input columns, which no support changes (built once per
    predictor; its calibration folds share them). For a predictor whose sources have a table and a task."""
    inputs = predictor.__dict__.get("_warp_inputs")
    if inputs is None:
        sources = predictor.sources_
        if sources.table is None or not sources.tasks:
            raise DataError("the transfer prior's warp needs source tasks")
        every = sources.table.arch_strings(sources.tasks[0], sources.metric)
        keep = np.sort(np.random.default_rng(0).choice(len(every), min(len(every), WARP_ARCHS), replace=False))
        archs = sources.table.parse([every[i] for i in keep])
        inputs = predictor.__dict__["_warp_inputs"] = PredictInputs(predictor, archs)
    return inputs


def embed_all(predictor: MetaGNNPredictor, inputs: PredictInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`embed` in one piece: (the GNN's predictions [n], the GP's inputs [n, d])."""
    parts = [(m, e) for _, m, e in embed(predictor, inputs)]
    return torch.cat([m for m, _ in parts]), torch.cat([e for _, e in parts])


def predict(predictor: MetaGNNPredictor, inputs: PredictInputs, return_std: bool, latent: bool = False):
    """Mean [n] (target units) of ``inputs.archs``; with ``return_std``, also the calibrated std of a measured value
    (``latent``: of the noise-free value)."""
    from .deep_kernel import posterior

    gp, archs = predictor.gp_, inputs.archs
    assert gp is not None  # only called with a GP head
    mean, std = np.empty(len(archs)), np.empty(len(archs))
    for i, m, e in embed(predictor, inputs):
        mu, sd = posterior(gp, e, noise=not latent)
        mean[i : i + len(m)] = (m + mu).cpu().numpy()
        std[i : i + len(m)] = sd.cpu().numpy()
    mean = predictor._to_y(mean)
    std = std * predictor._std_scale()
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
    if len(bad):
        raise DataError(
            f"the adapted model predicts a non-finite value for {len(bad)} of {len(archs)} "
            f"architectures (first: {predictor.space_.format(archs[bad[0]])!r})"
        )
    return (mean, std) if return_std else mean


def joint_posterior(predictor: MetaGNNPredictor, inputs: PredictInputs) -> tuple[np.ndarray, np.ndarray]:
    """(mean [n], cov [n, n]) of the noise-free values at ``inputs.archs`` (target units): the GP posterior
    ``K(e, e) - v^T v``, scaled like :func:`predict`'s std (the variance by its square)."""
    from .deep_kernel import posterior_cov

    assert predictor.gp_ is not None  # only called with a GP head
    m, e = embed_all(predictor, inputs)
    mu, cov_t = posterior_cov(predictor.gp_, e)
    mean = predictor._to_y((m + mu).cpu().numpy().astype(float))
    cov = cov_t.cpu().numpy() * predictor._std_scale() ** 2
    if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
        n = len(inputs.archs)
        raise DataError(f"the adapted model's joint posterior over {n} architectures holds non-finite values")
    return mean, cov


def noise_variance(predictor: MetaGNNPredictor) -> float:
    """The GP likelihood's noise (target units, squared), scaled as :func:`predict`'s std is."""
    assert predictor.gp_ is not None  # only called with a GP head
    return float(predictor.gp_.likelihood.noise.detach().reshape(-1)[0]) * predictor._std_scale() ** 2
