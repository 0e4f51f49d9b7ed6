"""The GNN regressor: PyG convolutions over architecture graphs + a set encoder over source-task values.

The module holds no BatchNorm running statistics (LayerNorm only), so it can be meta-learned
functionally with ``torch.func.functional_call``.

PyG is imported where a convolution is built or a graph pooled, not with this module (importing it costs seconds:
it imports ``torch._dynamo``); a model loaded with ``defer_convs`` builds its convolutions only when something needs
them, so a prediction from cached graph rows (:mod:`surrogate_nas.meta.pooled`) never imports PyG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from ..errors import DataError
from ..graphs import to_batch
from ..typed import Float, Int, TypedConfig
from .inputs import LEAST_SQUARES_SHRINK, SourceWeights

ConvName = Literal["gin", "gat", "gcn"]
FeatureMix = Literal["share", "evidence"]
CONVS = get_args(ConvName)
#: attention heads of the GAT convolution; its hidden size must be a multiple of this
GAT_HEADS = 4


#: The largest model the configuration accepts: beyond it a GraphRegressor would not fit in memory (hidden 10**9
#: asks for ~32 GB per layer) or a forward pass would not end (layers 10**6).
MAX_HIDDEN = 4096
MAX_LAYERS = 64
#: Bound of ``prior_power`` (beyond it the best-correlated source alone is the prior).
MAX_PRIOR_POWER = 16.0
#: Bound of ``source_shrink`` (beyond it the least-squares weights are the correlations').
MAX_SOURCE_SHRINK = 100.0
#: The free features' share of the transfer prior is ``sigmoid(FEATURE_PRIOR_RATE * feature_prior_logit +
#: FEATURE_PRIOR_START)``: 0.25 before meta-training. The rate lets the outer optimiser's steps (Adam, 1e-3) move
#: it within a run: unscaled, a feature weight's logit moved by 0.05 in 400 meta-iterations; scaled, the share
#: went to 0.14-0.16 on NB-201 and 0.21-0.32 on NAS-Bench-Graph (experiments/results/predictor_features_apart.md).
FEATURE_PRIOR_RATE = 20.0
FEATURE_PRIOR_START = -1.0986  # logit(0.25)
#: The weights of the graph part (:meth:`GraphRegressor.pool`), by name prefix; the convolutions' own are
#: :data:`CONV_PREFIXES` (PyG modules: deferred by ``defer_convs``).
GRAPH_PREFIXES = ("embed.", "convs.", "rconvs.", "norms.")
CONV_PREFIXES = ("convs.", "rconvs.")


class ModelConfig(TypedConfig):
    """Hyper-parameters of :class:`GraphRegressor` (saved with every checkpoint and checked again at load)."""

    what: ClassVar[str] = "model config"

    conv: ConvName = Field("gin", description="graph convolution")
    hidden: Int = Field(32, ge=1, le=MAX_HIDDEN, description="hidden width of the GNN (a multiple of 4 for gat)")
    layers: Int = Field(3, ge=1, le=MAX_LAYERS, description="graph convolution layers")
    use_sources: bool = Field(
        True, description="read the other tasks' values as source features (--no-sources: graph only)"
    )
    bidirectional: bool = Field(False, description="message passing along and against the edges")
    feature_columns: Int = Field(
        0,
        ge=0,
        description="the last N input columns are the target's free features: encoded apart from the source tasks "
        "and left out of the transfer prior (set by pretraining from its feature list)",
    )
    feature_mix: FeatureMix = Field(
        "share",
        description="how the free features' rank enters the transfer prior beside the sources': 'share' (the "
        "meta-learned share) or 'evidence' (that share reweighted by what the support says about each group: "
        ":meth:`GraphRegressor.feature_weight`)",
    )
    prior_power: Annotated[Float, Field(ge=1, le=MAX_PRIOR_POWER)] = Field(
        1.0,
        description="the transfer prior weighs each source column by its positive support correlation to this "
        "power (1: in proportion; larger: the best-correlated sources dominate)",
    )

    source_weights: SourceWeights = Field(
        "correlation",
        description="what the support says about each source column, read by the transfer prior and the column "
        "encoder: 'correlation' (its own Spearman correlation with the support values), 'least-squares' (the "
        "columns weighed jointly, shrunk towards the correlations; predictors.inputs.least_squares_weights) or "
        "'shrunk' (the correlations shrunk towards their mean by their noise on K points; "
        "predictors.inputs.shrunk_correlations)",
    )
    source_shrink: Annotated[Float, Field(gt=0, le=MAX_SOURCE_SHRINK)] = Field(
        LEAST_SQUARES_SHRINK,
        description="with source_weights 'least-squares': the ridge penalty towards the correlation weights, in units "
        "of the support size (smaller: the support's joint fit weighs more)",
    )

    @model_validator(mode="after")
    def _shrink_needs_least_squares(self) -> ModelConfig:
        if self.source_shrink != LEAST_SQUARES_SHRINK and self.source_weights != "least-squares":
            raise ValueError(
                f"source_shrink {self.source_shrink} is read by source_weights 'least-squares' only; "
                f"got source_weights {self.source_weights!r}"
            )
        return self

    def support_weights(self, src: np.ndarray, y: np.ndarray, features: int | None = None) -> np.ndarray:
        """The weight of each input column on a support (:func:`~surrogate_nas.predictors.inputs.support_weights`
        under this config's ``source_weights`` and ``source_shrink``); ``features``: how many of the last columns are
        free features (default: this config's ``feature_columns``)."""
        from .inputs import support_weights

        features = self.feature_columns if features is None else features
        return support_weights(src, y, self.source_weights, features, self.source_shrink)

    @model_validator(mode="after")
    def _gat_heads(self) -> ModelConfig:
        if self.conv == "gat" and self.hidden % GAT_HEADS:
            raise ValueError(
                f"conv 'gat' splits hidden over {GAT_HEADS} attention heads, so hidden "
                f"must be a multiple of {GAT_HEADS}; got {self.hidden}"
            )
        return self


def _conv(kind: str, hidden: int) -> nn.Module:
    from torch_geometric.nn import GATConv, GCNConv, GINConv

    if kind == "gin":
        return GINConv(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)), train_eps=True)
    if kind == "gat":
        return GATConv(hidden, hidden // GAT_HEADS, heads=GAT_HEADS, add_self_loops=True)
    return GCNConv(hidden, hidden, add_self_loops=True, normalize=True)


class GraphRegressor(nn.Module):
    """Graph (+ source-task values) -> one scalar per architecture.

    forward(x, edge_index, batch, num_graphs, src=None, corr=None):
      * ``x`` node-type ids, ``edge_index``/``batch`` a PyG batch;
      * ``src`` [n_graphs, S] rank-normalised source-task values (NaN = unknown), ``corr`` [S] the
        support-set correlation of each source with the target. Sources are encoded per task and
        mean-pooled, so the number of source tasks may differ between training and adaptation.
      * with ``config.feature_columns = F`` the last F columns of ``src`` are the target's free features (their
        ranks; ``corr`` theirs with the support): a second encoder pools them apart, and they enter the transfer
        prior as a group with a meta-learned share (:meth:`feature_share`), not one vote per column: seven
        NB-201 features no longer outvote its two strong source tasks by their count.

    ``defer_convs``: the convolutions (PyG modules) are built, and given the weights ``load_state_dict`` kept for
    them, the first time anything reaches them (:meth:`pool`, ``convs``/``rconvs``, ``named_parameters``,
    ``state_dict``): :meth:`readout` alone, on cached :meth:`pool` rows, runs without PyG.
    """

    def __init__(self, vocab_size: int, config: ModelConfig | None = None, defer_convs: bool = False):
        super().__init__()
        self.config = config = config or ModelConfig()
        h = config.hidden
        self.embed = nn.Embedding(vocab_size, h)
        # registered here (empty while deferred) so the weights keep their order in state_dict
        self.convs = nn.ModuleList()
        if config.bidirectional:
            self.rconvs = nn.ModuleList()
        self._deferred: dict[str, torch.Tensor] | None = {} if defer_convs else None
        #: Where deferred weights came from (named when they do not fit the convolutions built for them).
        self.weights_from: str | None = None
        if not defer_convs:
            self._build_convs()
        self.norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.layers))
        src_dim = 0
        if config.use_sources:
            self.src_encoder = nn.Sequential(nn.Linear(3, h), nn.ReLU(), nn.Linear(h, h))
            src_dim = h
            if config.feature_columns:
                self.feature_encoder = nn.Sequential(nn.Linear(3, h), nn.ReLU(), nn.Linear(h, h))
                src_dim += h
                # the features' share of the transfer prior (see FEATURE_PRIOR_RATE): meta-learned, so the
                # training tasks decide what the features are worth beside the source tasks
                self.feature_prior_logit = nn.Parameter(torch.tensor(0.0))
        self.head = nn.Sequential(nn.Linear(2 * h + src_dim, h), nn.ReLU(), nn.Linear(h, 1))
        if config.use_sources:
            # scale of the parameter-free transfer prior (see forward); 1.7 ~ 1/std of a uniform rank in [-1, 1]
            self.prior_scale = nn.Parameter(torch.tensor(1.7))

    # ------------------------------------------------------------------ deferred convolutions
    def _new_convs(self) -> dict[str, nn.ModuleList]:
        """Fresh convolution lists by attribute name (``convs``, and ``rconvs`` for a bidirectional model)."""
        c = self.config
        names = ("convs", "rconvs") if c.bidirectional else ("convs",)
        return {name: nn.ModuleList(_conv(c.conv, c.hidden) for _ in range(c.layers)) for name in names}

    def _build_convs(self) -> None:
        for name, convs in self._new_convs().items():
            self._conv_list(name).extend(convs)

    def _conv_list(self, name: str) -> nn.ModuleList:
        """The registered list ``name`` (read without :meth:`__getattr__`, which would build it)."""
        convs = self._modules[name]
        assert isinstance(convs, nn.ModuleList)
        return convs

    @property
    def convs_deferred(self) -> bool:
        """Whether the convolutions are not built yet (a model made with ``defer_convs``)."""
        return self.__dict__.get("_deferred") is not None

    def build_convs(self) -> None:
        """Build deferred convolutions and load the weights kept for them (nothing to do once built); a
        :class:`~surrogate_nas.errors.DataError` names the first weight that does not fit."""
        state = self.__dict__.get("_deferred")
        if state is None:
            return
        lists = self._new_convs()
        built = {f"{name}.{k}": v for name, convs in lists.items() for k, v in convs.state_dict().items()}
        missing, extra = sorted(set(built) - set(state)), sorted(set(state) - set(built))
        shapes = [k for k in built if k in state and state[k].shape != built[k].shape]
        if missing or extra or shapes:
            what = (
                f"{missing[0]!r} missing"
                if missing
                else f"{extra[0]!r} unexpected"
                if extra
                else f"{shapes[0]!r}: {tuple(state[shapes[0]].shape)}, expected {tuple(built[shapes[0]].shape)}"
            )
            where = self.weights_from or "the weights given for them"
            raise DataError(f"the model's {self.config.conv} convolutions do not fit {where} ({what})")
        device = self.embed.weight.device
        for name, convs in lists.items():
            convs.load_state_dict({k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + ".")})
            convs.to(device).train(self.training)
            self._conv_list(name).extend(convs)
        self._deferred = None

    def __getattr__(self, name: str):
        if name in ("convs", "rconvs") and self.__dict__.get("_deferred") is not None:
            self.build_convs()
        return super().__getattr__(name)

    def named_parameters(self, *args, **kwargs):
        self.build_convs()
        return super().named_parameters(*args, **kwargs)

    def state_dict(self, *args, **kwargs):
        self.build_convs()
        return super().state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As :meth:`torch.nn.Module.load_state_dict`; a model whose convolutions are deferred keeps their weights
        for :meth:`build_convs` (checked there)."""
        if self.convs_deferred:
            self._deferred = {k: v for k, v in state_dict.items() if k.startswith(CONV_PREFIXES)}
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith(CONV_PREFIXES)}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _apply(self, fn, recurse: bool = True):
        deferred = self.__dict__.get("_deferred")
        if deferred:
            self._deferred = {k: fn(v) for k, v in deferred.items()}
        return super()._apply(fn, recurse)

    def graph_weights(self) -> dict[str, torch.Tensor]:
        """The weights :meth:`pool` reads, by state_dict name (deferred ones too; nothing is built)."""
        own = {k: v for k, v in super().state_dict(keep_vars=True).items() if k.startswith(GRAPH_PREFIXES)}
        return {**own, **(self.__dict__.get("_deferred") or {})}

    def forward(self, x, edge_index, batch, num_graphs: int, src=None, corr=None, embed: bool = False):
        """Predictions [n]; with ``embed``, also the embedding [n, d] the head reads (plus the transfer
        prior as its last column): the input of a deep-kernel GP head.

        ``readout(pool(...))``: the graph part depends on the weights and the graphs only, so a caller that
        keeps the weights fixed may cache :meth:`pool`'s rows per architecture and run :meth:`readout` alone."""
        return self.readout(self.pool(x, edge_index, batch, num_graphs), src, corr, num_graphs, embed)

    def pool(self, x, edge_index, batch, num_graphs: int) -> torch.Tensor:
        """The graph part: message passing, then [sum-pool / 4, mean-pool] per graph ([n, 2 * hidden]). Reads
        neither the source values nor their support correlations."""
        from torch_geometric.nn import global_add_pool, global_mean_pool

        self.build_convs()
        h = self.embed(x)
        rev = edge_index.flip(0) if self.config.bidirectional else None
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            m = conv(h, edge_index)
            if rev is not None:
                m = m + self.rconvs[i](h, rev)
            h = norm(h + torch.relu(m))
        return torch.cat(
            [global_add_pool(h, batch, size=num_graphs) / 4.0, global_mean_pool(h, batch, size=num_graphs)], -1
        )

    def readout(self, g, src=None, corr=None, num_graphs: int | None = None, embed: bool = False):
        """The rest of :meth:`forward` from :meth:`pool`'s rows ``g``: source encoding, transfer prior and head."""
        n = len(g) if num_graphs is None else num_graphs
        if not self.config.use_sources:
            out = self.head(g).squeeze(-1)
            return (out, g) if embed else out
        # residual on a transfer prior: the support-correlation-weighted mean of the source ranks (mixed with the
        # features' own by their share), so the network learns (and adapts) the correction to source transfer
        # rather than the whole mapping
        src, corr, feats, feat_corr = self._split_columns(src, corr)
        power = self.config.prior_power
        prior = self._prior(src, corr, n, g, power)
        if self.config.feature_columns:
            share = self.feature_weight(corr, feat_corr) if src is not None and src.shape[1] else 1.0
            prior = (1 - share) * prior + share * self._prior(feats, feat_corr, n, g, power)
        parts = [g, self._encode_columns(self.src_encoder, src, corr, n, g)]
        if self.config.feature_columns:
            parts.append(self._encode_columns(self.feature_encoder, feats, feat_corr, n, g))
        g = torch.cat(parts, -1)
        out = self.prior_scale * prior + self.head(g).squeeze(-1)
        return (out, torch.cat([g, prior.unsqueeze(-1)], -1)) if embed else out

    def transfer_prior(self, embedding: torch.Tensor) -> torch.Tensor:
        """The transfer-prior term of the prediction (``prior_scale`` x the support-correlation-weighted source rank,
        mixed with the free features' by :meth:`feature_share` where the model reads features) from an embedding
        :meth:`forward` returned with ``embed=True`` (its last column before any appended one); zeros for a model
        without sources. The prediction minus this term is the network's learned correction."""
        if not self.config.use_sources:
            return embedding.new_zeros(len(embedding))
        return self.prior_scale * embedding[:, self.embedding_dim() - 1]

    def feature_share(self) -> torch.Tensor:
        """The free features' share of the transfer prior (the source tasks' prior has the rest); meta-learned."""
        return torch.sigmoid(FEATURE_PRIOR_RATE * self.feature_prior_logit + FEATURE_PRIOR_START)

    def feature_weight(self, corr, feat_corr) -> torch.Tensor:
        """The free features' weight in the transfer prior: :meth:`feature_share`, or with ``feature_mix="evidence"``
        that share as prior odds times the support's evidence for each group, ``s e_f / (s e_f + (1 - s) e_s)``, where
        a group's evidence ``e`` is the mean of its columns' positive support correlations weighted by themselves
        (what its own correlation-weighted rank is worth). The share where neither group has evidence or there are
        no correlations; per row where the correlations are (``[n, columns]``)."""
        share = self.feature_share()
        if self.config.feature_mix != "evidence" or corr is None or feat_corr is None:
            return share
        e_s, e_f = self._evidence(corr), self._evidence(feat_corr)
        total = share * e_f + (1 - share) * e_s
        return torch.where(total > 1e-6, share * e_f / total.clamp(min=1e-6), share)

    @staticmethod
    def _evidence(corr: torch.Tensor) -> torch.Tensor:
        """Sum of squared positive correlations over their sum (0 where none is positive), over the last axis: the
        correlation-weighted mean correlation, with :meth:`_prior`'s weights."""
        w = corr.clamp(min=0)
        return w.pow(2).sum(-1) / w.sum(-1).clamp(min=1e-6)

    def pool_dim(self) -> int:
        """Width of :meth:`pool`'s rows."""
        return 2 * self.config.hidden

    def embedding_dim(self) -> int:
        """Width of the embedding ``forward(..., embed=True)`` returns."""
        h = self.config.hidden
        if not self.config.use_sources:
            return 2 * h
        return (4 if self.config.feature_columns else 3) * h + 1

    def _split_columns(self, src, corr):
        """(source columns, their correlations, feature columns, theirs): the last ``config.feature_columns``
        input columns are free features (None where there are none)."""
        f = self.config.feature_columns
        if not f or src is None:
            return src, corr, None, None
        if src.shape[1] < f:
            raise ValueError(f"the model reads {f} free-feature columns; the input has {src.shape[1]} columns")
        s = src.shape[1] - f
        if corr is None:
            return src[:, :s], None, src[:, s:], None
        return src[:, :s], corr[..., :s], src[:, s:], corr[..., s:]

    @staticmethod
    def _prior(src, corr, n: int, like: torch.Tensor, power: float = 1.0) -> torch.Tensor:
        """The support-correlation-weighted mean of the columns' ranks (negative correlations weigh 0; each weight is
        the correlation to ``power``)."""
        if src is None or src.shape[1] == 0 or corr is None:
            return like.new_zeros(n)
        mask = ~torch.isnan(src)
        w = corr.clamp(min=0)
        if power != 1:
            w = w.pow(power)
        w = w.expand_as(src) * mask
        return (torch.nan_to_num(src, nan=0.0) * w).sum(1) / w.sum(1).clamp(min=1e-6)

    def _encode_columns(self, encoder: nn.Module, src, corr, n: int, like: torch.Tensor) -> torch.Tensor:
        """``encoder`` applied to each column's (value, correlation, value x correlation), mean-pooled over the
        known columns ([n, hidden]; zeros without columns)."""
        if src is None or src.shape[1] == 0:
            return like.new_zeros(n, self.config.hidden)
        mask = ~torch.isnan(src)
        v = torch.nan_to_num(src, nan=0.0)
        c = (corr if corr is not None else torch.zeros(src.shape[1], dtype=src.dtype, device=src.device)).expand_as(v)
        e = encoder(torch.stack([v, c, v * c], -1)) * mask.unsqueeze(-1)
        return e.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


