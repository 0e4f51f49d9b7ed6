import numpy as np
import pytest

from surrogate_nas.errors import DataError
from surrogate_nas.predictors.baselines import (ScratchGNNPredictor, SourceRidgePredictor, SourceTransferPredictor,
                                                TreePredictor)
from surrogate_nas.predictors.inputs import SourceValues, onehot, support_correlations
from surrogate_nas.predictors.metrics import kendall_tau, kendall_tau_top, precision_at, ranking_report

from .conftest import support_and_query


def test_metrics_on_known_cases():
    y = np.arange(100.0)
    assert kendall_tau(y, y) == pytest.approx(1.0)
    assert kendall_tau(y, -y) == pytest.approx(-1.0)
    assert precision_at(y, y, 0.05) == 1.0
    assert precision_at(y, -y, 0.05) == 0.0
    p = y.copy()
    p[-5:] = p[-5:][::-1]  # reverse the true top 5
    assert kendall_tau_top(y, p, 0.05) == pytest.approx(-1.0)
    assert set(ranking_report(y, y)) == {"kendall_tau", "spearman_rho", "kendall_tau_top", "precision_at_1pct"}


def test_source_values_are_rank_normalised(nb201_table):
    sp = nb201_table.space
    src = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    archs = sp.enumerate()
    m = src(sp, archs)
    assert m.shape == (15625, 2) and np.nanmin(m) >= -1 and np.nanmax(m) <= 1
    y = nb201_table.vector("cifar100", "test_acc", archs)
    assert kendall_tau(y, m[:, 1]) == pytest.approx(1.0, abs=1e-6)
    assert src.without("cifar10").tasks == ("cifar100",)
    with pytest.raises(DataError, match="unknown source task 'svhn'"):
        SourceValues(nb201_table, ("svhn",), "test_acc")
    corr = support_correlations(m[:50], y[:50])
    assert corr[1] == pytest.approx(1.0, abs=1e-6) and 0 < corr[0] < 1


def test_onehot_encodes_ops_and_links():
    from surrogate_nas.spaces import get_space

    sp = get_space("nas-bench-graph")
    x = onehot(sp, [sp.parse("0012:gcn-gat-skip-sage")])
    assert x.shape == (1, 4 * 9 + 4 * 5) and x.sum() == 8


@pytest.fixture(scope="module")
def split(nb201_table):
    """30 distinct support architectures and 3,000 unseen query ones on ImageNet16-120."""
    return support_and_query(nb201_table, 30, 3000, 4000)


def test_every_baseline_fits_and_ranks_better_than_chance(nb201_table, split):
    sp, sa, sy, qa, qy = split
    src = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    preds = {
        "source-transfer": SourceTransferPredictor(sp, src),
        "ridge-source": SourceRidgePredictor(sp, src),
        "rf-source": TreePredictor(sp, "rf", sources=src, n_estimators=50),
        "rf": TreePredictor(sp, "rf", n_estimators=50),
        "gbm": TreePredictor(sp, "gbm", n_estimators=50),
        "scratch-gnn": ScratchGNNPredictor(sp, steps=60),
    }
    taus = {name: kendall_tau(qy, p.fit(sa, sy).predict(qa)) for name, p in preds.items()}
    assert all(t > 0.1 for t in taus.values()), taus
    assert taus["source-transfer"] > 0.8 and taus["ridge-source"] > 0.8  # CIFAR ranks transfer well to ImageNet16


def test_baselines_refuse_bad_input(nb201_table, split):
    sp, sa, sy, qa, _ = split
    with pytest.raises(DataError, match="before fit"):
        TreePredictor(sp).predict(qa)
    with pytest.raises(DataError, match="at least 2"):
        TreePredictor(sp).fit(sa[:1], sy[:1])
    with pytest.raises(DataError, match="appears twice"):
        TreePredictor(sp).fit([sa[0], sa[0], sa[1]], [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="equal"):
        TreePredictor(sp).fit(sa[:5], np.ones(5))
    with pytest.raises(DataError, match="not finite"):
        TreePredictor(sp).fit(sa[:3], [1.0, np.nan, 2.0])
    with pytest.raises(DataError, match="source task"):
        SourceTransferPredictor(sp, SourceValues(None, ())).fit(sa, sy)


def test_support_correlations_are_spearman_with_ties_and_missing_values():
    from scipy import stats

    rng = np.random.default_rng(0)
    src = rng.normal(size=(30, 4))
    src[rng.random((30, 4)) < 0.2] = np.nan
    src[:, 2] = np.round(src[:, 2])  # ties
    src[:, 3] = 1.0  # constant: undefined -> 0
    y = np.round(rng.normal(size=30), 1)
    expected = [stats.spearmanr(src[~np.isnan(src[:, j]), j], y[~np.isnan(src[:, j])]).statistic for j in range(3)]
    np.testing.assert_allclose(support_correlations(src, y), expected + [0.0], rtol=1e-6)
