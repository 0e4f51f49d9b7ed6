"""Baseline predictors in the same scikit-learn style API (``fit(archs, y) -> self``, ``predict(archs)``)."""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod

import numpy as np

from ..errors import DataError
from ..spaces import Architecture, SearchSpace, get_space
from ..typed import MAX_SEED
from .inputs import FreeFeatureValues, SourceValues, input_columns, onehot, zero_shot_score
from .support import scale_targets, validate_support


def has_uncertainty(predictor) -> bool:
    """Whether ``predictor.predict(archs, return_std=True)`` returns a real std, not zeros.

    Read from the predictor's ``has_uncertainty`` attribute (False where it has none): True for
    ``rf`` / ``rf-source``; False for ``source-transfer``, ``ridge-source``, ``gbm``, ``lgbm`` and ``scratch-gnn``.
    """
    return bool(getattr(predictor, "has_uncertainty", False))


class _Base(ABC):
    space: SearchSpace | str

    @property
    def has_uncertainty(self) -> bool:
        """Whether ``predict(..., return_std=True)`` gives a real std (see :func:`has_uncertainty`); a predictor
        that says so overrides :meth:`_std`."""
        return False

    @abstractmethod
    def _predict(self, archs: list[Architecture]) -> np.ndarray:
        """The fitted predictor's values at ``archs`` (in the units of ``y``)."""

    def _std(self, archs: list[Architecture]) -> np.ndarray:
        """The std at ``archs``: zeros for a predictor without uncertainty."""
        return np.zeros(len(archs))

    def _archs(self, archs) -> list[Architecture]:
        sp = get_space(self.space)
        return [sp.coerce(a) for a in archs]

    def _check_fit(self, archs, y) -> tuple[list[Architecture], np.ndarray]:
        return validate_support(get_space(self.space), archs, y)

    def _fitted(self):
        if not hasattr(self, "fitted_"):
            raise DataError(f"{type(self).__name__}.predict() called before fit()")

    def predict(self, archs, return_std: bool = False, latent: bool = False):
        """Predictions in the units of ``y``; with ``return_std``, (mean, std), std of zeros where
        ``has_uncertainty`` is False. The baselines model no observation noise (a forest's spread is over its
        trees), so ``latent`` (the std of the noise-free value) gives the same std."""
        self._fitted()
        archs = self._archs(archs)
        mean = np.asarray(self._predict(archs), dtype=np.float64) if archs else np.zeros(0)
        if not return_std:
            return mean
        std = np.asarray(self._std(archs), dtype=np.float64) if archs else np.zeros_like(mean)
        return mean, std


class SourceTransferPredictor(_Base):
    """Zero-shot: the mean rank of an architecture over the source tasks (ignores the support values)."""

    def __init__(self, space, sources: SourceValues):
        self.space = space
        self.sources = sources

    def fit(self, archs, y) -> SourceTransferPredictor:
        self._check_fit(archs, y)
        if self.sources is None or not self.sources.tasks:
            raise DataError("source-transfer needs at least one source task")
        self.fitted_ = True
        return self

    def _predict(self, archs) -> np.ndarray:
        return zero_shot_score(self.sources(get_space(self.space), archs))


class SourceRidgePredictor(_Base):
    """Ridge regression of the target on the architecture's source-task values (and free features), fit on K."""

    def __init__(self, space, sources: SourceValues, alpha: float = 1.0, features: FreeFeatureValues | None = None):
        self.space = space
        self.sources = sources
        self.alpha = alpha
        self.features = features

    def _X(self, archs) -> np.ndarray:
        return np.nan_to_num(input_columns(self.sources, self.features, get_space(self.space), archs))

    def fit(self, archs, y) -> SourceRidgePredictor:
        from sklearn.linear_model import Ridge

        archs, y = self._check_fit(archs, y)
        if self.sources is None or not self.sources.tasks:
            raise DataError("ridge-source needs at least one source task")
        self.model_ = Ridge(alpha=self.alpha).fit(self._X(archs), y)
        self.fitted_ = True
        return self

    def _predict(self, archs) -> np.ndarray:
        return self.model_.predict(self._X(archs))


#: The most trees a tree ensemble may grow (a typo such as 10**9 would never finish fitting).
MAX_TREES = 100_000


