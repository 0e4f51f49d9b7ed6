"""Few-shot adaptation of a meta-trained checkpoint to a new task: ``adapt(checkpoint, support)``.

:class:`MetaGNNPredictor` holds the adaptation and its public API; its pieces live by job in
:mod:`~surrogate_nas.meta.records` (what a checkpoint reads, isolation), :mod:`~surrogate_nas.meta.step_selection`
(``inner_steps="cv"``), :mod:`~surrogate_nas.meta.members` (the network's predictions, bootstrap members),
:mod:`~surrogate_nas.meta.gp_head` (GP conditioning, predictive std, joint posterior),
:mod:`~surrogate_nas.meta.calibration` (held-out std calibration), :mod:`~surrogate_nas.meta.pooled` (the pooled-row
cache) and :mod:`~surrogate_nas.meta.predict_inputs` (what one prediction reads).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from ..devices import resolve_device
from ..errors import DataError, SurrogateNASError
from ..predictors.base import check_options
from ..predictors.gnn import functional_forward, graph_inputs
from ..predictors.inputs import FreeFeatureValues, SourceValues, input_columns, zero_shot_score
from ..predictors.support import scale_targets, validate_support
from ..spaces import Architecture, SearchSpace, get_space
from ..typed import Float, Int, TypedConfig
from . import calibration, gp_head, members
from .checkpoint import Checkpoint, check_finite_weights, load_checkpoint
from .correction_choice import (
    CHOICE_SCORES,
    CORRECTION_RULES,
    CorrectionChoice,
    choose_correction,
    prior_fit_weight,
)
from .inner import MAX_INNER_STEPS, deployment_steps, inner_loop
from .pooled import pooled_rows
from .predict_inputs import PredictInputs
from .records import check_support_isolation, features_for, sources_for
from .step_selection import select_steps

if TYPE_CHECKING:  # gpytorch is imported when a GP head is used
    from .deep_kernel import ResidualGP

__all__ = ["AdaptOptions", "MetaGNNPredictor", "adapt"]

#: Bound of ``n_members`` (each member is one more adaptation).
MAX_MEMBERS = 100
#: Bound of ``correction_sd`` (a prior std of a weight on z-unit predictions: beyond it the prior is flat).
MAX_CORRECTION_SD = 1000.0
#: Bound of ``gp_scale`` (a multiplier of the GP's meta-learned signal variance).
MAX_GP_SCALE = 1000.0


def _number_or_choice(v: Any, in_range, message: str) -> Any:
    """An option that is None, the checkpoint's own choice (``"checkpoint"``, ``"checkpoint-k"``) or a real number
    ``in_range`` (a float); anything else raises ``ValueError(message)``."""
    if v is None or (isinstance(v, str) and v in ("checkpoint", "checkpoint-k")):
        return v
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not in_range(float(v)):
        raise ValueError(message)
    return float(v)


class AdaptOptions(TypedConfig):
    """The options of :class:`MetaGNNPredictor` that are values, checked by :meth:`MetaGNNPredictor.validate_params`
    (a bad one raises one :class:`~surrogate_nas.errors.SurrogateNASError` line naming it and the value)."""

    what: ClassVar[str] = "adapt"

    inner_steps: int | Literal["cv"] | None = None  # None: the checkpoint's deployed count
    inner_lr: Annotated[Float, Field(gt=0)] | None = None  # None: the checkpoint's (learned) rates
    n_members: Int = Field(5, ge=0, le=MAX_MEMBERS)
    seed: Int = Field(0, ge=0)
    targets: Literal["support", "anchored"] = "support"
    task: str | None = None
    gp_steps: Int = Field(0, ge=0, le=MAX_INNER_STEPS)
    correction_sd: Annotated[Float, Field(gt=0, le=MAX_CORRECTION_SD)] | None = None
    correction_weight: float | Literal["cv", "cv-top", "prior-fit"] | None = None
    rank_residual: float | Literal["checkpoint", "checkpoint-k"] | None = None
    gp_scale: float | Literal["checkpoint", "checkpoint-k"] | None = None
    calibrate: bool = True
    device: str = "cpu"
    values_negated: bool = False  # the support values are the checkpoint's metric negated (a minimising search's)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        try:  # a bad or absent device is refused here, not later as a checkpoint-load error
            resolve_device(v)
        except SurrogateNASError as e:
            raise ValueError(str(e)) from None
        return v

    @field_validator("inner_steps", mode="plain")
    @classmethod
    def _steps(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and v == "cv"):
            return v
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= int(v) <= MAX_INNER_STEPS:
            raise ValueError(f"must be 'cv' or an integer in 0..{MAX_INNER_STEPS}")
        return int(v)

    @field_validator("rank_residual", mode="plain")
    @classmethod
    def _rank_residual(cls, v: Any) -> Any:
        return _number_or_choice(
            v,
            lambda x: 0 <= x <= 1,
            "must be a share in [0, 1], 'checkpoint' (the share the checkpoint chose) or 'checkpoint-k' "
            "(the one it chose for the support size nearest K)",
        )

    @field_validator("correction_weight", mode="plain")
    @classmethod
    def _correction_weight(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and v in CORRECTION_RULES):
            return v
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= float(v) <= 1:
            raise ValueError(
                "must be a weight in [0, 1], 'cv' (the weight whose fits rank the support's held-out folds best), "
                "'cv-top' (best at their top) or 'prior-fit' (1 - the support's correlation with the source rank)"
            )
        return float(v)

    @field_validator("gp_scale", mode="plain")
    @classmethod
    def _gp_scale(cls, v: Any) -> Any:
        return _number_or_choice(
            v,
            lambda x: 0 < x <= MAX_GP_SCALE,
            f"must be a multiplier in (0, {MAX_GP_SCALE:g}], 'checkpoint' (the one the checkpoint chose) or "
            "'checkpoint-k' (the one it chose for the support size nearest K)",
        )

    @model_validator(mode="after")
    def _one_correction_option(self) -> AdaptOptions:
        if self.correction_sd is not None and self.correction_weight is not None:
            raise ValueError(
                "correction_sd (the correction as a basis the support earns) and correction_weight (the correction "
                "beyond the prior's warp, weighted) are two ways to treat the same correction: give one"
            )
        return self

    @field_validator("task")
    @classmethod
    def _task(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be a task name")
        return v


class MetaGNNPredictor:
    """A meta-trained GNN adapted on K measured architectures (scikit-learn style).

    ``fit(archs, y)`` runs the inner loop from the meta-learned initialisation on the support set
    (the checkpoint's module is never modified); ``predict(archs)`` returns predictions in the
    units of ``y``; ``predict(archs, return_std=True)`` also returns the std over ``n_members``
    bootstrap members (each adapted on a resample of the support; zeros with ``n_members=0``).
    ``fit([], [])``, nothing measured yet (K = 0), predicts zero-shot: the mean source rank, no std
    (:meth:`_fit_zero_shot`).

    ``task`` names the task the support was measured on; ``fit`` refuses it when the checkpoint read
    that task's values (as a source, training or validation task). Without a name, a support whose
    values rank like one of those tasks' records is refused (see
    :func:`~surrogate_nas.benchmarks.check_isolation`).

    The options are stored as given and checked when fitting starts (:meth:`validate_params`, also called by the
    ``meta`` registry factory so a search refuses them before any evaluation).

    ``inner_steps`` defaults to the count the checkpoint was meta-trained and validated with
    (``reptile_steps`` for Reptile); ``"cv"`` picks it by K-fold cross-validation on the support set
    (out-of-fold Spearman; the source correlations of each fold come from its training part only),
    so a poorly matching task is adapted less.

    ``progress``: a progress bar (stderr) over the cross-validation folds and the bootstrap members
    when they take more than 2 s; ``None`` (default) shows it only on a terminal.

    ``features``: the target's free features (:class:`~surrogate_nas.predictors.inputs.FreeFeatureValues`)
    when the checkpoint was meta-trained with some; by default they are read from the checkpoint's
    benchmark for ``task`` (NB-201's features are the same for every task; NAS-Bench-Graph's need ``task``).

    A checkpoint with a deep-kernel GP head (``algorithm="dkt"``, :mod:`surrogate_nas.meta.deep_kernel`)
    adapts by conditioning the GP on the support's residuals from the GNN (after ``inner_steps`` gradient
    steps, default 0); ``gp_steps`` > 0 first re-fits the GP's hyper-parameters to the support by type-II
    maximum likelihood. ``correction_sd``: the GNN's learned correction to its transfer prior (the
    support-correlation-weighted source rank) is not part of the GP's mean but a basis whose weight has a
    ``N(0, correction_sd^2)`` prior, so the support has to earn it
    (:func:`~surrogate_nas.meta.deep_kernel.add_correction_basis`); ``None``: the correction is used in full, as
    meta-trained. ``correction_weight`` (0..1, a deep-kernel checkpoint that reads sources): the correction is split
    into the network's monotone warp of its transfer prior (the prior put on the values' scale:
    :func:`~surrogate_nas.meta.gp_head.prior_warp`) and the rest, which depends on the architecture beyond its
    source ranks; the GP's mean keeps the warp and this weight of the rest (0: it ranks as the transfer prior; 1: the
    network's prediction); ``"cv"``: the entry of :data:`~surrogate_nas.meta.correction_choice.CORRECTION_CHOICES`
    whose fits without each held-out fold of the support (the calibration folds) rank those folds best
    (:func:`~surrogate_nas.meta.correction_choice.choose_correction`; ``"cv-top"``: by the weighted tau, best at
    their top); ``"prior-fit"``: ``1 - rho`` within 0.25..0.5, ``rho`` the support's Spearman correlation with the
    zero-shot source rank (:func:`~surrogate_nas.meta.correction_choice.prior_fit_weight`); ``None``, the default, is
    :func:`~surrogate_nas.meta.defaults.default_correction_weight` (``"prior-fit"`` for a deep-kernel checkpoint of a
    function-level metric, the full correction for a hardware one, each chosen on its own validation targets; the
    full correction for any other checkpoint, and wherever ``correction_sd`` is given).
    ``rank_residual`` (0..1, GP head only): the share of the GP's support residual that is the support's *ranking*
    disagreement with the network instead of its value residual
    (:func:`~surrogate_nas.meta.deep_kernel.rank_residual`); 0 conditions on value residuals alone; ``None``, the
    default, is :func:`~surrogate_nas.meta.defaults.default_rank_share` (0.25 for a deep-kernel checkpoint of a
    function-level metric, chosen on the validation targets; 0 for a hardware metric or a MAML GP head);
    ``"checkpoint"``: the share the checkpoint chose on its own meta-validation episodes (``info["rank_share"]``,
    :meth:`~surrogate_nas.meta.deep_kernel.DKTLearner.select_rank_share`; 0 for a checkpoint without one);
    ``"checkpoint-k"``: the share it chose for the scored support size nearest the support's
    (``info["rank_share_by_k"]``, :func:`~surrogate_nas.meta.deep_kernel.share_for_size`; its one share for a
    checkpoint without them).
    ``gp_scale`` (GP head only): a multiplier of the GP's meta-learned signal variance (how far the support may move
    the network's prediction; the noise is kept); ``None``, the default, is 1; ``"checkpoint"``: the multiplier of
    :data:`~surrogate_nas.meta.deep_kernel.GP_SCALES` that ranked the checkpoint's meta-validation episodes best at the
    fit's rank share (``info["gp_scale_taus"]``, :meth:`~surrogate_nas.meta.deep_kernel.DKTLearner.select_gp_scale`,
    meta-trained with ``select_gp_scale``);
    ``"checkpoint-k"``: the one at the scored support size nearest the support's (``info["gp_scale_by_k"]``); 1 for a
    checkpoint without them.
    ``predict(..., return_std=True)`` then returns the GP's predictive std, scaled (with
    ``calibrate``, the default) by the RMS of the z-scores of support points predicted by fits that never saw
    them (leave-one-out, K-fold for large supports:
    :func:`~surrogate_nas.meta.calibration.held_out_std_factor`), so intervals match the target's own errors.

    ``targets``: how the support values are put on the network's scale before adaptation.
    ``"support"`` (meta-training's convention) z-scores them over the support set, which assumes
    a support drawn at random from the task. ``"anchored"`` is for *selected* supports, such as
    the measurements of a search that has climbed to the top of the space: the z-scores are
    rescaled to the mean and spread of the meta-learned initialisation's own predictions on the
    support, so adaptation learns corrections within that region instead of dragging the whole
    space towards the support's mean (which, for a top-heavy support, inverts the source prior).

    The network reads a lower-is-better metric (the checkpoint's ``sources["higher_is_better"]`` False) negated, as
    it reads the source tasks' ranks (high = good), so the transfer prior weighs them by their support correlations;
    predictions come back in the support's units. ``values_negated``: the support values are the checkpoint's metric
    negated (a search that minimises the metric maximises its negation and hands its predictor those values), so the
    network reads them the other way round.

    ``predict_cov(archs)`` returns the joint posterior (mean and covariance of the noise-free values) of a
    candidate batch, for batch acquisition; :meth:`noise_variance` is what ``predict``'s std adds to its diagonal.

    With the checkpoint's own weights (no inner step: the deep-kernel default, or ``inner_steps=0``) the graph
    part of the network (:meth:`~surrogate_nas.predictors.gnn.GraphRegressor.pool`) is computed once per
    architecture and process, and reused across fits and predictions
    (:func:`~surrogate_nas.meta.pooled.pooled_rows`); only the source
    encoding, transfer prior, head and GP posterior run again, since they read the support's correlations.
    """

    #: ``predict(..., return_std=True)`` returns a real std (GP posterior, or bootstrap members).
    has_uncertainty = True
    #: Architectures per forward batch in ``predict`` (bounds memory on large spaces).
    BATCH = 32768
    #: Floor of the anchored spread (network units): the initialisation may see a support as nearly tied.
    ANCHOR_MIN_SCALE = 0.05

    # Declared here: the module sits in an import cycle (predictors <-> meta) where mypy cannot infer attribute
    # types from ``__init__`` before the methods that read them.
    checkpoint: Checkpoint | str | os.PathLike
    sources: SourceValues | None
    inner_steps: int | str | None
    inner_lr: float | None
    n_members: int
    seed: int
    device: str
    targets: str
    task: str | None
    space: SearchSpace | str | None
    progress: bool | None
    features: FreeFeatureValues | None
    gp_steps: int
    correction_sd: float | None
    correction_weight: float | str | None
    prior_warp_: gp_head.PriorWarp | None
    correction_choice_: CorrectionChoice | None
    prior_fit_weight_: float | None
    rank_residual: float | str | None
    gp_scale: float | str | None
    calibrate: bool
    values_negated: bool
    space_: SearchSpace
    gp_: ResidualGP | None
    zero_shot_: bool
    support_: tuple[list, np.ndarray, np.ndarray]
    value_map_: tuple[float, float]
    members_: list[tuple[dict, torch.Tensor]] | None
    adapted_params_: dict[str, torch.Tensor] | None

    def __init__(
        self,
        checkpoint: Checkpoint | str | os.PathLike,
        sources: SourceValues | None = None,
        inner_steps: int | str | None = None,
        inner_lr: float | None = None,
        n_members: int = 5,
        seed: int = 0,
        device: str = "cpu",
        targets: str = "support",
        task: str | None = None,
        space=None,
        progress: bool | None = None,
        features: FreeFeatureValues | None = None,
        gp_steps: int = 0,
        correction_sd: float | None = None,
        rank_residual: float | str | None = None,
        calibrate: bool = True,
        gp_scale: float | str | None = None,
        correction_weight: float | str | None = None,
        values_negated: bool = False,
    ) -> None:
        self.checkpoint = checkpoint
        self.sources = sources
        self.inner_steps = inner_steps
        self.inner_lr = inner_lr
        self.n_members = n_members
        self.seed = seed
        self.device = device
        self.targets = targets
        self.task = task
        self.space = space
        self.progress = progress
        self.features = features
        self.gp_steps = gp_steps
        self.correction_sd = correction_sd
        self.rank_residual = rank_residual
        self.calibrate = calibrate
        self.gp_scale = gp_scale
        self.correction_weight = correction_weight
        self.values_negated = values_negated

    def validate_params(self) -> AdaptOptions:
        """Check the options that are values (:class:`AdaptOptions`): one line naming the bad one. Called when
        fitting starts; the checkpoint, sources, features and space are checked against each other by ``fit``."""
        return AdaptOptions(**{name: getattr(self, name) for name in AdaptOptions.field_names()})

    # ------------------------------------------------------------------ fit
    def fit(self, archs: Sequence[Architecture | str], y) -> MetaGNNPredictor:
        """Adapt on the support ``archs``, ``y`` (at least 2 measured architectures), or, with both empty, predict
        zero-shot (:meth:`_fit_zero_shot`)."""
        self.validate_params()
        self.ckpt_ = ckpt = self._load_checkpoint()
        self.space_ = ckpt.space
        archs = list(archs)
        self.zero_shot_ = not archs and np.size(y) == 0
        if self.zero_shot_:
            return self._fit_zero_shot()
        archs, y = validate_support(ckpt.space, archs, y)
        self.sources_ = sources_for(ckpt, self.sources)
        check_support_isolation(ckpt, self.sources, self.sources_, self.task, (archs, y))
        self.features_ = features_for(ckpt, self.features, self.task)
        src = self._columns(archs)
        self._fit_support(archs, y, src)
        self.std_factor_ = 1.0
        if self.gp_ is not None and self.calibrate:
            self.std_factor_ = calibration.held_out_std_factor(self, archs, y, src)
        return self

    def _fit_zero_shot(self) -> MetaGNNPredictor:
        """K = 0: no support to weigh the source columns, scale the values or condition the GP on, and none to earn the
        network's learned correction. The prediction is the transfer prior with every column weighed alike: the mean
        source rank (:func:`~surrogate_nas.predictors.inputs.zero_shot_score`; exactly ``source-transfer``'s
        prediction for a checkpoint without free features), on the ranks' scale ([-1, 1], negated for a
        lower-is-better metric: the support's units are unknown). No std: nothing to calibrate it on."""
        ckpt = self.ckpt_
        self.sources_ = sources_for(ckpt, self.sources)
        if not self.sources_.tasks:
            raise DataError(
                "an empty support leaves the source tasks alone to predict from (zero-shot), and this checkpoint "
                "reads none: measure at least 2 architectures"
            )
        if self.task is not None:
            check_support_isolation(ckpt, self.sources, self.sources_, self.task, ([], np.zeros(0)))
        self.features_ = features_for(ckpt, self.features, self.task)
        self.support_ = ([], np.zeros(0), self._columns([]))
        self.steps_, self.adapted_params_, self.members_ = 0, None, None
        self.gp_, self.prior_warp_, self.std_factor_ = None, None, 1.0
        self.correction_choice_, self.prior_fit_weight_ = None, None
        return self

    def _refuse_zero_shot_std(self) -> None:
        if self.zero_shot_:
            raise DataError("a zero-shot fit (an empty support) has no std: measure at least 2 architectures for one")

    def _zero_shot(self, archs: list, return_std: bool, inputs=None) -> np.ndarray:
        """:meth:`_fit_zero_shot`'s prediction of ``archs``."""
        if return_std:
            self._refuse_zero_shot_std()
        return self.zero_shot_scores(self._inputs(archs, inputs).src)

    def zero_shot_scores(self, src: np.ndarray) -> np.ndarray:
        """The zero-shot source rank of architectures with input columns ``src`` (every column weighed alike:
        :func:`~surrogate_nas.predictors.inputs.zero_shot_score`), oriented as the support values run (negated for
        values read negated: :meth:`values_up`)."""
        model = self.ckpt_.model
        share = float(model.feature_share()) if model.config.feature_columns else 0.0
        score = zero_shot_score(src, model.config.feature_columns, share)
        return score if self.values_up() else -score

    def _load_checkpoint(self) -> Checkpoint:
        """The checkpoint (loaded from its directory), refused when it does not fit the options."""
        ckpt = self.checkpoint
        if not isinstance(ckpt, Checkpoint):
            ckpt = load_checkpoint(ckpt, device=self.device)  # refuses non-finite weights itself
        else:
            check_finite_weights(ckpt)  # an in-memory checkpoint was never loaded
        if self.space is not None and get_space(self.space).name != ckpt.space.name:
            raise SurrogateNASError(
                f"the checkpoint is for space {ckpt.space.name!r}, not {get_space(self.space).name!r}"
            )
        if self.inner_steps == "cv" and ckpt.gp is not None:
            raise SurrogateNASError(
                "inner_steps='cv' chooses steps by the GNN alone; a checkpoint with a GP head "
                "(algorithm 'dkt') takes a number of steps (default 0: conditioning only)"
            )
        return ckpt

    def _fit_support(self, archs: list, y: np.ndarray, src: np.ndarray) -> None:
        """Everything a support determines: target scale, source correlations, anchoring, inner steps, adapted
        weights, the conditioned GP. ``src``: the support's input columns (they do not depend on ``y``)."""
        ckpt, space = self.ckpt_, self.space_
        self.y_scale_ = scale_targets(y, "support set", ckpt.meta.get("target_scale", "zscore"), self.values_up())
        self.y_mean_, self.y_std_ = self.y_scale_.centre, self.y_scale_.spread
        z = self.y_scale_.transform(y)
        self.corr_ = self._corr(src, z)
        self._base_params: dict[str, torch.Tensor] | None = None
        self.z_shift_, self.z_scale_ = 0.0, 1.0
        if self.targets == "anchored":
            self.z_shift_, self.z_scale_ = self._anchor(archs, src, self.corr_)
            z = z * self.z_scale_ + self.z_shift_
        self.support_ = (archs, z, src)
        self.steps_ = self._steps(archs, z, src)
        if self.steps_ == 0:  # the checkpoint's own weights: the GP reads the cached graph rows, no batch needed
            self.adapted_params_, support = None, PredictInputs(self, archs, src)
        else:
            inputs = graph_inputs(space, archs, src, self.device)
            self.adapted_params_ = self._adapt(inputs, z, self.corr_, self.steps_)[-1]
            support = PredictInputs(self, archs, src, [inputs])
        self.members_ = None
        self.gp_, self.value_map_ = None, (0.0, 1.0)  # value map: the GP's scale -> z (rank residuals move it)
        self.prior_warp_, self.correction_choice_, self.prior_fit_weight_ = None, None, None
        if ckpt.gp is not None:
            option = self.correction_option()
            if isinstance(option, str) and option in CHOICE_SCORES:
                self.correction_choice_ = choose_correction(self, archs, y, src, option)
            self.prior_fit_weight_ = prior_fit_weight(self, src, y) if option == "prior-fit" else None
            self.prior_warp_ = gp_head.prior_warp(self)
            self.gp_, self.value_map_ = gp_head.condition(self, support, z, self.y_scale_.orient(y))
        self.std_factor_ = 1.0

    @property
    def base_params_(self) -> dict[str, torch.Tensor]:
        """The checkpoint's own weights by name, gathered on first use (a prediction from cached graph rows reads
        the module directly and never needs them, nor the convolutions they include)."""
        params = self.__dict__.get("_base_params")
        if params is None:
            params = self._base_params = {k: v.detach() for k, v in self.ckpt_.model.named_parameters()}
        return params

    @property
    def params_(self) -> dict[str, torch.Tensor]:
        """The weights predictions use: the adapted ones after inner steps, else the checkpoint's own."""
        return self.adapted_params_ if self.adapted_params_ is not None else self.base_params_

    def _steps(self, archs: list, z: np.ndarray, src: np.ndarray) -> int:
        """The inner steps to adapt with: ``inner_steps``, chosen by CV (``"cv"``, from 6 points) or deployed."""
        if self.inner_steps == "cv" and len(archs) >= 6:
            return select_steps(self, archs, z, src)
        if self.inner_steps in ("cv", None):
            return deployment_steps(self.ckpt_.meta)
        return int(self.inner_steps)

    def values_up(self) -> bool:
        """Whether the network reads the support values as they are (the checkpoint's metric is higher-is-better and
        the values are not negated, or both the other way round) rather than negated."""
        return bool(self.ckpt_.sources.get("higher_is_better", True)) != bool(self.values_negated)

    def _columns(self, archs) -> np.ndarray:
        return input_columns(self.sources_, self.features_, self.space_, archs)

    def _corr(self, src, z) -> torch.Tensor:
        w = self.ckpt_.model.config.support_weights(src, np.asarray(z))
        return torch.as_tensor(w, dtype=torch.float32, device=self.device)

    def _anchor(self, archs, src, corr) -> tuple[float, float]:
        p0 = self._forward(self.base_params_, graph_inputs(self.space_, archs, src, self.device), corr)
        return float(p0.mean()), max(float(p0.std()), self.ANCHOR_MIN_SCALE)

    def _lrs(self):
        if self.inner_lr is not None:
            return float(self.inner_lr)
        if self.ckpt_.inner_lrs is not None:
            return {k: v.to(self.device) for k, v in self.ckpt_.inner_lrs.items()}
        return float(self.ckpt_.meta["inner_lr"])

    def _adapt(self, inputs, z, corr, steps: int, keep: Sequence[int] = ()) -> list[dict]:
        y = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=self.device)
        return inner_loop(
            self.ckpt_.model,
            self.base_params_,
            inputs,
            y,
            corr,
            steps,
            self._lrs(),
            float(self.ckpt_.meta.get("rank_weight", 1.0)),
            grad="none",
            keep=keep,
        )

    # ------------------------------------------------------------------ predict
    def _forward(self, params, inputs, corr) -> np.ndarray:
        with torch.inference_mode():
            return functional_forward(self.ckpt_.model, params, inputs, corr).cpu().numpy().astype(float)

    def predict(self, archs: Sequence[Architecture | str], return_std: bool = False, latent: bool = False):
        """Predictions [n] in the units of the support values; with ``return_std``, also a std [n]: the GP's
        predictive std of a *measured* value (the posterior of the noise-free value plus the likelihood's
        noise, calibrated, see :meth:`noise_variance`), or the spread of the bootstrap members without a GP head.
        ``latent``: the std of the noise-free value instead (what acquisition scores; the square root of
        :meth:`predict_cov`'s diagonal). The bootstrap spread holds no observation noise: the same either way."""
        self._check_fitted()
        return self._predict([self.space_.coerce(a) for a in archs], return_std, latent=latent)

    def gp_signal_scale(self, k: int | None = None) -> float:
        """The multiplier of the GP's meta-learned signal variance a fit on ``k`` support points uses (default: this
        fit's support): ``gp_scale``, 1 (``None``), or the checkpoint's own choice at the fit's rank share
        (``"checkpoint"``; ``"checkpoint-k"``: at the scored support size nearest ``k``; 1 for a checkpoint without
        one)."""
        if self.gp_scale is None:
            return 1.0
        if not isinstance(self.gp_scale, str):
            return float(self.gp_scale)
        from .deep_kernel import nearest_size, scale_for

        k = len(self.support_[0]) if k is None else k
        info = self.ckpt_.info
        taus, by_k = info.get("gp_scale_taus", {}), info.get("gp_scale_by_k")
        if self.gp_scale == "checkpoint-k" and by_k:
            taus = by_k[nearest_size(by_k, k)]
        return scale_for(taus, self.rank_share(k))

    def rank_share(self, k: int | None = None) -> float:
        """The share of rank residual a fit on ``k`` support points uses (default: this fit's support):
        ``rank_residual``, the default's (``None``) or the checkpoint's own choice (``"checkpoint"``;
        ``"checkpoint-k"``: by size)."""
        ckpt, info = self.ckpt_, self.ckpt_.info
        if self.rank_residual is None:
            from .defaults import default_rank_share

            return default_rank_share(ckpt.meta.get("algorithm", "maml"), ckpt.target_metric)
        if self.rank_residual == "checkpoint-k" and info.get("rank_share_by_k"):
            from .deep_kernel import share_for_size

            return share_for_size(info["rank_share_by_k"], len(self.support_[0]) if k is None else k)
        if self.rank_residual in ("checkpoint", "checkpoint-k"):
            return float(info.get("rank_share", 0.0))
        return float(self.rank_residual)

    def correction_option(self) -> float | str | None:
        """The ``correction_weight`` this fit applies: the option, or the default's where it is None
        (:func:`~surrogate_nas.meta.defaults.default_correction_weight`); None (the full correction) where
        ``correction_sd`` treats the correction instead."""
        if self.correction_sd is not None:
            return None
        if self.correction_weight is None:
            from .defaults import default_correction_weight

            return default_correction_weight(self.ckpt_.meta.get("algorithm", "maml"), self.ckpt_.target_metric)
        return self.correction_weight

    def correction_weight_used(self) -> float | None:
        """The weight of the network's correction beyond its warp of the transfer prior this fit uses
        (:meth:`correction_option`): a weight as given, the one the support chose (``"cv"``, ``"cv-top"``:
        :func:`~surrogate_nas.meta.correction_choice.choose_correction`) or set (``"prior-fit"``:
        :func:`~surrogate_nas.meta.correction_choice.prior_fit_weight`); None for the full correction."""
        return self._correction_weight(self.prior_fit_weight_)

    def correction_weight_for(self, src: np.ndarray, y: np.ndarray) -> float | None:
        """:meth:`correction_weight_used` for a fit on another support, input columns ``src`` and values ``y`` (a
        calibration fold's training part): ``"prior-fit"`` sets its weight from that support."""
        fit = prior_fit_weight(self, src, y) if self.correction_option() == "prior-fit" else None
        return self._correction_weight(fit)

    def _correction_weight(self, prior_fit: float | None) -> float | None:
        """The correction weight of :meth:`correction_option`, ``prior_fit`` being the ``"prior-fit"`` weight of the
        support in question; None for the full correction (a weight of 1 or none)."""
        option = self.correction_option()
        if option == "prior-fit":
            weight = prior_fit
        elif isinstance(option, str):
            weight = None if self.correction_choice_ is None else self.correction_choice_.weight
        else:
            weight = option
        return None if weight is None or weight >= 1 else float(weight)

    def _check_fitted(self) -> None:
        if not hasattr(self, "adapted_params_"):
            raise DataError("predict() called before fit(): adapt the predictor on support measurements first")

    def _inputs(self, archs, inputs=None) -> PredictInputs:
        if isinstance(inputs, PredictInputs):
            return inputs
        return PredictInputs(self, archs, batches=inputs)  # inputs: None, or batches() of archs

    def _predict(self, archs: list, return_std: bool, inputs=None, latent: bool = False):
        """:meth:`predict` on coerced ``archs``; ``inputs``: their :class:`PredictInputs` (shared in an ensemble)."""
        if not archs:
            return (np.zeros(0), np.zeros(0)) if return_std else np.zeros(0)
        if self.zero_shot_:
            return self._zero_shot(archs, return_std, inputs)
        if self.gp_ is not None:
            return gp_head.predict(self, self._inputs(archs, inputs), return_std, latent)
        out = members.outputs(self, self._inputs(archs, inputs), return_std)
        mean = out[0]
        if not return_std:
            return mean
        return mean, (out[1:].std(0) if len(out) > 1 else np.zeros_like(mean))

    def _cached(self) -> bool:
        """Whether predictions use the checkpoint's own weights (no inner step), so the graph part's rows come
        from the process cache (:func:`~surrogate_nas.meta.pooled.pooled_rows`)."""
        return self.steps_ == 0

    def _kernel(self) -> str:
        return self.ckpt_.meta.get("kernel", "rbf")

    def _pooled(self, inputs: PredictInputs, graph: bool = False) -> torch.Tensor:
        if inputs.tile is not None:  # repeated inputs: their rows repeated
            base, times = inputs.tile
            return self._pooled(base, graph).repeat(times, 1)
        return pooled_rows(self.ckpt_.model, self.space_, inputs.archs, self.device, graph, inputs.graphs, self.BATCH)

    def batches(self, archs) -> list[tuple]:
        """The network's inputs for ``archs`` in batches of :attr:`BATCH` (graphs and input columns); members of an
        ensemble that read the same columns share them (the ensemble shares a :class:`PredictInputs`, which builds
        these only for members that need the full forward pass)."""
        return PredictInputs(self, archs).batches()

    def input_key(self) -> tuple:
        """What :meth:`batches` depends on besides the architectures."""
        return (
            self.space_.name,
            tuple(self.sources_.tasks),
            self.sources_.metric,
            self.sources_.higher_is_better,
            tuple(self.features_.names) if self.features_ is not None else (),
            self.device,
        )

    def _std_scale(self) -> float:
        """Factor from the GP's std (z units) to the reported std (target units): LOO calibration, anchoring, the
        slope of the rank-residual value map."""
        return self.std_factor_ / self.z_scale_ * self.y_std_ * self.value_map_[1]

    # ------------------------------------------------------------------ joint posterior
    def predict_cov(self, archs: Sequence[Architecture | str]) -> tuple[np.ndarray, np.ndarray]:
        """(mean [n], cov [n, n]) of the *noise-free* values at ``archs`` jointly, in the units of the support
        values (numpy, float64), for batch acquisition over a candidate set (dense: meant for n up to a few
        thousand).

        With a GP head: the GP posterior ``K(e, e) - v^T v``, ``v = L^-1 K(x_support, e)`` (``L`` the Cholesky factor
        of the support covariance + noise), scaled like ``predict``'s std (LOO calibration, anchoring, target
        scale: the variance by its square); the mean is ``predict``'s. It holds no observation noise, so its
        diagonal + :meth:`noise_variance` equals ``predict(archs, return_std=True)``'s std squared.
        Without one: the covariance (1/M, as ``predict``'s std) of the ``n_members`` bootstrap members'
        predictions, whose diagonal is that std squared (:meth:`noise_variance` is 0); the mean is ``predict``'s.
        Symmetric and positive semi-definite up to float rounding (add a small jitter before a Cholesky)."""
        self._check_fitted()
        return self._predict_cov([self.space_.coerce(a) for a in archs])

    def _predict_cov(self, archs: list, inputs=None) -> tuple[np.ndarray, np.ndarray]:
        self._refuse_zero_shot_std()  # no std, no covariance
        if not archs:
            return np.zeros(0), np.zeros((0, 0))
        if self.gp_ is None:
            return members.covariance(self, self._inputs(archs, inputs))
        return gp_head.joint_posterior(self, self._inputs(archs, inputs))

    def noise_variance(self) -> float:
        """Variance (units of the support values, squared) that ``predict(..., return_std=True)``'s std squared
        holds beyond :meth:`predict_cov`'s diagonal: the GP likelihood's noise, scaled as the std is (the std is
        that of a measured value); 0 without a GP head."""
        self._check_fitted()
        return 0.0 if self.gp_ is None else gp_head.noise_variance(self)

    def _quiet(self) -> bool | None:
        """tqdm's ``disable``: None = only on a terminal."""
        return None if self.progress is None else not self.progress

    def _to_y(self, out: np.ndarray) -> np.ndarray:
        shift, slope = self.value_map_
        return self.y_scale_.inverse((shift + slope * out - self.z_shift_) / self.z_scale_)


def adapt(
    checkpoint: Checkpoint | str | os.PathLike,
    support,
    sources: SourceValues | None = None,
    *,
    task: str | None = None,
    **kwargs,
) -> MetaGNNPredictor:
    """Adapt ``checkpoint`` to a new task from ``support`` = (archs, values) or a DataFrame (arch, value).

    ``task`` names the support's task (refused if the checkpoint read its values); other keyword
    options are those of :class:`MetaGNNPredictor`.
    """
    import pandas as pd

    if isinstance(support, pd.DataFrame):
        missing = [c for c in ("arch", "value") if c not in support.columns]
        if missing:
            raise DataError(f"support table: missing column(s) {', '.join(missing)} (need arch, value)")
        archs, y = support["arch"].tolist(), support["value"].to_numpy()
    else:
        archs, y = support
    check_options("adapt", MetaGNNPredictor.__init__, kwargs)
    return MetaGNNPredictor(checkpoint, sources=sources, task=task, **kwargs).fit(archs, y)
