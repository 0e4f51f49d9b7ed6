"""Few-shot adaptation of a meta-trained checkpoint to a new task: ``adapt(checkpoint, support)``."""

from __future__ import annotations

import copy
import math
import numbers
import os
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..benchmarks import cached_benchmark, check_isolation
from ..benchmarks.ranks import spearman
from ..errors import DataError, SurrogateNASError
from ..graphs import to_batch
from ..predictors.base import check_options
from ..predictors.gnn import functional_forward, graph_inputs
from ..predictors.inputs import FreeFeatureValues, SourceValues, input_columns, support_correlations
from ..predictors.support import scale_targets, validate_support
from ..spaces import Architecture, SearchSpace, get_space
from .checkpoint import Checkpoint, load_checkpoint
from .inner import MAX_INNER_STEPS, deployment_steps, inner_loop

if TYPE_CHECKING:  # gpytorch is imported when a GP head is used
    from .deep_kernel import ResidualGP

__all__ = ["MetaGNNPredictor", "PredictInputs", "STEP_CHOICES", "adapt", "clear_pooled_cache", "validate_support"]

#: Inner-step counts ``inner_steps="cv"`` chooses from.
STEP_CHOICES = (0, 1, 2, 3, 5, 8, 12, 20)
#: Bound of ``n_members`` (each member is one more adaptation).
MAX_MEMBERS = 100
TARGETS = ("support", "anchored")
#: Bounds of the held-out std calibration factor (:meth:`MetaGNNPredictor._held_out_std_factor`).
STD_FACTOR_RANGE = (0.25, 20.0)


def _benchmark_table(ckpt: Checkpoint):
    """The checkpoint's benchmark records, from the one per-process cache
    (:func:`~surrogate_nas.benchmarks.cached_benchmark`: each adaptation, and each ensemble member, would
    otherwise parse NB-201 again, most of an adaptation's time; a re-imported user table is read again)."""
    return cached_benchmark(ckpt.sources["benchmark"])


#: Source values per (table, tasks, metric, higher_is_better), valid while the cache holds that table.
_SOURCES: dict[tuple, tuple[object, SourceValues]] = {}


def _sources_for(ckpt: Checkpoint, sources: SourceValues | None) -> SourceValues:
    """The source values the checkpoint reads (or the caller's), built once per table read (ranking every
    source task's records took ~20% of a 20-architecture fit + whole-space predict)."""
    if sources is not None:
        return sources
    cfg = ckpt.sources
    if not cfg.get("tasks"):
        return SourceValues(None, ())
    table = _benchmark_table(ckpt)
    key = (cfg["benchmark"], tuple(cfg["tasks"]), cfg["metric"], cfg.get("higher_is_better", True))
    hit = _SOURCES.get(key)
    if hit is not None and hit[0] is table:
        return hit[1]
    out = SourceValues(table, *key[1:])
    _SOURCES[key] = (table, out)
    return out


def _features_for(ckpt: Checkpoint, features: FreeFeatureValues | None, task: str | None) -> FreeFeatureValues | None:
    """The free features the checkpoint was meta-trained with, read for ``task`` (or the caller's, if the same)."""
    names = list(ckpt.sources.get("features") or [])
    if features is not None:
        if list(features.names) != names:
            raise DataError(
                f"the checkpoint reads free features {names or 'none'}, but features={list(features.names)} was given"
            )
        return features
    if not names:
        return None
    return FreeFeatureValues(_benchmark_table(ckpt), task, tuple(names), ckpt.target_metric)


def tasks_read(ckpt: Checkpoint, sources: SourceValues | None = None) -> list[str]:
    """Every task whose values reach a prediction: the checkpoint's source, training and validation tasks
    (and those of ``sources``, when the caller supplies its own)."""
    names = (
        list(ckpt.sources.get("tasks") or [])
        + list(ckpt.info.get("train_tasks") or [])
        + list(ckpt.info.get("val_tasks") or [])
        + list(sources.tasks if sources is not None else ())
    )
    return list(dict.fromkeys(str(n) for n in names))


