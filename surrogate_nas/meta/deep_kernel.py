"""Deep-kernel GP head (deep kernel transfer): a GPyTorch exact GP on the GNN's embedding, meta-learned end to end.

The target (z-scored over the support) is modelled as ``z(a) = m(a) + f(a) + noise``: ``m`` is the GNN
regressor's own prediction (its transfer prior from the source tasks plus its learned correction) and
``f ~ GP(0, k(phi(a), phi(a')))`` with ``phi`` the embedding the regressor's head reads (graph pooling,
encoded source values and free features, the transfer prior). Meta-training maximises the exact
marginal likelihood of each episode's architectures (support and query) across tasks, plus a
(top-weighted) ranking term on the query's posterior mean given the support, through encoder, mean
network and kernel hyper-parameters alike. Adapting to a new task is conditioning the GP on the K support
residuals: the fit to the support is exact up to the learned noise and its weight grows with K, while
with K tiny the prediction stays the meta-learned prior. The posterior gives each prediction a std.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import gpytorch
import numpy as np
import torch

from ..predictors.gnn import GraphRegressor, functional_forward, pairwise_rank_loss
from ..predictors.metrics import kendall_tau
from .defaults import DEFAULT_RANK_SHARE
from .maml import MetaConfig, MetaLearner
from .tasks import Episode, EpisodeSampler

__all__ = [
    "ResidualGP",
    "DKTLearner",
    "add_correction_basis",
    "make_gp",
    "nearest_size",
    "condition",
    "fit_hyperparameters",
    "posterior",
    "posterior_cov",
    "rank_residual",
    "scale_for",
    "scale_signal",
    "scaled_signal",
    "share_for_size",
]

#: Lower bound of the GP's noise variance (z units): keeps the support's Cholesky factor well conditioned.
MIN_NOISE = 1e-3
#: Shares of rank residual a deep-kernel checkpoint chooses among on its meta-validation episodes, the support
#: sizes and the episodes per size it scores them on (:meth:`DKTLearner.select_rank_share`).
RANK_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
RANK_SHARE_KS = (5, 10, 20, 50)
RANK_SHARE_EPISODES = 16
#: Multipliers of the GP's meta-learned signal variance a deep-kernel checkpoint scores on the same episodes, at the
#: shares of rank residual the defaults adapt with (hardware metrics 0, function-level ones 0.25:
#: :func:`~surrogate_nas.meta.defaults.default_rank_share`; :meth:`DKTLearner.select_gp_scale`; adapt option
#: ``gp_scale="checkpoint"``, which reads the nearest scored share).
GP_SCALES = (0.03, 0.1, 0.3, 1.0)
GP_SCALE_SHARES = (0.0, DEFAULT_RANK_SHARE)


def graph_encoding_dim(space) -> int:
    """Width of :func:`graph_encoding` for ``space`` (its graphs have a fixed number of nodes)."""
    types, _ = space.graph_spec(space.sample(np.random.default_rng(0)))
    return len(types) * (len(space.vocabulary) + len(types))


def graph_encoding(inputs: tuple, vocab: int) -> torch.Tensor:
    """The raw architecture per graph: one-hot node types by position and the flattened adjacency matrix
    (the usual adjacency encoding of NAS predictors). Needs graphs of one size, as both spaces' are."""
    x, ei, batch, n = inputs[:4]
    size = len(x) // n
    if size * n != len(x) or (len(x) and bool((torch.bincount(batch, minlength=n) != size).any())):
        from ..errors import DataError

        raise DataError("the GP kernel on the graph encoding needs graphs with the same number of nodes")
    ops = torch.nn.functional.one_hot(x, vocab).reshape(n, size * vocab).float()
    g = ei[0] // size
    adj = torch.zeros(n, size * size, device=x.device)
    adj[g, (ei[0] - g * size) * size + (ei[1] - g * size)] = 1.0
    return torch.cat([ops, adj], 1)


def gp_inputs(model: GraphRegressor, params: dict, inputs: tuple, corr, kernel: str):
    """(the GNN's prediction, the GP's input) of a batch: the embedding, plus the graph encoding for ``*+graph``
    kernels."""
    m, e = functional_forward(model, params, inputs, corr, embed=True)
    if kernel.endswith("+graph"):
        e = torch.cat([e, graph_encoding(inputs, model.embed.num_embeddings)], 1)
    return m, e


