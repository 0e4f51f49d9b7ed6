"""Few-shot adaptation of a meta-trained checkpoint to a new task: ``adapt(checkpoint, support)``."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..errors import DataError
from ..predictors.features import SourceValues, support_correlations
from ..spaces import Architecture
from .checkpoint import Checkpoint, load_checkpoint
from .maml import forward, regression_rank_loss
from .tasks import graph_inputs, normalise

STEP_CHOICES = (0, 1, 2, 3, 5, 8, 12, 20)


def _sources_for(ckpt: Checkpoint, sources: SourceValues | None) -> SourceValues:
    if sources is not None:
        return sources
    cfg = ckpt.sources
    if not cfg.get("tasks"):
        return SourceValues(None, ())
    from ..benchmarks import load_benchmark

    table = load_benchmark(cfg["benchmark"])
    return SourceValues(table, tuple(cfg["tasks"]), cfg["metric"], cfg.get("higher_is_better", True))


class MetaGNNPredictor:
    """A meta-trained GNN adapted on K measured architectures (scikit-learn style).

    ``fit(archs, y)`` runs the inner loop from the meta-learned initialisation on the support set
    (the checkpoint's module is never modified); ``predict(archs)`` returns predictions in the
    units of ``y``; ``predict(archs, return_std=True)`` also returns a bootstrap-ensemble std.

    ``inner_steps`` defaults to the meta-trained count; ``"cv"`` picks the number of inner steps by K-fold cross-validation on the
    support set itself (out-of-fold Spearman), so a poorly matching task is adapted less.

    ``targets``: how the support values are put on the network's scale before adaptation.
    ``"support"`` (meta-training's convention) z-scores them over the support set, which assumes
    a support drawn at random from the task. ``"anchored"`` is for *selected* supports, such as
    the measurements of a search that has climbed to the top of the space: the z-scores are
    rescaled to the mean and spread of the meta-learned initialisation's own predictions on the
    support, so adaptation learns corrections within that region instead of dragging the whole
    space towards the support's mean (which, for a top-heavy support, inverts the source prior).
    """

    def __init__(self, checkpoint: Checkpoint | str | os.PathLike, sources: SourceValues | None = None,
                 inner_steps: int | str | None = None, inner_lr: float | None = None, n_members: int = 5,
                 seed: int = 0, device: str = "cpu", targets: str = "support"):
        if targets not in ("support", "anchored"):
            raise DataError(f"targets must be 'support' or 'anchored', got {targets!r}")
        self.targets = targets
        self.checkpoint = checkpoint
        self.sources = sources
        self.inner_steps = inner_steps
        self.inner_lr = inner_lr
        self.n_members = n_members
        self.seed = seed
        self.device = device

    # ------------------------------------------------------------------ fit
    def fit(self, archs: Sequence[Architecture | str], y) -> "MetaGNNPredictor":
        ckpt = self.checkpoint
        if not isinstance(ckpt, Checkpoint):
            ckpt = load_checkpoint(ckpt, device=self.device)
        self.ckpt_ = ckpt
        space = ckpt.space
        archs, y = validate_support(space, archs, y)
        self.sources_ = _sources_for(ckpt, self.sources)
        self.space_ = space
        self.y_mean_, self.y_std_ = normalise(y, "support set")
        z = (y - self.y_mean_) / self.y_std_
        src = self.sources_(space, archs)
        self.corr_ = torch.as_tensor(support_correlations(src, y), dtype=torch.float32, device=self.device)
        base = {k: v.detach() for k, v in ckpt.model.named_parameters()}
        self.base_params_ = base
        self.z_shift_, self.z_scale_ = 0.0, 1.0
        if self.targets == "anchored":
            self.z_shift_, self.z_scale_ = self._anchor(archs, src)
            z = z * self.z_scale_ + self.z_shift_
        self.support_ = (archs, z, src)
        if self.inner_steps == "cv":
            self.steps_ = self._select_steps(archs, z, src) if len(archs) >= 6 else int(ckpt.meta["inner_steps"])
        elif self.inner_steps is None:
            self.steps_ = int(ckpt.meta["inner_steps"])
        else:
            self.steps_ = int(self.inner_steps)
        self.params_ = self._adapt(archs, z, src, self.steps_)[-1]
        self.members_ = None
        return self

    #: Floor of the anchored spread (network units): the initialisation may see a support as nearly tied.
    ANCHOR_MIN_SCALE = 0.05

    def _anchor(self, archs, src) -> tuple[float, float]:
        p0 = self._forward(self.base_params_, archs, src)
        return float(p0.mean()), max(float(p0.std()), self.ANCHOR_MIN_SCALE)

    def _lrs(self):
        if self.inner_lr is not None:
            return float(self.inner_lr)
        if self.ckpt_.inner_lrs is not None:
            return {k: v.to(self.device) for k, v in self.ckpt_.inner_lrs.items()}
        return float(self.ckpt_.meta["inner_lr"])

    def _adapt(self, archs, z, src, steps: int, keep: Sequence[int] = ()) -> list[dict]:
        """Inner loop; returns the parameters after ``keep`` step counts (and after ``steps``)."""
        model, rw, lrs = self.ckpt_.model, float(self.ckpt_.meta.get("rank_weight", 1.0)), self._lrs()
        inputs = graph_inputs(self.space_, archs, src, self.device)
        y = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        params = {k: v.clone().requires_grad_(True) for k, v in self.base_params_.items()}
        out = [params] if 0 in keep else []
        with torch.enable_grad():
            for step in range(1, steps + 1):
                loss = regression_rank_loss(forward(model, params, inputs, self.corr_), y, rw)
                if not torch.isfinite(loss):  # diverging step: keep the last finite parameters
                    out += [params] * sum(1 for k in keep if k >= step)
                    break
                grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
                params = {
                    k: (v - (lrs[k] if isinstance(lrs, dict) else lrs) * g).detach().requires_grad_(True) if g is not None else v
                    for (k, v), g in zip(params.items(), grads)
                }
                if step in keep:
                    out.append(params)
        return out if keep else [params]

    def _select_steps(self, archs, z, src) -> int:
        rng = np.random.default_rng(self.seed)
        folds = np.array_split(rng.permutation(len(archs)), min(5, len(archs) // 2))
        preds = np.zeros((len(STEP_CHOICES), len(archs)))
        for fold in folds:
            train = np.setdiff1d(np.arange(len(archs)), fold)
            zt = z[train]
            if np.ptp(zt) == 0:
                continue
            zt = (zt - zt.mean()) / zt.std()
            if self.targets == "anchored":
                shift, scale = self._anchor([archs[i] for i in train], src[train])
                zt = zt * scale + shift
            states = self._adapt([archs[i] for i in train], zt, src[train], max(STEP_CHOICES), keep=STEP_CHOICES)
            held = graph_inputs(self.space_, [archs[i] for i in fold], src[fold], self.device)
            with torch.no_grad():
                for j, params in enumerate(states):
                    preds[j, fold] = forward(self.ckpt_.model, params, held, self.corr_).cpu().numpy()
        scores = [stats.spearmanr(p, z).statistic if np.ptp(p) > 0 else -1.0 for p in preds]
        scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-1.0)
        return int(STEP_CHOICES[int(np.argmax(scores))])

    # ------------------------------------------------------------------ predict
    def _forward(self, params, archs, src, batch_size: int = 32768) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(archs), batch_size):
                inputs = graph_inputs(self.space_, archs[i:i + batch_size], src[i:i + batch_size], self.device)
                out.append(forward(self.ckpt_.model, params, inputs, self.corr_).cpu().numpy())
        return np.concatenate(out).astype(float)

    def predict(self, archs: Sequence[Architecture | str], return_std: bool = False):
        if not hasattr(self, "params_"):
            raise DataError("predict() called before fit(): adapt the predictor on support measurements first")
        archs = [self.space_.coerce(a) for a in archs]
        if not archs:
            return (np.zeros(0), np.zeros(0)) if return_std else np.zeros(0)
        src = self.sources_(self.space_, archs)
        mean = self._to_y(self._forward(self.params_, archs, src))
        if not return_std:
            return mean
        if self.members_ is None:
            self.members_ = self._bootstrap()
        if not self.members_:
            return mean, np.zeros_like(mean)
        preds = self._to_y(np.stack([self._forward(p, archs, src) for p in self.members_]))
        return mean, preds.std(0)

    def _to_y(self, out: np.ndarray) -> np.ndarray:
        return (out - self.z_shift_) / self.z_scale_ * self.y_std_ + self.y_mean_

    def _bootstrap(self) -> list[dict]:
        archs, z, src = self.support_
        rng = np.random.default_rng(self.seed + 1)
        members = []
        for _ in range(self.n_members):
            for _ in range(20):
                idx = rng.integers(len(archs), size=len(archs))
                if np.ptp(z[idx]) > 0:
                    members.append(self._adapt([archs[i] for i in idx], z[idx], src[idx], self.steps_)[-1])
                    break
        return members


def validate_support(space, archs, y) -> tuple[list[Architecture], np.ndarray]:
    """Check a support set: >= 2 distinct archs of ``space``, finite, not all equal."""
    archs = list(archs)
    y = np.asarray(y, dtype=float).reshape(-1)
    if len(archs) != len(y):
        raise DataError(f"support set: {len(archs)} architectures but {len(y)} values")
    if len(archs) < 2:
        raise DataError(f"support set has {len(archs)} architecture(s); adaptation needs at least 2 measured ones")
    parsed = []
    for i, a in enumerate(archs):
        try:
            parsed.append(space.coerce(a))
        except ValueError as e:
            raise DataError(f"support set, row {i}: {e}") from None
    seen = {}
    for i, a in enumerate(parsed):
        if a in seen:
            raise DataError(f"support set: architecture {space.format(a)!r} appears twice (rows {seen[a]} and {i}); "
                            "average repeated measurements first")
        seen[a] = i
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise DataError(f"support set: value {y[bad[0]]!r} for {space.format(parsed[bad[0]])!r} is not finite")
    normalise(y, "support set")
    return parsed, y


def adapt(checkpoint: Checkpoint | str | os.PathLike, support, sources: SourceValues | None = None, **kwargs) -> MetaGNNPredictor:
    """Adapt ``checkpoint`` to a new task from ``support`` = (archs, values) or a DataFrame (arch, value)."""
    if isinstance(support, pd.DataFrame):
        missing = [c for c in ("arch", "value") if c not in support.columns]
        if missing:
            raise DataError(f"support table: missing column(s) {', '.join(missing)} (need arch, value)")
        archs, y = support["arch"].tolist(), support["value"].to_numpy(dtype=float)
    else:
        archs, y = support
    return MetaGNNPredictor(checkpoint, sources=sources, **kwargs).fit(archs, y)
