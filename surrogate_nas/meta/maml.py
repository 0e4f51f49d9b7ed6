"""Functional meta-learning of the GNN regressor: MAML (2nd / 1st order), Meta-SGD, Reptile, multi-task.

Parameters live in a dict and the module is only ever called through
``torch.func.functional_call``; adaptation never mutates the module's own weights.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call
from tqdm.auto import tqdm

from ..errors import SurrogateNASError
from ..predictors.gnn import GraphRegressor
from ..predictors.metrics import kendall_tau
from .tasks import Episode, EpisodeSampler, Task

ALGORITHMS = ("maml", "reptile", "multitask")


@dataclass
class MetaConfig:
    """How the initialisation is learned and how it is adapted."""

    algorithm: str = "maml"          # maml | reptile | multitask (the non-meta ablation)
    first_order: bool = False        # first-order MAML (no second derivatives)
    meta_sgd: bool = False           # learn one inner learning rate per parameter entry
    inner_steps: int = 5
    inner_lr: float = 0.05
    outer_lr: float = 1e-3
    meta_batch: int = 4
    iterations: int = 400
    support_range: tuple[int, int] = (5, 50)
    query_size: int = 128
    source_dropout: float = 0.3     # chance to hide each source task in an episode (task diversity)
    rank_weight: float = 1.0         # weight of the pairwise ranking term next to MSE
    grad_clip: float = 1.0           # max norm of the meta-gradient
    reptile_steps: int = 10
    val_fraction: float = 0.2        # architectures held out of each training task for meta-validation
    val_every: int = 25
    val_episodes: int = 8
    patience: int = 6
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise SurrogateNASError(f"unknown meta algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        self.support_range = tuple(self.support_range)
        if self.inner_steps < 0 or self.iterations < 1 or self.meta_batch < 1:
            raise SurrogateNASError(f"invalid meta config: inner_steps={self.inner_steps}, iterations={self.iterations}, meta_batch={self.meta_batch}")

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- losses
def regression_rank_loss(pred: torch.Tensor, y: torch.Tensor, rank_weight: float) -> torch.Tensor:
    """MSE plus a pairwise logistic ranking loss over all ordered pairs of the set."""
    loss = F.mse_loss(pred, y)
    if rank_weight > 0 and len(y) > 1:
        dy = y.unsqueeze(0) - y.unsqueeze(1)
        dp = pred.unsqueeze(0) - pred.unsqueeze(1)
        mask = dy > 0
        if mask.any():
            loss = loss + rank_weight * F.softplus(-dp[mask]).mean()
    return loss


# ---------------------------------------------------------------------- functional core
def forward(model: GraphRegressor, params: dict, inputs: tuple, corr: torch.Tensor) -> torch.Tensor:
    x, ei, batch, n, src = inputs
    return functional_call(model, params, (x, ei, batch, n, src, corr))


def inner_adapt(
    model: GraphRegressor,
    params: dict[str, torch.Tensor],
    inputs: tuple,
    y: torch.Tensor,
    corr: torch.Tensor,
    steps: int,
    lrs: dict[str, torch.Tensor] | float,
    rank_weight: float,
    create_graph: bool,
) -> dict[str, torch.Tensor]:
    """``steps`` gradient steps on the support set; returns new parameter tensors (module untouched)."""
    names = list(params)
    for _ in range(steps):
        loss = regression_rank_loss(forward(model, params, inputs, corr), y, rank_weight)
        grads = torch.autograd.grad(loss, [params[k] for k in names], create_graph=create_graph, allow_unused=True)
        new = {}
        for k, g in zip(names, grads):
            if g is None:
                new[k] = params[k]
                continue
            lr = lrs[k] if isinstance(lrs, dict) else lrs
            new[k] = params[k] - lr * (g if create_graph else g.detach())
        params = new
    return params


class MetaLearner:
    """Learns an initialisation θ (and optionally inner learning rates) over tasks."""

    def __init__(self, model: GraphRegressor, config: MetaConfig):
        self.model = model.to(config.device)
        self.config = config
        self.params = {k: v for k, v in self.model.named_parameters()}
        self.inner_lrs = None
        if config.meta_sgd:
            self.inner_lrs = {k: torch.full_like(v, config.inner_lr, requires_grad=True) for k, v in self.params.items()}
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
                adapted = inner_adapt(self.model, self.params, ep.support, ep.y_support, ep.corr, c.inner_steps,
                                      self.lrs(), c.rank_weight, create_graph=not c.first_order)
            losses.append(regression_rank_loss(forward(self.model, adapted, ep.query, ep.corr), ep.y_query, c.rank_weight))
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
            fast = {k: v.detach().clone().requires_grad_(True) for k, v in self.params.items()}
            fast = inner_adapt(self.model, fast, inputs, y, ep.corr, c.reptile_steps, c.inner_lr, c.rank_weight, False)
            with torch.no_grad():
                total += float(regression_rank_loss(forward(self.model, fast, ep.query, ep.corr), ep.y_query, c.rank_weight))
                for k in deltas:
                    deltas[k] += (self.params[k] - fast[k]) / len(episodes)
        for k, p in self.params.items():
            p.grad = deltas[k]
        self.optimizer.step()
        return total / len(episodes)

    # ------------------------------------------------------------------ adaptation / evaluation
    def adapt(self, ep: Episode) -> dict[str, torch.Tensor]:
        c = self.config
        params = {k: v.detach().requires_grad_(True) for k, v in self.params.items()}
        lrs = {k: v.detach() for k, v in self.inner_lrs.items()} if self.inner_lrs is not None else c.inner_lr
        steps = c.inner_steps if c.algorithm != "reptile" else c.reptile_steps
        with torch.enable_grad():
            adapted = inner_adapt(self.model, params, ep.support, ep.y_support, ep.corr, steps, lrs, c.rank_weight, False)
        return {k: v.detach() for k, v in adapted.items()}

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
    def fit(self, tasks: Sequence[Task], val_tasks: Sequence[Task] = (), progress: bool = True,
            callback: Callable[[dict], None] | None = None) -> "MetaLearner":
        """Meta-train on ``tasks``; early-stop on meta-validation Kendall tau and keep the best state.

        Validation uses ``val_tasks`` if given, else a held-out share of each training task's archs.
        """
        c = self.config
        rng = np.random.default_rng(c.seed)
        torch.manual_seed(c.seed)
        if val_tasks:
            train_pools = None
            val_sampler = EpisodeSampler(val_tasks, c.support_range, c.query_size, device=c.device)
        else:
            train_pools, val_pools = [], []
            for t in tasks:
                perm = rng.permutation(len(t.y))
                n_val = max(int(len(perm) * c.val_fraction), 8)
                val_pools.append(perm[:n_val])
                train_pools.append(perm[n_val:])
            val_sampler = EpisodeSampler(tasks, c.support_range, c.query_size, pools=val_pools, device=c.device)
        sampler = EpisodeSampler(tasks, c.support_range, c.query_size, pools=train_pools, device=c.device,
                                 source_dropout=c.source_dropout)
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


def _concat_inputs(a: tuple, b: tuple) -> tuple:
    xa, eia, ba, na, sa = a
    xb, eib, bb, nb, sb = b
    return (torch.cat([xa, xb]), torch.cat([eia, eib + len(xa)], 1), torch.cat([ba, bb + na]), na + nb, torch.cat([sa, sb]))