class ResidualGP(gpytorch.models.ExactGP):
    """Zero-mean exact GP over embeddings (the mean is the GNN's prediction, subtracted from the targets).

    ``rbf+graph``: an additive kernel, ARD RBF on the embedding plus RBF on the raw graph encoding
    (``graph_dim`` columns after the embedding), so the target's own architecture effects can be fitted
    where the meta-learned embedding does not separate them."""

    def __init__(self, dim: int, kernel: str = "rbf", graph_dim: int = 0):
        likelihood = gpytorch.likelihoods.GaussianLikelihood(
            noise_constraint=gpytorch.constraints.GreaterThan(MIN_NOISE)
        )
        super().__init__(None, None, likelihood)
        self.mean_module = gpytorch.means.ZeroMean()
        if kernel == "linear":
            self.covar_module = gpytorch.kernels.LinearKernel()
            self.covar_module.variance = 1.0 / dim
        elif kernel == "rbf+graph":
            emb = gpytorch.kernels.RBFKernel(ard_num_dims=dim, active_dims=torch.arange(dim))
            emb.lengthscale = math.sqrt(dim)
            raw = gpytorch.kernels.RBFKernel(active_dims=torch.arange(dim, dim + graph_dim))
            raw.lengthscale = 2.0
            self.covar_module = gpytorch.kernels.ScaleKernel(emb) + gpytorch.kernels.ScaleKernel(raw)
            self.covar_module.kernels[0].outputscale = 0.5
            self.covar_module.kernels[1].outputscale = 0.1
        else:
            base = (
                gpytorch.kernels.RBFKernel(ard_num_dims=dim)
                if kernel == "rbf"
                else gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=dim)
            )
            base.lengthscale = math.sqrt(dim)
            self.covar_module = gpytorch.kernels.ScaleKernel(base)
            self.covar_module.outputscale = 0.5
        likelihood.noise = 0.1
        self.kernel = kernel

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def make_gp(dim: int, kernel: str, state: dict[str, torch.Tensor] | None = None, space=None) -> ResidualGP:
    """A GP head for embeddings of width ``dim`` (and ``space``'s graph encoding, for ``*+graph`` kernels);
    ``state``: its saved hyper-parameters."""
    gp = ResidualGP(dim, kernel, graph_encoding_dim(space) if kernel.endswith("+graph") else 0)
    if state is not None:
        own = dict(gp.named_parameters())
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or extra:
            raise KeyError(f"GP state: missing {missing}, unexpected {extra}")
        gp.load_state_dict(state, strict=False)  # constraint bounds are buffers the kernel rebuilds
    return gp


def add_correction_basis(gp: ResidualGP, width: int, sd: float) -> ResidualGP:
    """Give the GNN's learned correction an explicit basis (Rasmussen & Williams 2006, sec. 2.7): the GP's inputs gain a
    last column ``c(a)`` (the network's prediction minus its transfer prior) and the kernel a term ``sd^2 c(a) c(a')``,
    i.e. the residual from the transfer prior is ``w c(a) + f(a)`` with ``w ~ N(0, sd^2)`` integrated out. The
    support decides how much of the correction to use (its posterior weight is a generalised least-squares fit,
    shrunk to 0); without support the mean is the transfer prior alone. ``width``: the inputs' width before ``c``."""
    base = gp.covar_module
    base.active_dims = torch.arange(width)
    basis = gpytorch.kernels.LinearKernel(active_dims=torch.tensor([width]))
    basis.variance = float(sd) ** 2
    gp.covar_module = base + basis
    return gp


def scale_signal(gp: ResidualGP, factor: float) -> ResidualGP:
    """Multiply the GP's signal variance (every summand's outputscale; a linear kernel's variance) by ``factor``: the
    residual the support can move, not the noise. Call before :func:`add_correction_basis`, whose basis keeps its own
    prior."""
    kernels = gp.covar_module.kernels if hasattr(gp.covar_module, "kernels") else [gp.covar_module]
    for k in kernels:
        if hasattr(k, "outputscale"):
            k.outputscale = k.outputscale * factor
        else:
            k.variance = k.variance * factor
    return gp


