"""The transfer prior of the GNN regressor (surrogate_nas.predictors.gnn): the support-correlation-weighted mean of
the source-task ranks, weights to ``ModelConfig.prior_power``; on real NAS-Bench-Graph records."""

import numpy as np
import pytest
import torch

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.meta.checkpoint import load_checkpoint, save_checkpoint
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.gnn import GraphRegressor, ModelConfig, graph_inputs
from surrogate_nas.predictors.inputs import SourceValues, support_correlations

SOURCES = ("citeseer", "pubmed", "photo", "computers")


@pytest.fixture(scope="module")
def support(nbg_table):
    """20 cora architectures, their source ranks and support correlations (which differ between the sources)."""
    archs = nbg_table.archs("cora", "valid_perf")
    idx = np.random.default_rng(0).permutation(len(archs))[:20]
    a = [archs[i] for i in idx]
    y = nbg_table.vector("cora", "valid_perf", a)
    src = SourceValues(nbg_table, SOURCES, "valid_perf", True)(nbg_table.space, a)
    return a, src, support_correlations(src, y)


def _prior(nbg_table, support, power):
    a, src, corr = support
    torch.manual_seed(0)
    model = GraphRegressor(len(nbg_table.space.vocabulary), ModelConfig(hidden=8, layers=1, prior_power=power))
    with torch.no_grad():
        _, e = model(*graph_inputs(nbg_table.space, a, src), corr=torch.as_tensor(corr), embed=True)
    return e[:, -1].numpy().astype(float)  # the embedding's last column is the prior (prior_scale not applied)


@pytest.mark.parametrize("power", [1.0, 2.0, 4.0])
def test_the_prior_weighs_each_source_by_its_positive_correlation_to_the_power(nbg_table, support, power):
    _, src, corr = support
    assert np.ptp(corr) > 0.1  # sources of different worth on this support
    w = np.clip(corr.astype(float), 0, None) ** power
    known = ~np.isnan(src)
    expected = (np.nan_to_num(src) * w * known).sum(1) / (w * known).sum(1)
    np.testing.assert_allclose(_prior(nbg_table, support, power), expected, rtol=1e-5, atol=1e-6)


def test_a_larger_power_moves_the_prior_towards_the_best_correlated_source(nbg_table, support):
    _, src, corr = support
    best = src[:, int(np.argmax(corr))]
    gap = [np.mean(np.abs(_prior(nbg_table, support, p) - best)) for p in (1.0, 2.0, 16.0)]
    assert gap[0] > gap[1] > gap[2]


@pytest.mark.parametrize("value", [0.5, 17.0])
def test_prior_power_out_of_range_is_refused(value):
    with pytest.raises(SurrogateNASError, match=f"prior_power: input should be .*got {value}"):
        ModelConfig(prior_power=value)


def test_a_checkpoint_keeps_its_prior_power(nbg_table, support, tmp_path):
    ck = pretrain(nbg_table, ["citeseer", "pubmed", "photo"], "valid_perf", ModelConfig(hidden=8, layers=1,
                  prior_power=2.0), MetaConfig(iterations=2, val_every=2, meta_batch=2),
                  benchmark_name="nas-bench-graph", progress=False, target="cora")
    loaded = load_checkpoint(save_checkpoint(ck, tmp_path / "ck"))
    assert loaded.model.config.prior_power == 2.0 and ModelConfig().prior_power == 1.0