# ---------------------------------------------------------------------- pooled graph rows, cached per model
#: Per checkpoint model (weakly: dropped with the model), per (space, device, graph encoding): the rows of
#: :meth:`~surrogate_nas.predictors.gnn.GraphRegressor.pool` (message passing + pooling; then the raw graph
#: encoding, for ``*+graph`` GP kernels) of every architecture predicted so far. They depend on the weights and the
#: graph only, so a predictor that predicts with the checkpoint's own weights (no inner step, the deep-kernel
#: default) computes each architecture's once per process, however many fits and predictions a search makes.
_POOLED: weakref.WeakKeyDictionary[torch.nn.Module, dict] = weakref.WeakKeyDictionary()
_POOLED_LOCK = threading.Lock()


class _PooledRows:
    """One model's cached rows: ``index`` (architecture -> row of ``rows``), valid while ``stamp`` holds."""

    def __init__(self, stamp: tuple):
        self.stamp = stamp
        self.index: dict[Architecture, int] = {}
        self.rows: torch.Tensor | None = None


def _weights_stamp(model: torch.nn.Module) -> tuple:
    """Changes when a weight of ``model`` is replaced or modified in place (an optimiser step, ``load_state_dict``):
    rows computed with the old weights are dropped then."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def pooled_rows(model, space, archs: Sequence[Architecture], device, graph: bool, convert, batch: int) -> torch.Tensor:
    """[len(archs), w] rows of ``model.pool`` under the model's own weights (then the raw graph encoding, with
    ``graph``), from the process cache; the architectures it lacks are converted by ``convert`` (archs -> (x,
    edge_index, batch, num_graphs)) and run through the graph part in chunks of ``batch``, then kept."""
    from .deep_kernel import graph_encoding

    with _POOLED_LOCK:
        per_model = _POOLED.setdefault(model, {})
        key = (space.name, str(device), bool(graph))
        stamp = _weights_stamp(model)
        entry = per_model.get(key)
        if entry is None or entry.stamp != stamp:
            entry = per_model[key] = _PooledRows(stamp)
        index = entry.index
        rows = [index.get(a, -1) for a in archs]
        missing = list(dict.fromkeys(a for a, r in zip(archs, rows) if r < 0)) if -1 in rows else []
        if missing:
            new = [] if entry.rows is None else [entry.rows]
            with torch.no_grad():
                for i in range(0, len(missing), batch):
                    inputs = convert(missing[i : i + batch])
                    g = model.pool(*inputs[:4])
                    if graph:
                        g = torch.cat([g, graph_encoding(inputs, model.embed.num_embeddings)], 1)
                    new.append(g)
            start = 0 if entry.rows is None else len(entry.rows)
            entry.rows = torch.cat(new)
            index.update(zip(missing, range(start, start + len(missing))))
            rows = [r if r >= 0 else index[a] for a, r in zip(archs, rows)]
        if entry.rows is None:  # nothing asked for and nothing cached: no width to give an empty result
            raise DataError("pooled_rows needs at least one architecture")
        return entry.rows[torch.as_tensor(rows, dtype=torch.long, device=entry.rows.device)]


def clear_pooled_cache() -> None:
    """Drop every cached pooled row (they are also dropped with their model, or when its weights change)."""
    with _POOLED_LOCK:
        _POOLED.clear()


class PredictInputs:
    """What one prediction over ``archs`` reads besides the weights, built on demand and kept for the call: the input
    columns (read once), the full graph batches (:meth:`MetaGNNPredictor.batches`, for adapted weights) and the
    graphs of the architectures a pooled-row cache lacks. Members of an ensemble that read the same inputs (same
    :meth:`MetaGNNPredictor.input_key`) share one, so each of these is built once for all of them."""

    def __init__(
        self,
        predictor: MetaGNNPredictor,
        archs: Sequence[Architecture],
        src: np.ndarray | None = None,
        batches: list[tuple] | None = None,
    ):
        self.archs = list(archs)
        self._space, self._device, self._batch = predictor.space_, predictor.device, predictor.BATCH
        self._columns = predictor._columns
        if src is None and batches is not None:
            src = np.concatenate([b[4].cpu().numpy() for b in batches]) if batches else None
        self._src = src
        self._batches = batches
        self._graphs: dict[tuple, tuple] = {}

    @property
    def src(self) -> np.ndarray:
        """The input columns [n, S] (source-task values, then free features)."""
        if self._src is None:
            self._src = self._columns(self.archs)
        return self._src

    def batches(self) -> list[tuple]:
        """The network's full inputs in chunks of ``BATCH`` (see :func:`~surrogate_nas.predictors.gnn.graph_inputs`)."""
        if self._batches is None:
            src, b = self.src, self._batch
            self._batches = [
                graph_inputs(self._space, self.archs[i : i + b], src[i : i + b], self._device)
                for i in range(0, len(self.archs), b)
            ]
        return self._batches

    def graphs(self, archs: Sequence[Architecture]) -> tuple:
        """(x, edge_index, batch, num_graphs) of ``archs`` (kept: members lacking the same rows convert them once)."""
        key = tuple(archs)
        if key not in self._graphs:
            b, d = to_batch(self._space, archs), self._device
            self._graphs[key] = (b.x.to(d), b.edge_index.to(d), b.batch.to(d), len(archs))
        return self._graphs[key]


