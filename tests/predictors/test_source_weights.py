"""What the support says about each source column (surrogate_nas.predictors.inputs.support_weights): the columns'
own Spearman correlations, or their joint least-squares weights (``ModelConfig.source_weights``); real records."""

import numpy as np
import pytest

from surrogate_nas.predictors.inputs import (
    SourceValues,
    least_squares_weights,
    support_correlations,
    support_weights,
)

NBG_SOURCES = ("citeseer", "pubmed", "photo", "computers")


@pytest.fixture(scope="module")
def cora(nbg_table):
    """40 cora architectures: their source ranks and values."""
    archs = nbg_table.archs("cora", "valid_perf")
    a = [archs[i] for i in np.random.default_rng(0).permutation(len(archs))[:40]]
    return SourceValues(nbg_table, NBG_SOURCES, "valid_perf", True)(nbg_table.space, a), nbg_table.vector(
        "cora", "valid_perf", a
    )


def test_correlation_weights_are_the_support_correlations(cora):
    src, y = cora
    assert np.array_equal(support_weights(src, y), support_correlations(src, y))


def test_least_squares_weights_differ_keep_the_scale_and_read_ranks_only(cora):
    src, y = cora
    corr = support_correlations(src, y)
    w = support_weights(src, y, "least-squares")
    assert w.dtype == np.float32 and not np.allclose(w, corr, atol=0.01)
    np.testing.assert_allclose(np.abs(w).sum(), np.abs(corr).sum(), rtol=1e-5)
    # ranks of the support values, like the correlations: a monotone transform changes nothing
    np.testing.assert_array_equal(support_weights(src, np.exp(30 * y), "least-squares"), w)


def test_a_column_another_explains_loses_weight_to_it(nb201_table):
    """Target cifar100; sources ImageNet16-120, cifar10 and a noisy copy of cifar10's ranks. The copy correlates with
    the target only through cifar10: weighed jointly it loses share of the prior to the columns that explain it."""
    archs = nb201_table.archs("cifar100", "test_acc")
    a = [archs[i] for i in np.random.default_rng(1).permutation(len(archs))[:30]]
    y = nb201_table.vector("cifar100", "test_acc", a)
    src = SourceValues(nb201_table, ("ImageNet16-120", "cifar10"), "test_acc", True)(nb201_table.space, a)
    src = np.column_stack([src, src[:, 1] + np.random.default_rng(2).normal(0, 0.5, len(a))])

    def copy_share(kind):
        w = np.clip(support_weights(src, y, kind), 0, None)
        return w[2] / w.sum()

    assert copy_share("least-squares") < copy_share("correlation") - 0.02  # measured 0.226 vs 0.264


def test_free_feature_columns_keep_their_correlations(cora):
    src, y = cora
    w = support_weights(src, y, "least-squares", features=1)
    corr = support_correlations(src, y)
    assert w[-1] == corr[-1]
    assert np.array_equal(w[:-1], least_squares_weights(src[:, :-1], y, corr[:-1]))


def test_where_the_support_says_nothing_the_correlations_stay(cora):
    src, y = cora
    for s, v in ((src[:2], y[:2]), (src, np.full(len(y), 0.5))):
        corr = support_correlations(s, v)
        assert np.array_equal(support_weights(s, v, "least-squares"), corr)
    with pytest.raises(ValueError, match="unknown source weights 'nope'"):
        support_weights(src, y, "nope")
