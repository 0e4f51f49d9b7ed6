"""MetaConfig and ModelConfig refuse every bad value with one SurrogateNASError naming it."""

import math

import pytest

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.meta.maml import MAX_INNER_STEPS, MetaConfig
from surrogate_nas.predictors.gnn import ModelConfig


@pytest.mark.parametrize("field, value", [
    ("inner_lr", math.nan), ("inner_lr", math.inf), ("inner_lr", -math.inf), ("inner_lr", 0.0), ("inner_lr", -0.1),
    ("inner_lr", True), ("inner_lr", "0.1"),
    ("outer_lr", math.nan), ("outer_lr", 0.0),
    ("inner_steps", -3), ("inner_steps", MAX_INNER_STEPS + 1), ("inner_steps", 10 ** 20), ("inner_steps", 2.5),
    ("inner_steps", True), ("reptile_steps", 0), ("reptile_steps", 10 ** 20),
    ("iterations", 0), ("iterations", False), ("meta_batch", 0), ("meta_batch", True), ("query_size", 0),
    ("val_every", 0), ("val_episodes", 0), ("patience", 0), ("seed", -1), ("seed", True),
    ("grad_clip", 0.0), ("rank_weight", -1.0), ("rank_weight", math.nan),
    ("source_dropout", 1.0), ("source_dropout", -0.1), ("val_fraction", 0.0), ("val_fraction", 1.0),
    ("first_order", 1), ("meta_sgd", "yes"), ("algorithm", "sgd"),
    ("support_range", (1, 5)), ("support_range", (10, 5)), ("support_range", (5,)), ("support_range", (5.5, 10)),
    ("device", ""),
])
def test_meta_config_refuses(field, value):
    with pytest.raises(SurrogateNASError, match=f"meta config: .*{field}.*got"):
        MetaConfig(**{field: value})


def test_meta_config_accepts_its_bounds():
    MetaConfig(inner_steps=0)
    MetaConfig(inner_steps=MAX_INNER_STEPS, reptile_steps=MAX_INNER_STEPS, iterations=1, meta_batch=1,
               support_range=[2, 2], source_dropout=0.0, rank_weight=0.0)


@pytest.mark.parametrize("field, value", [
    ("hidden", 0), ("hidden", -3), ("hidden", True), ("hidden", 8.0), ("layers", 0), ("layers", -1),
    ("use_sources", 1), ("bidirectional", "no"), ("conv", "sage"),
])
def test_model_config_refuses(field, value):
    with pytest.raises(SurrogateNASError, match=f"model config: .*{field}|model config: unknown conv"):
        ModelConfig(**{field: value})


@pytest.mark.parametrize("hidden", [2, 6, 30])
def test_gat_needs_a_hidden_size_its_heads_divide(hidden):
    """`--conv gat --hidden 2` made a GATConv with 0 channels per head (a crash on the first forward)."""
    with pytest.raises(SurrogateNASError, match=f"multiple of 4; got {hidden}"):
        ModelConfig(conv="gat", hidden=hidden)


def test_gat_with_a_divisible_hidden_size_runs(nb201_table):
    import numpy as np

    from surrogate_nas.predictors.gnn import GraphRegressor, graph_inputs

    model = GraphRegressor(len(nb201_table.space.vocabulary), ModelConfig(conv="gat", hidden=4, layers=1))
    archs = nb201_table.space.enumerate()[:3]
    x, ei, b, n, src = graph_inputs(nb201_table.space, archs, np.zeros((3, 1)))
    assert model(x, ei, b, n, src).shape == (3,)