def check_finite_weights(ckpt: Checkpoint, where: str = "checkpoint") -> None:
    """Refuse a checkpoint whose weights (or learned inner learning rates) hold NaN/inf."""
    tensors = (
        list(ckpt.model.named_parameters())
        + [(f"inner_lr.{k}", v) for k, v in (ckpt.inner_lrs or {}).items()]
        + [(f"gp.{k}", v) for k, v in (ckpt.gp or {}).items()]
    )
    for name, v in tensors:
        if not torch.isfinite(v).all():
            raise DataError(
                f"{where}: weight {name!r} holds NaN/inf values; the checkpoint is corrupt (pretrain it again)"
            )


class MetaGNNPredictor:
    """A meta-trained GNN adapted on K measured architectures (scikit-learn style).

    ``fit(archs, y)`` runs the inner loop from the meta-learned initialisation on the support set
    (the checkpoint's module is never modified); ``predict(archs)`` returns predictions in the
    units of ``y``; ``predict(archs, return_std=True)`` also returns the std over ``n_members``
    bootstrap members (each adapted on a resample of the support; zeros with ``n_members=0``).

    ``task`` names the task the support was measured on; ``fit`` refuses it when the checkpoint read
    that task's values (as a source, training or validation task). Without a name, a support whose
    values rank like one of those tasks' records is refused (see
    :func:`~surrogate_nas.benchmarks.check_isolation`).

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
    maximum likelihood. ``predict(..., return_std=True)`` then returns the GP's predictive std, scaled (with
    ``calibrate``, the default) by the RMS of the z-scores of support points predicted by fits that never saw
    them (leave-one-out, K-fold for large supports: :meth:`_held_out_std_factor`), so intervals match the
    target's own errors.

    ``targets``: how the support values are put on the network's scale before adaptation.
    ``"support"`` (meta-training's convention) z-scores them over the support set, which assumes
    a support drawn at random from the task. ``"anchored"`` is for *selected* supports, such as
    the measurements of a search that has climbed to the top of the space: the z-scores are
    rescaled to the mean and spread of the meta-learned initialisation's own predictions on the
    support, so adaptation learns corrections within that region instead of dragging the whole
    space towards the support's mean (which, for a top-heavy support, inverts the source prior).

    ``predict_cov(archs)`` returns the joint posterior (mean and covariance of the noise-free values) of a
    candidate batch, for batch acquisition; :meth:`noise_variance` is what ``predict``'s std adds to its diagonal.

    With the checkpoint's own weights (no inner step: the deep-kernel default, or ``inner_steps=0``) the graph
    part of the network (:meth:`~surrogate_nas.predictors.gnn.GraphRegressor.pool`) is computed once per
    architecture and process, and reused across fits and predictions (:func:`pooled_rows`); only the source
    encoding, transfer prior, head and GP posterior run again, since they read the support's correlations.
    """

    #: ``predict(..., return_std=True)`` returns a real std (GP posterior, or bootstrap members).
    has_uncertainty = True

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
    calibrate: bool
    space_: SearchSpace
    gp_: ResidualGP | None
    members_: list[tuple[dict, torch.Tensor]] | None

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
        calibrate: bool = True,
    ) -> None:
        if targets not in TARGETS:
            raise DataError(f"targets must be 'support' or 'anchored', got {targets!r}")
        if inner_steps not in (None, "cv") and (
            isinstance(inner_steps, bool)
            or not isinstance(inner_steps, numbers.Integral)
            or not 0 <= inner_steps <= MAX_INNER_STEPS
        ):
            raise SurrogateNASError(
                f"inner_steps must be 'cv' or an integer in 0..{MAX_INNER_STEPS}, got {inner_steps!r}"
            )
        if inner_lr is not None and (
            isinstance(inner_lr, bool)
            or not isinstance(inner_lr, numbers.Real)
            or not math.isfinite(inner_lr)
            or inner_lr <= 0
        ):
            raise SurrogateNASError(f"inner_lr must be a finite number > 0, got {inner_lr!r}")
        if (
            isinstance(n_members, bool)
            or not isinstance(n_members, numbers.Integral)
            or not 0 <= n_members <= MAX_MEMBERS
        ):
            raise SurrogateNASError(f"n_members must be an integer in 0..{MAX_MEMBERS}, got {n_members!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise SurrogateNASError(f"seed must be an integer >= 0, got {seed!r}")
        if (
            isinstance(gp_steps, bool)
            or not isinstance(gp_steps, numbers.Integral)
            or not 0 <= gp_steps <= MAX_INNER_STEPS
        ):
            raise SurrogateNASError(f"gp_steps must be an integer in 0..{MAX_INNER_STEPS}, got {gp_steps!r}")
        if task is not None and (not isinstance(task, str) or not task.strip()):
            raise SurrogateNASError(f"task must be a task name, got {task!r}")
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
        if not isinstance(calibrate, bool):
            raise SurrogateNASError(f"calibrate must be true or false, got {calibrate!r}")
        self.calibrate = calibrate

    # ------------------------------------------------------------------ fit
    def fit(self, archs: Sequence[Architecture | str], y) -> MetaGNNPredictor:
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
        self.ckpt_ = ckpt
        self.space_ = space = ckpt.space
        archs, y = validate_support(space, archs, y)
        self.sources_ = _sources_for(ckpt, self.sources)
        self._check_isolation(archs, y)
        self.features_ = _features_for(ckpt, self.features, self.task)
        src = self._columns(archs)
        self._fit_support(archs, y, src)
        self.std_factor_ = 1.0
        if self.gp_ is not None and self.calibrate:
            self.std_factor_ = self._held_out_std_factor(archs, y, src)
        return self

    def _fit_support(self, archs: list, y: np.ndarray, src: np.ndarray) -> None:
        """Everything a support determines: target scale, source correlations, anchoring, inner steps, adapted
        weights, the conditioned GP. ``src``: the support's input columns (they do not depend on ``y``)."""
        ckpt, space = self.ckpt_, self.space_
        self.y_scale_ = scale_targets(y, "support set", ckpt.meta.get("target_scale", "zscore"))
        self.y_mean_, self.y_std_ = self.y_scale_.centre, self.y_scale_.spread
        z = self.y_scale_.transform(y)
        self.corr_ = self._corr(src, z)
        self.base_params_ = {k: v.detach() for k, v in ckpt.model.named_parameters()}
        self.z_shift_, self.z_scale_ = 0.0, 1.0
        if self.targets == "anchored":
            self.z_shift_, self.z_scale_ = self._anchor(archs, src, self.corr_)
            z = z * self.z_scale_ + self.z_shift_
        self.support_ = (archs, z, src)
        if self.inner_steps == "cv":
            self.steps_ = self._select_steps(archs, z, src) if len(archs) >= 6 else deployment_steps(ckpt.meta)
        elif self.inner_steps is None:
            self.steps_ = deployment_steps(ckpt.meta)
        else:
            self.steps_ = int(self.inner_steps)
        if self.steps_ == 0:  # the checkpoint's own weights: the GP reads the cached graph rows, no batch needed
            self.params_, support = self.base_params_, PredictInputs(self, archs, src)
        else:
            inputs = graph_inputs(space, archs, src, self.device)
            self.params_ = self._adapt(inputs, z, self.corr_, self.steps_)[-1]
            support = PredictInputs(self, archs, src, [inputs])
        self.members_ = None
        self.gp_ = self._condition(support, z) if ckpt.gp is not None else None
        self.std_factor_ = 1.0

    #: Supports up to this size are calibrated leave-one-out; larger ones by :attr:`CALIBRATION_FOLDS`-fold.
    LOO_MAX = 20
    CALIBRATION_FOLDS = 10

    def _held_out_std_factor(self, archs: list, y: np.ndarray, src: np.ndarray) -> float:
        """The std calibration factor from points the fit never saw: the RMS of ``(y_i - mean_i) / std_i`` where
        ``mean_i``, ``std_i`` (predictive, noise included) come from a fit on the support without point ``i`` --
        target scale, source correlations, anchoring, adapted weights and GP all recomputed without it.
        Leave-one-out up to :attr:`LOO_MAX` points, :attr:`CALIBRATION_FOLDS`-fold (shuffled with ``seed``)
        above; clipped to :data:`STD_FACTOR_RANGE`; 1.0 below 3 points."""
        n = len(archs)
        if n < 3:
            return 1.0
        if n <= self.LOO_MAX:
            folds = [np.array([i]) for i in range(n)]
        else:
            perm = np.random.default_rng([self.seed, n]).permutation(n)
            folds = np.array_split(perm, self.CALIBRATION_FOLDS)
        z = []
        fold_fit = copy.copy(self)  # refitted on parts of the support: its fitted state is its own
        fold_fit.calibrate = False
        for held in folds:
            train = np.setdiff1d(np.arange(n), held)
            if np.ptp(y[train]) == 0:
                continue
            try:
                fold_fit._fit_support([archs[i] for i in train], y[train], src[train])
                mean, std = fold_fit._predict(
                    [archs[i] for i in held], True, PredictInputs(fold_fit, [archs[i] for i in held], src[held])
                )
            except DataError:
                continue
            z.extend((y[held] - mean) / np.maximum(std, 1e-12))
        if not z:
            return 1.0
        f = float(np.sqrt(np.mean(np.square(z))))
        lo, hi = STD_FACTOR_RANGE
        return min(max(f, lo), hi) if np.isfinite(f) else 1.0

    def _condition(self, inputs: PredictInputs, z):
        """The checkpoint's GP head conditioned on the support's residuals from the (adapted) GNN."""
        from .deep_kernel import condition, fit_hyperparameters, make_gp

        gp = make_gp(self.ckpt_.model.embedding_dim(), self._kernel(), self.ckpt_.gp, self.space_).to(self.device)
        m, e = self._gp_embed_all(inputs)
        r = torch.as_tensor(np.asarray(z), dtype=torch.float32, device=self.device) - m
        if self.gp_steps:
            return fit_hyperparameters(gp, e, r, self.gp_steps)
        return condition(gp, e, r)

    def _check_isolation(self, archs, y) -> None:
        read = tasks_read(self.ckpt_, self.sources)
        if self.task is not None:
            check_isolation(self.task, read, where="adapt")
            return
        table = self.sources_.table
        metric = self.sources_.metric if table is not None else self.ckpt_.sources.get("metric")
        if table is None and read and self.ckpt_.sources.get("benchmark"):
            table = _benchmark_table(self.ckpt_)  # a checkpoint without source features still read its tasks
        check_isolation(
            None, read, where="adapt", table=table, metric=metric or self.ckpt_.target_metric, support=(archs, y)
        )

    def _columns(self, archs) -> np.ndarray:
        return input_columns(self.sources_, self.features_, self.space_, archs)

    def _corr(self, src, z) -> torch.Tensor:
        return torch.as_tensor(support_correlations(src, np.asarray(z)), dtype=torch.float32, device=self.device)

    #: Floor of the anchored spread (network units): the initialisation may see a support as nearly tied.
    ANCHOR_MIN_SCALE = 0.05

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

    def _select_steps(self, archs, z, src) -> int:
        from sklearn.model_selection import KFold
        from tqdm.auto import tqdm

        n = len(archs)
        preds = np.zeros((len(STEP_CHOICES), n))
        kfold = KFold(n_splits=min(5, n // 2), shuffle=True, random_state=self.seed)
        folds = tqdm(
            kfold.split(np.arange(n)),
            total=kfold.get_n_splits(),
            desc="inner steps by CV",
            disable=self._quiet(),
            leave=False,
            delay=2,
        )
        for train, held in folds:
            zt = z[train]
            if np.ptp(zt) == 0:
                continue
            zt = scale_targets(zt, "inner-step CV fold").transform(zt)
            corr = self._corr(src[train], zt)  # the held-out fold's values stay out of its inputs
            t_archs = [archs[i] for i in train]
            if self.targets == "anchored":
                shift, scale = self._anchor(t_archs, src[train], corr)
                zt = zt * scale + shift
            inputs = graph_inputs(self.space_, t_archs, src[train], self.device)
            states = self._adapt(inputs, zt, corr, max(STEP_CHOICES), keep=STEP_CHOICES)
            h_inputs = graph_inputs(self.space_, [archs[i] for i in held], src[held], self.device)
            for j, params in enumerate(states):
                preds[j, held] = self._forward(params, h_inputs, corr)
        scores = [spearman(p, z) if np.ptp(p) > 0 else -1.0 for p in preds]
        scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-1.0)
        return int(STEP_CHOICES[int(np.argmax(scores))])

    # ------------------------------------------------------------------ predict
    def _forward(self, params, inputs, corr) -> np.ndarray:
        with torch.inference_mode():
            return functional_forward(self.ckpt_.model, params, inputs, corr).cpu().numpy().astype(float)

    #: Architectures per forward batch in ``predict`` (bounds memory on large spaces).
    BATCH = 32768

    def predict(self, archs: Sequence[Architecture | str], return_std: bool = False, latent: bool = False):
        """Predictions [n] in the units of the support values; with ``return_std``, also a std [n]: the GP's
        predictive std of a *measured* value (the posterior of the noise-free value plus the likelihood's
        noise, calibrated, see :meth:`noise_variance`), or the spread of the bootstrap members without a GP head.
        ``latent``: the std of the noise-free value instead (what acquisition scores; the square root of
        :meth:`predict_cov`'s diagonal). The bootstrap spread holds no observation noise: the same either way."""
        self._check_fitted()
        return self._predict([self.space_.coerce(a) for a in archs], return_std, latent=latent)

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise DataError("predict() called before fit(): adapt the predictor on support measurements first")

    def _inputs(self, archs, inputs=None) -> PredictInputs:
        if isinstance(inputs, PredictInputs):
            return inputs
        return PredictInputs(self, archs, batches=inputs)  # inputs: None, or batches() of archs

    def _predict(self, archs: list, return_std: bool, inputs=None, latent: bool = False):
        """:meth:`predict` on coerced ``archs``; ``inputs``: their :class:`PredictInputs` (shared in an ensemble)."""
        if not archs:
            return (np.zeros(0), np.zeros(0)) if return_std else np.zeros(0)
        if self.gp_ is not None:
            return self._predict_gp(archs, return_std, inputs, latent)
        out = self._member_outputs(archs, return_std, inputs)
        mean = out[0]
        if not return_std:
            return mean
        return mean, (out[1:].std(0) if len(out) > 1 else np.zeros_like(mean))

    def _cached(self) -> bool:
        """Whether predictions use the checkpoint's own weights (no inner step), so the graph part's rows come
        from the process cache (:func:`pooled_rows`)."""
        return self.steps_ == 0

    def _kernel(self) -> str:
        return self.ckpt_.meta.get("kernel", "rbf")

    def _pooled(self, inputs: PredictInputs, graph: bool = False) -> torch.Tensor:
        return pooled_rows(self.ckpt_.model, self.space_, inputs.archs, self.device, graph, inputs.graphs, self.BATCH)

    def _member_outputs(self, archs, with_members: bool, inputs=None) -> np.ndarray:
        """[1 + members, n] predictions (target units) of the adapted network, then (``with_members``) of each
        bootstrap member; no GP head."""
        inputs = self._inputs(archs, inputs)
        if with_members and self.members_ is None:
            self.members_ = self._bootstrap()
        models = [(self.params_, self.corr_)] + (list(self.members_ or []) if with_members else [])
        out = np.empty((len(models), len(archs)))
        if self._cached():  # members adapt with the same (zero) steps: the checkpoint's own weights too
            rows, src, model = self._pooled(inputs), inputs.src, self.ckpt_.model
            with torch.no_grad():
                for i in range(0, len(archs), self.BATCH):
                    g = rows[i : i + self.BATCH]
                    s = torch.as_tensor(src[i : i + self.BATCH], dtype=torch.float32, device=self.device)
                    for j, (_, corr) in enumerate(models):
                        out[j, i : i + len(g)] = model.readout(g, s, corr, len(g)).cpu().numpy()
        else:
            i = 0
            for batch in inputs.batches():
                for j, (params, corr) in enumerate(models):
                    out[j, i : i + batch[3]] = self._forward(params, batch, corr)
                i += batch[3]
        out = self._to_y(out)
        bad = np.flatnonzero(~np.isfinite(out).all(0))
        if len(bad):
            raise DataError(
                f"the adapted model predicts a non-finite value for {len(bad)} of {len(archs)} "
                f"architectures (first: {self.space_.format(archs[bad[0]])!r}); try fewer inner steps "
                "or a smaller inner learning rate"
            )
        return out

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

    def _gp_embed(self, inputs: PredictInputs):
        """Yields (start, the GNN's prediction [b], the GP's input [b, d]) over ``inputs.archs`` in chunks of
        :attr:`BATCH` (z units, no gradients)."""
        from .deep_kernel import gp_inputs

        kernel, model = self._kernel(), self.ckpt_.model
        if self._cached():
            graph = kernel.endswith("+graph")
            rows, src, w = self._pooled(inputs, graph), inputs.src, model.pool_dim()
            for i in range(0, len(rows), self.BATCH):
                r = rows[i : i + self.BATCH]
                s = torch.as_tensor(src[i : i + self.BATCH], dtype=torch.float32, device=self.device)
                with torch.no_grad():
                    m, e = model.readout(r[:, :w], s, self.corr_, len(r), embed=True)
                    if graph:
                        e = torch.cat([e, r[:, w:]], 1)  # as gp_inputs appends the graph encoding
                yield i, m, e
        else:
            i = 0
            for batch in inputs.batches():
                with torch.no_grad():
                    m, e = gp_inputs(model, self.params_, batch, self.corr_, kernel)
                yield i, m, e
                i += batch[3]

    def _gp_embed_all(self, inputs: PredictInputs) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [(m, e) for _, m, e in self._gp_embed(inputs)]
        return torch.cat([m for m, _ in parts]), torch.cat([e for _, e in parts])

    def _std_scale(self) -> float:
        """Factor from the GP's std (z units) to the reported std (target units): LOO calibration, anchoring."""
        return self.std_factor_ / self.z_scale_ * self.y_std_

    def _predict_gp(self, archs, return_std: bool, inputs=None, latent: bool = False):
        from .deep_kernel import posterior

        inputs = self._inputs(archs, inputs)
        mean, std = np.empty(len(archs)), np.empty(len(archs))
        assert self.gp_ is not None  # only called with a GP head
        for i, m, e in self._gp_embed(inputs):
            mu, sd = posterior(self.gp_, e, noise=not latent)
            mean[i : i + len(m)] = (m + mu).cpu().numpy()
            std[i : i + len(m)] = sd.cpu().numpy()
        mean = self._to_y(mean)
        std = std * self._std_scale()
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
        if len(bad):
            raise DataError(
                f"the adapted model predicts a non-finite value for {len(bad)} of {len(archs)} "
                f"architectures (first: {self.space_.format(archs[bad[0]])!r})"
            )
        return (mean, std) if return_std else mean

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
        n = len(archs)
        if not n:
            return np.zeros(0), np.zeros((0, 0))
        if self.gp_ is None:
            out = self._member_outputs(archs, True, inputs)
            d = out[1:] - out[1:].mean(0) if len(out) > 1 else np.zeros((1, n))
            return out[0], d.T @ d / len(d)
        from .deep_kernel import posterior_cov

        m, e = self._gp_embed_all(self._inputs(archs, inputs))
        mu, cov_t = posterior_cov(self.gp_, e)
        mean = self._to_y((m + mu).cpu().numpy().astype(float))
        cov = cov_t.cpu().numpy() * self._std_scale() ** 2
        if not (np.isfinite(mean).all() and np.isfinite(cov).all()):
            raise DataError(f"the adapted model's joint posterior over {n} architectures holds non-finite values")
        return mean, cov

    def noise_variance(self) -> float:
        """Variance (units of the support values, squared) that ``predict(..., return_std=True)``'s std squared
        holds beyond :meth:`predict_cov`'s diagonal: the GP likelihood's noise, scaled as the std is (the std is
        that of a measured value); 0 without a GP head."""
        self._check_fitted()
        if self.gp_ is None:
            return 0.0
        return float(self.gp_.likelihood.noise.detach().reshape(-1)[0]) * self._std_scale() ** 2

    def _quiet(self) -> bool | None:
        """tqdm's ``disable``: None = only on a terminal."""
        return None if self.progress is None else not self.progress

    def _to_y(self, out: np.ndarray) -> np.ndarray:
        return self.y_scale_.inverse((out - self.z_shift_) / self.z_scale_)

    def _bootstrap(self) -> list[tuple[dict, torch.Tensor]]:
        """``n_members`` adaptations, each on a bootstrap resample of the support (with its own source correlations).

        Resamples are drawn with a seeded ``numpy.random.Generator`` (``choice`` with replacement, as
        ``sklearn.utils.resample`` does): importing scikit-learn would add ~1.3 s to every cold ``predict``.
        """
        from tqdm.auto import tqdm

        archs, z, src = self.support_
        rng = np.random.default_rng(self.seed + 1)
        members = []
        for _ in tqdm(range(self.n_members), desc="bootstrap members", disable=self._quiet(), leave=False, delay=2):
            for _ in range(20):
                idx = rng.choice(len(archs), size=len(archs), replace=True)
                if np.ptp(z[idx]) > 0:
                    corr = self._corr(src[idx], z[idx])
                    inputs = graph_inputs(self.space_, [archs[i] for i in idx], src[idx], self.device)
                    members.append((self._adapt(inputs, z[idx], corr, self.steps_)[-1], corr))
                    break
        return members


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
