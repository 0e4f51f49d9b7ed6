"""Baseline predictors in the same scikit-learn style API (``fit(archs, y) -> self``, ``predict(archs)``)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge

from ..errors import DataError
from ..spaces import Architecture, SearchSpace, get_space
from .features import SourceValues, onehot
from .gnn import GraphRegressor, ModelConfig


class _Base:
    space: SearchSpace | str

    def _archs(self, archs) -> list[Architecture]:
        sp = get_space(self.space)
        return [sp.coerce(a) for a in archs]

    def _check_fit(self, archs, y) -> tuple[list[Architecture], np.ndarray]:
        from ..meta.adapt import validate_support

        return validate_support(get_space(self.space), archs, y)

    def _fitted(self):
        if not hasattr(self, "fitted_"):
            raise DataError(f"{type(self).__name__}.predict() called before fit()")


class SourceTransferPredictor(_Base):
    """Zero-shot: the mean rank of an architecture over the source tasks (ignores the support values)."""

    def __init__(self, space, sources: SourceValues):
        self.space = space
        self.sources = sources

    def fit(self, archs, y) -> "SourceTransferPredictor":
        self._check_fit(archs, y)
        if not self.sources.tasks:
            raise DataError("source-transfer needs at least one source task")
        self.fitted_ = True
        return self

    def predict(self, archs) -> np.ndarray:
        self._fitted()
        src = self.sources(get_space(self.space), self._archs(archs))
        with np.errstate(all="ignore"):
            out = np.nanmean(src, axis=1)
        return np.nan_to_num(out, nan=0.0).astype(float)


class SourceRidgePredictor(_Base):
    """Ridge regression of the target on the architecture's source-task values, fit on K."""

    def __init__(self, space, sources: SourceValues, alpha: float = 1.0):
        self.space = space
        self.sources = sources
        self.alpha = alpha

    def fit(self, archs, y) -> "SourceRidgePredictor":
        archs, y = self._check_fit(archs, y)
        X = np.nan_to_num(self.sources(get_space(self.space), archs))
        self.model_ = Ridge(alpha=self.alpha).fit(X, y)
        self.fitted_ = True
        return self

    def predict(self, archs) -> np.ndarray:
        self._fitted()
        return self.model_.predict(np.nan_to_num(self.sources(get_space(self.space), self._archs(archs))))


class TreePredictor(_Base):
    """Random forest or gradient boosting on a one-hot encoding (optionally + source-task values)."""

    def __init__(self, space, kind: str = "rf", sources: SourceValues | None = None, seed: int = 0, n_estimators: int = 200):
        self.space = space
        self.kind = kind
        self.sources = sources
        self.seed = seed
        self.n_estimators = n_estimators

    def _X(self, archs) -> np.ndarray:
        sp = get_space(self.space)
        X = onehot(sp, archs)
        if self.sources is not None and self.sources.tasks:
            X = np.hstack([X, np.nan_to_num(self.sources(sp, archs))])
        return X

    def fit(self, archs, y) -> "TreePredictor":
        archs, y = self._check_fit(archs, y)
        if self.kind == "rf":
            m = RandomForestRegressor(self.n_estimators, random_state=self.seed, n_jobs=1)
        elif self.kind == "gbm":
            m = GradientBoostingRegressor(n_estimators=self.n_estimators, max_depth=3, learning_rate=0.05,
                                          subsample=0.8, random_state=self.seed)
        else:
            raise DataError(f"unknown tree kind {self.kind!r}; use rf or gbm")
        self.model_ = m.fit(self._X(archs), y)
        self.fitted_ = True
        return self

    def predict(self, archs) -> np.ndarray:
        self._fitted()
        return self.model_.predict(self._X(self._archs(archs)))


class ScratchGNNPredictor(_Base):
    """The same GNN (no source features) trained from random initialisation on the K support archs only."""

    def __init__(self, space, model_config: ModelConfig | None = None, steps: int = 200, lr: float = 5e-3,
                 rank_weight: float = 1.0, seed: int = 0, device: str = "cpu"):
        self.space = space
        self.model_config = model_config
        self.steps = steps
        self.lr = lr
        self.rank_weight = rank_weight
        self.seed = seed
        self.device = device

    def fit(self, archs, y) -> "ScratchGNNPredictor":
        from ..meta.maml import regression_rank_loss
        from ..meta.tasks import graph_inputs, normalise

        archs, y = self._check_fit(archs, y)
        sp = get_space(self.space)
        cfg = ModelConfig(**{**(self.model_config or ModelConfig()).to_dict(), "use_sources": False})
        torch.manual_seed(self.seed)
        self.model_ = GraphRegressor(len(sp.vocabulary), cfg).to(self.device)
        self.mean_, self.std_ = normalise(y, "support set")
        target = torch.tensor((y - self.mean_) / self.std_, dtype=torch.float32, device=self.device)
        x, ei, b, n, _ = graph_inputs(sp, archs, np.zeros((len(archs), 0)), self.device)
        opt = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        for _ in range(self.steps):
            opt.zero_grad()
            loss = regression_rank_loss(self.model_(x, ei, b, n), target, self.rank_weight)
            loss.backward()
            opt.step()
        self.fitted_ = True
        return self

    def predict(self, archs) -> np.ndarray:
        from ..meta.tasks import graph_inputs

        self._fitted()
        archs = self._archs(archs)
        x, ei, b, n, _ = graph_inputs(get_space(self.space), archs, np.zeros((len(archs), 0)), self.device)
        with torch.no_grad():
            return self.model_(x, ei, b, n).cpu().numpy().astype(float) * self.std_ + self.mean_