@contextmanager
def scaled_signal(gp: ResidualGP, factor: float) -> Iterator[ResidualGP]:
    """:func:`scale_signal` for the duration of a block; the meta-learned values are restored exactly after it."""
    if factor == 1.0:
        yield gp
        return
    state = {k: v.clone() for k, v in gp.covar_module.state_dict().items()}
    try:
        yield scale_signal(gp, factor)
    finally:
        gp.covar_module.load_state_dict(state)


def scale_for(taus: dict[str, dict[str, float]], share: float) -> float:
    """The multiplier of :data:`GP_SCALES` whose posterior mean ranked a checkpoint's meta-validation episodes best
    at rank share ``share`` (``taus``: share -> scale -> mean Kendall tau, :meth:`DKTLearner.select_gp_scale`; the
    nearest scored share), ties to the larger multiplier; 1 where none was scored."""
    if not taus:
        return 1.0
    nearest = min(taus, key=lambda s: (abs(float(s) - share), float(s)))
    row = taus[nearest]
    return float(max(row, key=lambda a: (round(row[a], 6), float(a))))


def add_hyper_priors(gp: ResidualGP, sd: float) -> ResidualGP:
    """Log-normal priors (``sd`` of the log) on the GP's lengthscales and noise, centred on their current values, so
    that meta-training at its own fast rate (``gp_lr``) cannot fit the episodes with a few short lengthscales and a
    near-zero noise unless the episodes' likelihood outweighs the prior. GPyTorch's marginal likelihood adds their log
    density per data point; :func:`log_hyper_prior` gives it for other objectives. Priors are not checkpoint state."""
    for module in gp.modules():
        if isinstance(module, (gpytorch.kernels.RBFKernel, gpytorch.kernels.MaternKernel)):
            loc = module.lengthscale.detach().log()
            module.register_prior("lengthscale_prior", gpytorch.priors.LogNormalPrior(loc, sd), "lengthscale")
    noise = gp.likelihood.noise_covar
    loc = noise.noise.detach().log()
    noise.register_prior("noise_prior", gpytorch.priors.LogNormalPrior(loc, sd), "noise")
    return gp


def log_hyper_prior(gp: ResidualGP) -> torch.Tensor:
    """The summed log density of the GP's hyper-parameter priors (0 without any)."""
    terms = [prior.log_prob(closure(module)).sum() for _, module, prior, closure, _ in gp.named_priors()]
    return torch.stack(terms).sum() if terms else torch.zeros(())


def gp_parameters(gp: ResidualGP) -> dict[str, torch.Tensor]:
    """The GP's learned hyper-parameters (raw values; constraint bounds are not state)."""
    return {k: v.detach().clone() for k, v in gp.named_parameters()}


def condition(gp: ResidualGP, emb: torch.Tensor, residual: torch.Tensor) -> ResidualGP:
    """The GP conditioned on the support: its embeddings and residuals (targets minus the GNN's prediction)."""
    gp.set_train_data(emb, residual, strict=False)
    gp.eval()
    gp._posterior_cache = None
    return gp


def fit_hyperparameters(
    gp: ResidualGP, emb: torch.Tensor, residual: torch.Tensor, steps: int, lr: float = 0.05
) -> ResidualGP:
    """Type-II maximum likelihood on the support: ``steps`` Adam steps of the GP's own hyper-parameters (outputscale,
    lengthscales, noise) from their meta-learned values, the embedding fixed; returns the GP conditioned again."""
    gp.set_train_data(emb, residual, strict=False)
    gp.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(gp.likelihood, gp)
    opt = torch.optim.Adam(gp.parameters(), lr=lr)
    start = {k: v.detach().clone() for k, v in gp.state_dict().items()}
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = -mll(gp(emb), residual)
            if not torch.isfinite(loss):
                gp.load_state_dict(start)  # a diverging fit keeps the meta-learned hyper-parameters
                break
            loss.backward()
            opt.step()
    return condition(gp, emb, residual)