class TreePredictor(_Base):
    """A tree ensemble on a one-hot encoding (optionally + source-task values and free features).

    ``kind``: ``rf`` (random forest; its std is the spread of the trees' predictions), ``gbm``
    (scikit-learn gradient boosting) or ``lgbm`` (LightGBM, set for small support sets). Deterministic for a ``seed``.
    """

    KINDS = ("rf", "gbm", "lgbm")

    def __init__(
        self,
        space,
        kind: str = "rf",
        sources: SourceValues | None = None,
        seed: int = 0,
        n_estimators: int = 200,
        features: FreeFeatureValues | None = None,
    ):
        self.space = space
        self.kind = kind
        self.sources = sources
        self.seed = seed
        self.n_estimators = n_estimators
        self.features = features

    def validate_params(self) -> TreePredictor:
        """Check the parameters (``__init__`` only stores them); a bad one is one DataError naming it."""
        if self.kind not in self.KINDS:
            raise DataError(f"unknown tree kind {self.kind!r}; use {', '.join(self.KINDS)}")
        for name, v, hi in (("n_estimators", self.n_estimators, MAX_TREES), ("seed", self.seed, MAX_SEED)):
            lo = 1 if name == "n_estimators" else 0
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not lo <= v <= hi:
                raise DataError(f"{self.kind}: {name} must be an integer in {lo}..{hi}, got {v!r}")
        return self

    @property
    def has_uncertainty(self) -> bool:
        return self.kind == "rf"

    def _X(self, archs) -> np.ndarray:
        sp = get_space(self.space)
        sources = self.sources if self.sources is not None and self.sources.tasks else None
        return np.hstack([onehot(sp, archs), np.nan_to_num(input_columns(sources, self.features, sp, archs))])

    def _model(self):
        if self.kind == "rf":
            from sklearn.ensemble import RandomForestRegressor

            return RandomForestRegressor(self.n_estimators, random_state=self.seed, n_jobs=1)
        if self.kind == "gbm":
            from sklearn.ensemble import GradientBoostingRegressor

            return GradientBoostingRegressor(
                n_estimators=self.n_estimators, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=self.seed
            )
        from lightgbm import LGBMRegressor

        # small-data settings: small trees with leaves of 2+ archs (3 cannot split at K=5 after bagging),
        # row/column bagging; one thread and deterministic=True for a fixed seed
        return LGBMRegressor(
            n_estimators=self.n_estimators,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=2,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.seed,
            n_jobs=1,
            deterministic=True,
            force_col_wise=True,
            verbose=-1,
        )

    def fit(self, archs, y) -> TreePredictor:
        self.validate_params()
        archs, y = self._check_fit(archs, y)
        self.model_ = self._model().fit(self._X(archs), y)
        self.fitted_ = True
        return self

    def _predict(self, archs) -> np.ndarray:
        return self.model_.predict(self._X(archs))

    def _std(self, archs) -> np.ndarray:
        if not self.has_uncertainty:  # boosted trees: one sequence of trees, no spread to read
            return super()._std(archs)
        X = self._X(archs).astype(np.float32)  # the dtype the forest's trees were fit on
        return np.stack([t.predict(X) for t in self.model_.estimators_]).std(axis=0)


class ScratchGNNPredictor(_Base):
    """The same GNN (no source features) trained from random initialisation on the K support archs only.

    Initial weights follow ``seed`` (drawn under ``torch.random.fork_rng``: the caller's global
    torch RNG state is neither read nor changed).
    """

    def __init__(
        self,
        space,
        model_config=None,
        steps: int = 200,
        lr: float = 5e-3,
        rank_weight: float = 1.0,
        seed: int = 0,
        device: str = "cpu",
    ):
        self.space = space
        self.model_config = model_config
        self.steps = steps
        self.lr = lr
        self.rank_weight = rank_weight
        self.seed = seed
        self.device = device

    def fit(self, archs, y) -> ScratchGNNPredictor:
        import torch

        from .gnn import GraphRegressor, ModelConfig, graph_inputs, regression_rank_loss

        archs, y = self._check_fit(archs, y)
        sp = get_space(self.space)
        cfg = ModelConfig(**{**(self.model_config or ModelConfig()).to_dict(), "use_sources": False})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model_ = GraphRegressor(len(sp.vocabulary), cfg).to(self.device)
        self.y_scale_ = scale_targets(y, "support set")
        self.mean_, self.std_ = self.y_scale_.centre, self.y_scale_.spread
        target = torch.tensor(self.y_scale_.transform(y), dtype=torch.float32, device=self.device)
        x, ei, b, n, _ = graph_inputs(sp, archs, np.zeros((len(archs), 0)), self.device)
        opt = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        for _ in range(self.steps):
            opt.zero_grad()
            loss = regression_rank_loss(self.model_(x, ei, b, n), target, self.rank_weight)
            loss.backward()
            opt.step()
        self.fitted_ = True
        return self

    def _predict(self, archs) -> np.ndarray:
        import torch

        from .gnn import graph_inputs

        x, ei, b, n, _ = graph_inputs(get_space(self.space), archs, np.zeros((len(archs), 0)), self.device)
        with torch.no_grad():
            return self.y_scale_.inverse(self.model_(x, ei, b, n).cpu().numpy().astype(float))