# ---------------------------------------------------------------------- inputs, loss, functional call
def graph_inputs(space, archs: Sequence, src: np.ndarray, device="cpu") -> tuple:
    """(x, edge_index, batch, num_graphs, src) for :class:`GraphRegressor` from architectures."""
    b = to_batch(space, archs)
    return (
        b.x.to(device),
        b.edge_index.to(device),
        b.batch.to(device),
        len(archs),
        torch.as_tensor(src, dtype=torch.float32, device=device),
    )


def regression_rank_loss(
    pred: torch.Tensor, y: torch.Tensor, rank_weight: float, top_weight: float = 0.0
) -> torch.Tensor:
    """MSE plus ``rank_weight`` x :func:`pairwise_rank_loss`."""
    loss = F.mse_loss(pred, y)
    if rank_weight > 0 and len(y) > 1:
        loss = loss + rank_weight * pairwise_rank_loss(pred, y, top_weight)
    return loss


def pairwise_rank_loss(pred: torch.Tensor, y: torch.Tensor, top_weight: float = 0.0) -> torch.Tensor:
    """Pairwise logistic loss over all ordered pairs (i better than j by ``y``).

    ``top_weight`` in [0, 1] moves weight to pairs whose better member ranks near the top, LambdaRank
    style: a pair's weight is ``(1 - top_weight) + top_weight * c / log2(2 + rank of the better member)``
    (rank 0 = best; ``c`` makes the top-weighted part average 1 over the pairs), so mistakes among
    the best architectures cost more than mistakes among the worst.
    """
    dy = y.unsqueeze(0) - y.unsqueeze(1)
    dp = pred.unsqueeze(0) - pred.unsqueeze(1)
    mask = dy > 0  # [j, i]: y_i > y_j
    if not mask.any():
        return pred.new_zeros(())
    pair_loss = F.softplus(-dp[mask])
    if top_weight <= 0:
        return pair_loss.mean()
    rank = torch.empty_like(y)
    rank[torch.argsort(y, descending=True)] = torch.arange(len(y), dtype=y.dtype, device=y.device)
    gain = (1.0 / torch.log2(2.0 + rank)).unsqueeze(0).expand_as(dp)[mask]  # gain of the better member i
    w = (1.0 - top_weight) + top_weight * gain / gain.mean()
    return (w * pair_loss).mean()


def functional_forward(model: GraphRegressor, params: dict, inputs: tuple, corr, embed: bool = False):
    """``model`` run with ``params`` (a name -> tensor dict) instead of its own weights (``embed``: see
    :meth:`GraphRegressor.forward`)."""
    from torch.func import functional_call

    x, ei, batch, n, src = inputs
    return functional_call(model, params, (x, ei, batch, n, src, corr), {"embed": True} if embed else {})