def _support_solve(gp: ResidualGP) -> tuple[torch.Tensor, torch.Tensor]:
    """(Cholesky factor of the support covariance + noise, its solve with the support residuals), cached on the
    GP until the next :func:`condition`; no gradients. A batch of supports (``condition`` with ``[B, n, d]`` inputs,
    ``[B, n]`` residuals) gives ``[B, n, n]`` factors and ``[B, n]`` solves."""
    x, r = gp.train_inputs[0], gp.train_targets
    cache = getattr(gp, "_posterior_cache", None)
    if cache is None or cache[0] is not x or cache[1] is not r:
        with torch.no_grad():
            eye = torch.eye(r.shape[-1], dtype=x.dtype, device=x.device)
            k = gp.covar_module(x).to_dense() + gp.likelihood.noise * eye
            chol, info = torch.linalg.cholesky_ex(k)
            jitter = 1e-6
            while bool(info.any()) and jitter < 1.0:  # as GPyTorch does: add jitter until the factor exists
                chol, info = torch.linalg.cholesky_ex(k + jitter * eye)
                jitter *= 10
            alpha = torch.cholesky_solve(r.unsqueeze(-1), chol).squeeze(-1)
        cache = gp._posterior_cache = (x, r, chol, alpha)
    return cache[2], cache[3]


