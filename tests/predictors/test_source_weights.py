"""What the support says about each source column (surrogate_nas.predictors.inputs.support_weights): the columns'
own Spearman correlations, or their joint least-squares weights (``ModelConfig.source_weights``); real records."""

import numpy as np
import pytest

from surrogate_nas.predictors.inputs import (
    SourceValues,
    least_squares_weights,
    shrunk_correlations,
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


def test_shrunk_correlations_move_towards_their_mean_by_their_noise(nb201_table):
    """Target cifar100, sources ImageNet16-120 and cifar10: on K supports the two correlations are pulled together
    (empirical Bayes on the Fisher z scale), less as K grows; with K <= 3 or sources the support cannot tell apart
    both get the mean, i.e. the plain mean source rank; the free features' columns are left as they are."""
    archs = nb201_table.archs("cifar100", "test_acc")
    order = np.random.default_rng(3).permutation(len(archs))
    sources = SourceValues(nb201_table, ("ImageNet16-120", "cifar10"), "test_acc", True)
    gaps = {}
    for k in (5, 20, 200):
        a = [archs[i] for i in order[:k]]
        src, y = sources(nb201_table.space, a), nb201_table.vector("cifar100", "test_acc", a)
        corr, w = support_correlations(src, y), support_weights(src, y, "shrunk")
        z, wz = (np.arctanh(np.clip(c.astype(float), 0.5 / k - 1, 1 - 0.5 / k)) for c in (corr, w))  # as it reads
        assert np.isclose(wz.mean(), z.mean(), atol=1e-5)  # pulled towards their mean, on the z scale
        assert abs(wz[0] - wz[1]) <= abs(z[0] - z[1]) + 1e-6
        gaps[k] = abs(wz[0] - wz[1]) / max(abs(z[0] - z[1]), 1e-9)
        both = support_weights(np.column_stack([src, src[:, :1]]), y, "shrunk", features=1)
        assert both[2] == corr[0]  # a free feature keeps its own correlation
    assert gaps[5] < 0.9 < gaps[200]  # the larger the support, the more the data stand
    c = np.array([0.7, 0.3], dtype=np.float32)
    for k in (2, 3):
        np.testing.assert_allclose(shrunk_correlations(c, k), np.tanh(np.arctanh([0.7, 0.3]).mean()), rtol=1e-6)
    np.testing.assert_allclose(shrunk_correlations(np.array([0.5, 0.45], np.float32), 10), 0.475, atol=2e-3)
    assert shrunk_correlations(np.array([0.7], np.float32), 5) == pytest.approx(0.7)  # one source: nothing to pool


def test_a_lighter_shrink_leaves_the_joint_fit_more_say(cora):
    """``shrink`` (``ModelConfig.source_shrink``) is the ridge penalty towards the correlation weights in units of K:
    the weights move from the correlations' towards the support's joint least-squares fit as it falls, keeping the
    correlations' total absolute weight; the default is :data:`LEAST_SQUARES_SHRINK`."""
    from surrogate_nas.predictors.inputs import LEAST_SQUARES_SHRINK

    src, y = cora
    corr = support_correlations(src, y)
    assert np.array_equal(support_weights(src, y, "least-squares"),
                          support_weights(src, y, "least-squares", shrink=LEAST_SQUARES_SHRINK))
    far = [np.abs(support_weights(src, y, "least-squares", shrink=s) - corr).sum() for s in (10.0, 1.0, 0.1, 0.01)]
    assert all(a < b for a, b in zip(far, far[1:])), far
    for s in (10.0, 0.1):
        np.testing.assert_allclose(np.abs(support_weights(src, y, "least-squares", shrink=s)).sum(),
                                   np.abs(corr).sum(), rtol=1e-5)
    # the other kinds do not read it
    assert np.array_equal(support_weights(src, y, "shrunk", shrink=0.1), support_weights(src, y, "shrunk"))
