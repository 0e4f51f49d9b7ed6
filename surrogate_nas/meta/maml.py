"""Functional meta-learning of the GNN regressor: MAML (2nd / 1st order), Meta-SGD, Reptile, multi-task.

Parameters live in a dict and the module is only ever called through
``torch.func.functional_call``; adaptation never mutates the module's own weights. The inner loop
is :func:`surrogate_nas.meta.inner.inner_loop`, the same one ``adapt`` deploys.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, Self, get_args

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from tqdm.auto import tqdm

from ..predictors.gnn import GraphRegressor, regression_rank_loss
from ..predictors.gnn import functional_forward as forward
from ..predictors.metrics import kendall_tau
from ..predictors.support import ScaleName
from ..typed import Float, Int, Seed, TypedConfig
from .defaults import DEFAULT_MEMBERS, DEFAULT_META, default_meta
from .inner import MAX_INNER_STEPS, deployment_steps, inner_loop
from .tasks import Episode, EpisodeSampler, Task

__all__ = [
    "ALGORITHMS",
    "DEFAULT_MEMBERS",
    "DEFAULT_META",
    "KERNELS",
    "default_meta_config",
    "MAX_INNER_STEPS",
    "MetaConfig",
    "MetaLearner",
    "forward",
    "regression_rank_loss",
    "shared_holdout",
]


#: The largest meta-training runs and seeds the configuration accepts (a typo such as ``--iterations 10**30`` is
#: refused in one line instead of running until it is killed; seeds: typed.Seed).
MAX_ITERATIONS = 1_000_000
MAX_BATCH = 4096

AlgorithmName = Literal["maml", "reptile", "multitask", "dkt"]
KernelName = Literal["rbf", "matern", "linear", "rbf+graph", "auto"]
MetaValName = Literal["task", "task-seed", "archs"]
DKTObjectiveName = Literal["marginal", "predictive"]


class MetaConfig(TypedConfig):
    """How the initialisation is learned and how it is adapted.

    Every field is checked on construction and assignment (a bad value raises one :class:`SurrogateNASError`
    naming it); ``inner_steps`` and ``reptile_steps`` are at most :data:`MAX_INNER_STEPS`. A checkpoint's
    ``config.json`` ``meta`` block is checked with this same model when it is loaded.
    """

    what: ClassVar[str] = "meta config"

    algorithm: AlgorithmName = Field(
        "maml",
        description="meta-learning algorithm (dkt: deep-kernel GP head on the GNN embedding; multitask: the "
        "non-meta ablation)",
    )
    first_order: bool = Field(False, description="first-order MAML (no second derivatives)")
    meta_sgd: bool = Field(False, description="learn one inner learning rate per parameter entry")
    inner_steps: Int = Field(5, ge=0, le=MAX_INNER_STEPS, description="inner-loop SGD steps on the support set")
    inner_lr: Float = Field(0.05, gt=0, description="inner-loop learning rate")
    outer_lr: Float = Field(1e-3, gt=0, description="outer-loop (Adam) learning rate")
    gp_lr: Float | None = Field(
        None, gt=0, description="outer learning rate of the GP head's hyper-parameters (dkt); None: outer_lr"
    )
    gp_prior_sd: Float | None = Field(
        None,
        gt=0,
        description="dkt: sd of log-normal priors on the GP head's lengthscales and noise, centred on their starting "
        "values, added to each episode's meta-training objective; None: none",
    )
    meta_batch: Int = Field(4, ge=1, le=MAX_BATCH, description="tasks per meta-batch")
    iterations: Int = Field(400, ge=1, le=MAX_ITERATIONS, description="meta-training iterations")
    support_range: tuple[Int, Int] = (5, 50)
    query_size: Int = Field(128, ge=1, le=100_000)
    source_dropout: Float = Field(0.3, ge=0, lt=1)  # chance to hide each source task in an episode
    rank_weight: Float = Field(1.0, ge=0)  # weight of the pairwise ranking term next to MSE
    top_weight: Float = Field(
        0.0,
        ge=0,
        le=1,
        description="share (0..1) of the query ranking loss weighted towards the top architectures; pretrain's default "
        "is 1 for a function-level metric (accuracy), 0 for a hardware one",
    )
    kernel: KernelName = Field(
        "rbf",
        description="kernel of the GP head on the GNN embedding (dkt or gp_head); pretrain's default is linear for a "
        "hardware metric (latency, params, FLOPs); auto (dkt): meta-train with each of linear and rbf and keep the "
        "checkpoint with the better meta-validation tau (other algorithms without gp_head have no kernel to choose)",
    )
    dkt_objective: DKTObjectiveName = Field(
        "marginal",
        description="dkt: what meta-training maximises per episode: marginal (the joint likelihood of support and "
        "query) or predictive (the query's likelihood given the support, as adaptation uses the GP)",
    )
    select_gp_scale: bool = Field(
        False,
        description="dkt: end meta-training by scoring multipliers of the GP's signal variance on the meta-validation "
        "episodes (adapt option gp_scale='checkpoint' reads them)",
    )
    gp_head: bool = Field(
        False, description="maml/reptile/multitask: then meta-learn a GP head on the adapted residuals"
    )
    gp_iterations: Int = Field(200, ge=1, le=MAX_ITERATIONS)  # episodes of that second stage
    grad_clip: Float = Field(1.0, gt=0)  # max norm of the meta-gradient
    reptile_steps: Int = Field(10, ge=1, le=MAX_INNER_STEPS)  # Reptile's inner steps
    target_scale: ScaleName = Field(
        "zscore", description="support targets -> the network's scale: zscore, or robust (median/IQR, clipped)"
    )
    meta_val: MetaValName = Field(
        "task",
        description="early stopping without validation tasks: task (hold one training task, drawn by the seed, out; "
        "with >= 3 tasks), task-seed (hold training task number seed mod n out, in name order, so an ensemble's "
        "consecutive meta seeds validate on different tasks) or archs (hold one set of architectures out of every "
        "task); pretrain's default is task-seed, task for a hardware metric",
    )
    val_fraction: Float = Field(0.2, gt=0, lt=1)  # share of architectures (by canonical key) held out
    val_every: Int = Field(25, ge=1, le=MAX_ITERATIONS)
    val_episodes: Int = Field(8, ge=1, le=MAX_BATCH)
    patience: Int = Field(6, ge=1, le=MAX_ITERATIONS)
    seed: Seed = Field(0, description="seed of initial weights and episode sampling")
    device: str = Field("cpu", description="torch device (cpu, cuda, cuda:1)")

    @field_validator("support_range", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        ok = (
            isinstance(v, (tuple, list))
            and len(v) == 2
            and all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in v)
            and 2 <= v[0] <= v[1]
        )
        if not ok:
            raise ValueError("must be two integers 2 <= lo <= hi")
        return (int(v[0]), int(v[1]))

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        try:
            torch.device(v)
        except (RuntimeError, ValueError):
            raise ValueError("must be a torch device name such as 'cpu', 'cuda' or 'cuda:1'") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MetaConfig:
        if self.gp_head and self.algorithm == "dkt":
            raise ValueError("gp_head adds a GP head to maml/reptile/multitask; algorithm 'dkt' has one already")
        if self.meta_sgd and self.algorithm != "maml":
            raise ValueError(f"meta_sgd learns MAML's inner learning rates; algorithm {self.algorithm!r} has none")
        if self.kernel == "auto" and self.gp_head:
            raise ValueError("kernel 'auto' chooses a deep-kernel checkpoint's kernel (algorithm 'dkt'), not gp_head's")
        return self


ALGORITHMS = get_args(AlgorithmName)
#: Kernels of the deep-kernel GP head (``algorithm="dkt"``); ``linear`` is Bayesian ridge regression on the
#: embedding (closed-form ridge head, as in R2-D2, with a posterior variance); ``auto`` is a choice among
#: :data:`AUTO_KERNELS` by meta-validation (:func:`~surrogate_nas.meta.pretrain.pretrain`), never a checkpoint's kernel.
KERNELS = get_args(KernelName)
#: The kernels ``kernel="auto"`` meta-trains a checkpoint with, in order (a tie keeps the first).
AUTO_KERNELS = ("linear", "rbf")
#: Meta-validation without validation tasks: ``task`` holds one training task (drawn by the meta seed) out of
#: the episodes when there are >= 3 (it stays a source column of the others, and a source at deployment);
#: ``task-seed`` holds training task number ``seed mod n`` (in name order) out instead, so the consecutive meta
#: seeds of an ensemble's members validate on different tasks (drawn ones can coincide); ``archs`` (and fewer
#: tasks) holds one set of architectures out of every task.
META_VAL = get_args(MetaValName)


def default_meta_config(metric: str | None = None, **overrides) -> MetaConfig:
    """The default meta-predictor's MetaConfig for predicting ``metric`` (:func:`~surrogate_nas.meta.defaults.
    default_meta`: :data:`~surrogate_nas.meta.defaults.DEFAULT_META`, a linear kernel for hardware metrics) with
    ``overrides`` (any MetaConfig field); ``pretrain`` and ``surrogate-nas pretrain`` use it when not told
    otherwise."""
    return MetaConfig(**{**default_meta(metric), **overrides})


def shared_holdout(tasks: Sequence[Task], fraction: float, rng: np.random.Generator, min_per_task: int = 8):
    """One held-out set of architectures for all tasks, by canonical key.

    Returns (train_pools, val_pools): per task, the indices of its archs outside / inside the set.
    An architecture held out of one task is held out of every task, so its values never reach
    meta-training, not even as another task's source feature.
    """
    keys = [[t.space.canonical(a) for a in t.archs] for t in tasks]
    universe = sorted(set().union(*map(set, keys)))
    order = [universe[i] for i in rng.permutation(len(universe))]
    n = max(1, int(len(universe) * fraction))
    held = set(order[:n])
    counts = [sum(k in held for k in ks) for ks in keys]
    for key in order[n:]:  # grow the one set until every task has a usable validation pool
        if all(c >= min(min_per_task, len(ks) // 2) for c, ks in zip(counts, keys)):
            break
        held.add(key)
        counts = [c + ks.count(key) for c, ks in zip(counts, keys)]
    train_pools = [np.array([i for i, k in enumerate(ks) if k not in held], dtype=int) for ks in keys]
    val_pools = [np.array([i for i, k in enumerate(ks) if k in held], dtype=int) for ks in keys]
    for t, tp, vp in zip(tasks, train_pools, val_pools):
        if len(tp) < 4 or len(vp) < 3:
            from ..errors import DataError

            raise DataError(
                f"task {t.name!r}: {len(t.archs)} architectures are too few to hold some out for "
                f"meta-validation ({len(tp)} train / {len(vp)} held out); give validation tasks instead"
            )
    return train_pools, val_pools


class MetaLearner:
    """Learns an initialisation θ (and optionally inner learning rates) over tasks."""

    def __init__(self, model: GraphRegressor, config: MetaConfig):
        self.model = model.to(config.device)
        self.config = config
        self.params: dict[str, torch.Tensor] = dict(self.model.named_parameters())
        self.inner_lrs: dict[str, torch.Tensor] | None = None
        if config.meta_sgd:
            self.inner_lrs = {
                k: torch.full_like(v, config.inner_lr, requires_grad=True) for k, v in self.params.items()
            }
        self.optimizer = torch.optim.Adam(self._outer_params(), lr=config.outer_lr)
        self.history: list[dict] = []

    def _outer_params(self) -> list[torch.Tensor]:
        return list(self.params.values()) + (list(self.inner_lrs.values()) if self.inner_lrs else [])

    def lrs(self):
        return self.inner_lrs if self.inner_lrs is not None else self.config.inner_lr

    # ------------------------------------------------------------------ one meta-step
    def meta_loss(self, episodes: Sequence[Episode]) -> torch.Tensor:
        """Mean query loss after adapting on each episode's support (MAML / multitask)."""
        c = self.config
        losses = []
        for ep in episodes:
            if c.algorithm == "multitask":
                adapted = self.params
            else:
                adapted = inner_loop(
                    self.model,
                    self.params,
                    ep.support,
                    ep.y_support,
                    ep.corr,
                    c.inner_steps,
                    self.lrs(),
                    c.rank_weight,
                    grad="first" if c.first_order else "second",
                )[0]
            losses.append(
                regression_rank_loss(
                    forward(self.model, adapted, ep.query, ep.corr), ep.y_query, c.rank_weight, c.top_weight
                )
            )
        return torch.stack(losses).mean()

    def step(self, episodes: Sequence[Episode]) -> float:
        c = self.config
        self.optimizer.zero_grad(set_to_none=True)
        if c.algorithm == "reptile":
            return self._reptile_step(episodes)
        loss = self.meta_loss(episodes)
        if not torch.isfinite(loss):
            return float("nan")  # skip a diverged meta-batch rather than poisoning θ
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self._outer_params(), self.config.grad_clip)
        self.optimizer.step()
        if self.inner_lrs is not None:
            with torch.no_grad():
                for v in self.inner_lrs.values():
                    v.clamp_(min=0.0)
        return float(loss.detach())

    def _reptile_step(self, episodes: Sequence[Episode]) -> float:
        c = self.config
        deltas = {k: torch.zeros_like(v) for k, v in self.params.items()}
        total = 0.0
        for ep in episodes:
            inputs = _concat_inputs(ep.support, ep.query)
            y = torch.cat([ep.y_support, ep.y_query])
            fast = inner_loop(
                self.model, self.params, inputs, y, ep.corr, c.reptile_steps, c.inner_lr, c.rank_weight, grad="none"
            )[0]
            with torch.no_grad():
                total += float(
                    regression_rank_loss(forward(self.model, fast, ep.query, ep.corr), ep.y_query, c.rank_weight)
                )
                for k in deltas:
                    deltas[k] += (self.params[k] - fast[k]) / len(episodes)
        for k, p in self.params.items():
            p.grad = deltas[k]
        self.optimizer.step()
        return total / len(episodes)

    # ------------------------------------------------------------------ adaptation / evaluation
    def adapt(self, ep: Episode) -> dict[str, torch.Tensor]:
        c = self.config
        lrs = {k: v.detach() for k, v in self.inner_lrs.items()} if self.inner_lrs is not None else c.inner_lr
        return inner_loop(
            self.model,
            self.params,
            ep.support,
            ep.y_support,
            ep.corr,
            deployment_steps(c.to_dict()),
            lrs,
            c.rank_weight,
            grad="none",
        )[0]

    def evaluate(self, sampler: EpisodeSampler, rng: np.random.Generator, episodes: int, k: int = 20) -> float:
        """Mean Kendall tau on query sets after adapting on K support archs."""
        taus = []
        for i in range(episodes):
            ep = sampler.sample(rng, task_index=i % len(sampler.tasks), k=k)
            adapted = self.adapt(ep)
            with torch.no_grad():
                pred = forward(self.model, adapted, ep.query, ep.corr)
            taus.append(kendall_tau(ep.y_query.cpu().numpy(), pred.cpu().numpy()))
        return float(np.nanmean(taus))

    # ------------------------------------------------------------------ the loop
    def episode_sampler(self, tasks: Sequence[Task], pools=None, source_dropout: float = 0.0) -> EpisodeSampler:
        """Episodes of ``tasks`` as this learner's config and model draw and weigh them (support sizes, query size,
        target scale, the model's source weights)."""
        c = self.config
        return EpisodeSampler(
            tasks,
            c.support_range,
            c.query_size,
            pools=pools,
            device=c.device,
            source_dropout=source_dropout,
            scale=c.target_scale,
            model_config=self.model.config,
        )

    def fit(
        self,
        tasks: Sequence[Task],
        val_tasks: Sequence[Task] = (),
        progress: bool = True,
        callback: Callable[[dict], None] | None = None,
    ) -> Self:
        """Meta-train on ``tasks``; early-stop on meta-validation Kendall tau and keep the best state.

        Validation uses ``val_tasks`` if given; else, with ``meta_val="task"`` or ``"task-seed"`` and >= 3 training
        tasks, one training task picked by the seed, left out of the training episodes (:data:`META_VAL`); else one
        held-out set of architectures shared by all training tasks (:func:`shared_holdout`).
        """
        c = self.config
        rng = np.random.default_rng(c.seed)
        self.val_task = None
        if not val_tasks and c.meta_val != "archs" and len(tasks) >= 3:
            vi = validation_task_index(tasks, c.meta_val, c.seed, rng)
            self.val_task = tasks[vi].name
            val_tasks, tasks = [tasks[vi]], [t for i, t in enumerate(tasks) if i != vi]
        if val_tasks:
            train_pools = None
            val_sampler = self.episode_sampler(val_tasks)
        else:
            train_pools, val_pools = shared_holdout(tasks, c.val_fraction, rng)
            val_sampler = self.episode_sampler(tasks, pools=val_pools)
        self.val_sampler = val_sampler  # what a learner may select post-hoc settings on (never the target)
        sampler = self.episode_sampler(tasks, pools=train_pools, source_dropout=c.source_dropout)
        best, best_state, bad = -np.inf, self.state_dict(), 0
        t0 = time.perf_counter()
        bar = tqdm(range(1, c.iterations + 1), desc=f"meta-train ({c.algorithm})", disable=not progress, leave=False)
        for it in bar:
            loss = self.step([sampler.sample(rng) for _ in range(c.meta_batch)])
            if it % c.val_every == 0 or it == c.iterations:
                tau = self.evaluate(val_sampler, np.random.default_rng(c.seed + 10_000), c.val_episodes)
                rec = {"iteration": it, "loss": loss, "val_tau": tau, "seconds": time.perf_counter() - t0}
                self.history.append(rec)
                if callback:
                    callback(rec)
                bar.set_postfix(loss=f"{loss:.3f}", val_tau=f"{tau:.3f}")
                if tau > best:
                    best, best_state, bad = tau, self.state_dict(), 0
                else:
                    bad += 1
                    if bad >= c.patience:
                        break
        self.load_state_dict(best_state)
        self.best_val_tau = best
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        out = {k: v.detach().clone() for k, v in self.params.items()}
        if self.inner_lrs is not None:
            out.update({f"inner_lr.{k}": v.detach().clone() for k, v in self.inner_lrs.items()})
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(state[k])
            if self.inner_lrs is not None:
                for k, v in self.inner_lrs.items():
                    v.copy_(state[f"inner_lr.{k}"])


def validation_task_index(tasks: Sequence[Task], meta_val: str, seed: int, rng: np.random.Generator) -> int:
    """Index in ``tasks`` of the training task meta-validation holds out: drawn from ``rng`` (``"task"``), or number
    ``seed mod n`` in name order (``"task-seed"``). The draw is made either way, so both leave ``rng`` at the same
    state for the episodes that follow."""
    drawn = int(rng.integers(len(tasks)))
    if meta_val == "task":
        return drawn
    by_name = sorted(range(len(tasks)), key=lambda i: tasks[i].name)
    return by_name[seed % len(tasks)]


def _concat_inputs(a: tuple, b: tuple) -> tuple:
    xa, eia, ba, na, sa = a
    xb, eib, bb, nb, sb = b
    return (
        torch.cat([xa, xb]),
        torch.cat([eia, eib + len(xa)], 1),
        torch.cat([ba, bb + na]),
        na + nb,
        torch.cat([sa, sb]),
    )