def _mean_and_solve(gp: ResidualGP, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(posterior mean at ``emb``, ``v = L^-1 K(x_support, emb)``) from the cached support solve; the variance terms of
    :func:`posterior` and :func:`posterior_cov` are built from ``v``. Batched supports: ``emb`` [B, m, d], the mean
    [B, m] and ``v`` [B, n, m]."""
    chol, alpha = _support_solve(gp)
    cross = gp.covar_module(emb, gp.train_inputs[0]).to_dense()
    mean = cross @ alpha if alpha.dim() == 1 else (cross @ alpha.unsqueeze(-1)).squeeze(-1)
    return mean, torch.linalg.solve_triangular(chol, cross.mT, upper=False)


def posterior(gp: ResidualGP, emb: torch.Tensor, noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of the residual at ``emb`` (``noise``: of an observation, i.e. with the
    likelihood's noise, as predictive intervals of measured values need), without gradients.

    The exact GP posterior from the GP's own kernel and noise, computed from the cross-covariance and the kernel's
    diagonal only: GPyTorch's ``gp(emb)`` evaluates the joint covariance of support and test points, which for
    the 15,625 cells of NB-201 costs seconds. The support's Cholesky factor is cached until the next
    :func:`condition`. A GP conditioned on a batch of supports (``[B, n, d]``) takes ``emb`` [B, m, d] and returns
    [B, m] (support ``b``'s posterior at ``emb[b]``)."""
    with torch.no_grad():
        mean, v = _mean_and_solve(gp, emb)
        var = gp.covar_module(emb, diag=True) - v.pow(2).sum(-2)
        if noise:
            var = var + gp.likelihood.noise
    return mean, var.clamp(min=0).sqrt()


def posterior_cov(gp: ResidualGP, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean [n] and joint covariance [n, n] (float64) of the noise-free residual at ``emb``, without
    gradients: ``K(e, e) - v^T v`` with ``v = L^-1 K(x, e)`` from the cached support solve (:func:`posterior`'s
    computation; its diagonal is :func:`posterior`'s variance with ``noise=False``). Symmetric; positive
    semi-definite up to rounding."""
    with torch.no_grad():
        mean, v = _mean_and_solve(gp, emb)
        v = v.double()
        k = gp.covar_module(emb).to_dense().double()
        k.diagonal().copy_(gp.covar_module(emb, diag=True))  # exactly the prior variance posterior() reads
        cov = k - v.T @ v
        cov = (cov + cov.T) / 2
    return mean, cov


def rank_residual(
    m: torch.Tensor, r: torch.Tensor, share: float, values=None
) -> tuple[torch.Tensor, tuple[float, float]]:
    """(the GP's support residual, the value map) where ``share`` of the residual is the support's ranking
    disagreement with the network.

    ``m`` the network's support predictions, ``r = z - m`` their value residuals, ``values`` the support's unscaled
    values oriented as ``z`` (their order; default ``z``, whose robust scale clips the extremes into ties). The rank
    residual is ``m_(i) - m``: the network's support predictions sorted and handed out in the order of the values
    (ties in the network's own order), so it is 0 wherever the support orders the architectures as the
    network does, and a monotone warp between the network's scale and the values' leaves it 0 (the value residual
    of such a warp is what an RBF fit turns into ranking noise). The GP is conditioned on
    ``share x rank residual + (1 - share) x r``; its predictions, on the scale of ``t = m + that residual``, go back
    to z units by the affine least-squares map ``z ~ shift + slope x t`` over the support (rank-preserving;
    ``slope`` also scales the std): the value map, ``(shift, slope)``; ``(0, 1)`` where it is undefined."""
    m_np, z_np = m.detach().cpu().numpy().astype(float), (m + r).detach().cpu().numpy().astype(float)
    by = z_np if values is None else np.asarray(values, dtype=float)
    order = np.lexsort((m_np, by))  # by value, ties by the network's prediction
    warped = np.empty_like(m_np)
    warped[order] = np.sort(m_np)
    t = share * warped + (1 - share) * z_np
    value_map = (0.0, 1.0)
    if len(t) >= 2 and np.var(t) > 1e-12:
        slope = float(np.cov(t, z_np, bias=True)[0, 1] / np.var(t))
        if np.isfinite(slope) and slope > 0:
            value_map = (float(z_np.mean() - slope * t.mean()), slope)
    return torch.as_tensor(t, dtype=r.dtype, device=r.device) - m, value_map


def _best_share(scores: np.ndarray) -> tuple[float, dict[str, float]]:
    """(the share of :data:`RANK_SHARES` with the highest mean of ``scores`` [episodes, shares], ties to the smaller
    share; the mean of each)."""
    taus = {f"{share:g}": float(np.nanmean(scores[:, j])) for j, share in enumerate(RANK_SHARES)}
    return float(max(RANK_SHARES, key=lambda s: (round(taus[f"{s:g}"], 6), -s))), taus


def nearest_size(sizes, k: int) -> str:
    """The scored support size (of ``sizes``, as strings or integers) nearest ``k`` on a log scale, as its string
    (ties to the smaller size; beyond the range, its end)."""
    return str(min((int(s) for s in sizes), key=lambda s: (abs(np.log(max(k, 1)) - np.log(s)), s)))


def share_for_size(by_k: dict[str, dict], k: int) -> float:
    """The share a checkpoint chose (:meth:`DKTLearner.select_rank_share`'s per-size choices ``by_k``) for the
    scored support size nearest ``k`` (:func:`nearest_size`)."""
    return float(by_k[nearest_size(by_k, k)]["share"])


def fit_gp_head(
    learner: MetaLearner, sampler: EpisodeSampler, space, iterations: int, lr: float = 0.01, seed: int = 0
) -> ResidualGP:
    """Second stage for a gradient-adapted checkpoint (MAML, Reptile, multi-task): meta-learn the hyper-parameters
    of a GP on the residuals the *adapted* network leaves, across episodes of the training tasks.

    Each episode adapts the network on its support exactly as deployment does (no gradient through it), then
    maximises the GP's predictive log likelihood of the query residuals given the support residuals: the
    quantity adaptation will rely on, and a calibrated std. The network's weights are not changed.
    """
    c = learner.config
    gp = make_gp(learner.model.embedding_dim(), c.kernel, space=space).to(c.device)
    opt = torch.optim.Adam(gp.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 7])
    for _ in range(iterations):
        ep = sampler.sample(rng)
        adapted = learner.adapt(ep)
        with torch.no_grad():
            m_s, e_s = gp_inputs(learner.model, adapted, ep.support, ep.corr, c.kernel)
            m_q, e_q = gp_inputs(learner.model, adapted, ep.query, ep.corr, c.kernel)
        condition(gp, e_s, ep.y_support - m_s)
        opt.zero_grad()  # condition() reset the GP's prediction caches: the posterior below is this episode's
        with gpytorch.settings.detach_test_caches(False):
            pred = gp.likelihood(gp(e_q))
            loss = -pred.log_prob(ep.y_query - m_q) / len(ep.y_query)
        if torch.isfinite(loss):
            loss.backward()
            opt.step()
    gp.train()
    return gp


class DKTLearner(MetaLearner):
    """Meta-trains the GNN (encoder and mean network) and the GP's hyper-parameters on the marginal likelihood."""

    def __init__(self, model: GraphRegressor, config: MetaConfig, space=None):
        # the GP's hyper-parameters are outer parameters too: built before the optimiser
        self.gp = make_gp(model.embedding_dim(), config.kernel, space=space).to(config.device)
        if config.gp_prior_sd is not None:
            add_hyper_priors(self.gp, config.gp_prior_sd)
        super().__init__(model, config)
        if config.gp_lr is not None:  # the kernel's few hyper-parameters at their own rate
            groups: list[dict] = [
                {"params": super()._outer_params()},
                {"params": list(self.gp.parameters()), "lr": config.gp_lr},
            ]
            self.optimizer = torch.optim.Adam(groups, lr=config.outer_lr)

    def _outer_params(self) -> list[torch.Tensor]:
        return list(self.params.values()) + list(self.gp.parameters())

    def _embed(self, inputs, corr):
        return gp_inputs(self.model, self.params, inputs, corr, self.config.kernel)

    def meta_loss(self, episodes: Sequence[Episode]) -> torch.Tensor:
        c = self.config
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(self.gp.likelihood, self.gp)
        losses = []
        for ep in episodes:
            m_s, e_s = self._embed(ep.support, ep.corr)
            m_q, e_q = self._embed(ep.query, ep.corr)
            f_q = None  # the query's posterior given the support, where a term needs it
            if c.dkt_objective == "predictive":  # the query's likelihood given the support, as adaptation uses it
                f_q = self._query_posterior(e_s, ep.y_support - m_s, e_q)
                loss = -(self.gp.likelihood(f_q).log_prob(ep.y_query - m_q) + log_hyper_prior(self.gp)) / len(m_q)
            else:
                x, z = torch.cat([e_s, e_q]), torch.cat([ep.y_support, ep.y_query])
                r = z - torch.cat([m_s, m_q])
                self.gp.train()
                self.gp.set_train_data(x, r, strict=False)
                loss = -mll(self.gp(x), r)  # per-point negative log marginal likelihood (+ log hyper-prior)
            if c.rank_weight > 0:
                if f_q is None:
                    f_q = self._query_posterior(e_s, ep.y_support - m_s, e_q)
                loss = loss + c.rank_weight * pairwise_rank_loss(m_q + f_q.mean, ep.y_query, c.top_weight)
            losses.append(loss)
        self.gp.train()
        return torch.stack(losses).mean()

    def _query_posterior(self, e_s, r_s, e_q):
        """The GP's posterior of the query residuals given the support's (as adaptation conditions it), with
        gradients through the posterior to the kernel, the noise and the network."""
        condition(self.gp, e_s, r_s)
        with gpytorch.settings.detach_test_caches(False):
            return self.gp(e_q)

    def predict_episode(self, ep: Episode) -> np.ndarray:
        """Posterior mean (z units) of the query after conditioning on the support."""
        return self._episode_means(ep, (0.0,))[0]

    def _episode_means(
        self, ep: Episode, rank_shares: Sequence[float], scales: Sequence[float] = (1.0,)
    ) -> list[np.ndarray]:
        """The query's posterior mean (z units) given the support, for each share of rank residual
        (:func:`rank_residual`) and, within it, each multiplier of the GP's signal variance; the episode is embedded
        once."""
        out = []
        with torch.no_grad():
            m_s, e_s = self._embed(ep.support, ep.corr)
            m_q, e_q = self._embed(ep.query, ep.corr)
            for share in rank_shares:
                r = ep.y_support - m_s
                if share > 0:
                    r = rank_residual(m_s, r, share)[0]
                for scale in scales:
                    with scaled_signal(self.gp, scale):
                        condition(self.gp, e_s, r)
                        out.append((m_q + posterior(self.gp, e_q, noise=False)[0]).cpu().numpy())
        self.gp.train()
        return out

    def fit(self, tasks, val_tasks=(), progress: bool = True, callback=None):
        """Meta-train (:meth:`MetaLearner.fit`), then select the share of rank residual on the meta-validation
        episodes (:meth:`select_rank_share`) and, with ``select_gp_scale``, score the GP's signal scale there
        (:meth:`select_gp_scale`); the weights are not changed."""
        super().fit(tasks, val_tasks, progress=progress, callback=callback)
        self.rank_share, self.rank_share_taus, self.rank_share_by_k = self.select_rank_share(self.val_sampler)
        self.gp_scale_taus: dict = {}
        self.gp_scale_by_k: dict = {}
        if self.config.select_gp_scale:
            self.gp_scale_taus, self.gp_scale_by_k = self.select_gp_scale(self.val_sampler)
        return self

    def _selection_episodes(self, sampler: EpisodeSampler) -> list[Episode]:
        """The meta-validation episodes post-hoc settings are scored on: :data:`RANK_SHARE_EPISODES` at each of
        :data:`RANK_SHARE_KS` support sizes (the same for every setting)."""
        rng = np.random.default_rng([self.config.seed, 20_000])
        return [
            sampler.sample(rng, task_index=i % len(sampler.tasks), k=k)
            for k in RANK_SHARE_KS
            for i in range(RANK_SHARE_EPISODES)
        ]

    def select_gp_scale(self, sampler: EpisodeSampler) -> tuple[dict, dict]:
        """(share -> multiplier -> mean Kendall tau of the posterior mean on the meta-validation episodes, the same per
        support size ``{str(k): ...}``) for every share of :data:`GP_SCALE_SHARES` and multiplier of :data:`GP_SCALES`
        of the GP's signal variance (:func:`scale_for` picks from it; adapt option ``gp_scale="checkpoint"`` or
        ``"checkpoint-k"``). Training tasks only; the weights are not changed."""
        grid = [(share, scale) for share in GP_SCALE_SHARES for scale in GP_SCALES]
        episodes = self._selection_episodes(sampler)
        scores = np.array(
            [
                [kendall_tau(ep.y_query.cpu().numpy(), m) for m in self._episode_means(ep, GP_SCALE_SHARES, GP_SCALES)]
                for ep in episodes
            ]
        )

        def table(rows: np.ndarray) -> dict:
            out: dict[str, dict[str, float]] = {}
            for j, (share, scale) in enumerate(grid):
                out.setdefault(f"{share:g}", {})[f"{scale:g}"] = float(np.nanmean(rows[:, j]))
            return out

        n = RANK_SHARE_EPISODES
        by_k = {str(k): table(scores[j * n : (j + 1) * n]) for j, k in enumerate(RANK_SHARE_KS)}
        return table(scores), by_k

    def select_rank_share(self, sampler: EpisodeSampler) -> tuple[float, dict[str, float], dict[str, dict]]:
        """(the share of :data:`RANK_SHARES` whose posterior mean ranks the meta-validation episodes best, the mean
        Kendall tau of each, the same choice per support size): :data:`RANK_SHARE_EPISODES` episodes at each of
        :data:`RANK_SHARE_KS` support sizes, the same episodes for every share; ties go to the smaller share.
        Per size ``{str(k): {"share": s, "taus": {...}}}`` (:func:`share_for_size` reads it). Training tasks only:
        what adaptation uses with ``rank_residual="checkpoint"`` (one share) or ``"checkpoint-k"`` (by size)."""
        episodes = self._selection_episodes(sampler)
        scores = np.array(
            [
                [kendall_tau(ep.y_query.cpu().numpy(), mean) for mean in self._episode_means(ep, RANK_SHARES)]
                for ep in episodes
            ]
        )
        best, taus = _best_share(scores)
        by_k = {}
        for j, k in enumerate(RANK_SHARE_KS):
            share, k_taus = _best_share(scores[j * RANK_SHARE_EPISODES : (j + 1) * RANK_SHARE_EPISODES])
            by_k[str(k)] = {"share": share, "taus": k_taus}
        return best, taus, by_k

    def evaluate(self, sampler: EpisodeSampler, rng: np.random.Generator, episodes: int, k: int = 20) -> float:
        taus = []
        for i in range(episodes):
            ep = sampler.sample(rng, task_index=i % len(sampler.tasks), k=k)
            taus.append(kendall_tau(ep.y_query.cpu().numpy(), self.predict_episode(ep)))
        return float(np.nanmean(taus))

    def state_dict(self) -> dict[str, torch.Tensor]:
        out = super().state_dict()
        out.update({f"gp.{k}": v for k, v in gp_parameters(self.gp).items()})
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        super().load_state_dict({k: v for k, v in state.items() if not k.startswith("gp.")})
        self.gp.load_state_dict({k[3:]: v for k, v in state.items() if k.startswith("gp.")}, strict=False)

    def gp_state(self) -> dict[str, torch.Tensor]:
        return gp_parameters(self.gp)
