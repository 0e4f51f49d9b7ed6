"""Calibration metrics, the LightGBM baseline and the random forest's std (real NB-201 records)."""

import numpy as np
import pytest

from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.baselines import TreePredictor, has_uncertainty
from surrogate_nas.predictors.inputs import FreeFeatureValues, SourceValues
from surrogate_nas.predictors.metrics import calibration_report, kendall_tau, ranking_report

from .conftest import support_and_query


def test_calibration_of_a_correct_and_an_overconfident_gaussian():
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=20000), rng.uniform(0.5, 2.0, 20000)
    y = mean + std * rng.standard_normal(20000)
    good = calibration_report(y, mean, std)
    assert set(good) == {"coverage_50", "coverage_90", "gaussian_nll"}
    assert good["coverage_50"] == pytest.approx(0.5, abs=0.02) and good["coverage_90"] == pytest.approx(0.9, abs=0.02)
    assert good["gaussian_nll"] == pytest.approx(0.5 * np.log(2 * np.pi) + np.mean(np.log(std)) + 0.5, abs=0.05)
    over = calibration_report(y, mean, std / 4)
    assert over["coverage_50"] < 0.2 and over["coverage_90"] < 0.4 and over["gaussian_nll"] > good["gaussian_nll"] + 1
    # std of zeros (a predictor with no uncertainty model): floored, so the NLL stays finite
    zero = calibration_report(y, mean, np.zeros_like(std))
    assert zero["coverage_90"] == 0.0 and np.isfinite(zero["gaussian_nll"]) and zero["gaussian_nll"] > over["gaussian_nll"]
    assert calibration_report([1.0, 2.0], [1.0, 2.0], [0.0, 0.0])["coverage_50"] == 1.0


@pytest.mark.parametrize("args, match", [
    (([1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 1.0]), "mean has 2 values but y_true has 3"),
    (([1.0, 2.0], [1.0, 2.0], [1.0]), "std has 1 values but y_true has 2"),
    (([1.0, 2.0], [1.0, 2.0], [1.0, -0.5]), r"std\[1\] = -0.5 is negative"),
    (([1.0, 2.0], [1.0, 2.0], [np.inf, 1.0]), r"std\[0\] = inf is not finite"),
    (([1.0, np.nan], [1.0, 2.0], [1.0, 1.0]), r"y_true\[1\] = nan is not finite"),
    (([], [], []), "y_true is empty"),
    (([[1.0, 2.0]], [[1.0, 2.0]], [[1.0, 1.0]]), "one-dimensional"),
    ((["a", "b"], [1.0, 2.0], [1.0, 1.0]), "y_true is not an array of numbers"),
])
def test_calibration_refuses_bad_input(args, match):
    with pytest.raises(DataError, match=match):
        calibration_report(*args)


def test_ranking_report_is_unchanged():
    y = np.arange(100.0)
    assert ranking_report(y, y) == pytest.approx(
        {"kendall_tau": 1.0, "spearman_rho": 1.0, "kendall_tau_top": 1.0, "precision_at_1pct": 1.0})


@pytest.fixture(scope="module")
def k20(nb201_table):
    """20 distinct support architectures and 2,000 unseen query ones on ImageNet16-120."""
    return support_and_query(nb201_table, 20, 2000, 3000)


def test_lgbm_ranks_unseen_archs_at_k20_and_is_deterministic_per_seed(k20):
    sp, sa, sy, qa, qy = k20
    p = make_predictor("lgbm", space=sp, seed=0).fit(sa, sy)
    pred = p.predict(qa)
    assert kendall_tau(qy, pred) > 0.2  # 0.34 on this split
    assert np.array_equal(pred, make_predictor("lgbm", space=sp, seed=0).fit(sa, sy).predict(qa))
    assert not np.array_equal(pred, make_predictor("lgbm", space=sp, seed=1).fit(sa, sy).predict(qa))
    mean, std = p.predict(qa[:10], return_std=True)
    assert np.array_equal(mean, pred[:10]) and np.all(std == 0) and not has_uncertainty(p)


def test_registry_builds_lgbm_with_and_without_features(nb201_table, k20):
    sp, sa, sy, qa, _ = k20
    feats = FreeFeatureValues(nb201_table, "ImageNet16-120", ("params", "synflow"), "test_acc")
    src = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    plain = make_predictor("lgbm", space=sp, seed=0, n_estimators=50).fit(sa, sy).predict(qa)
    with_f = make_predictor("lgbm", space=sp, seed=0, features=feats, n_estimators=50).fit(sa, sy).predict(qa)
    with_s = make_predictor("lgbm-source", space=sp, seed=0, sources=src, n_estimators=50).fit(sa, sy).predict(qa)
    assert all(np.isfinite(p).all() for p in (plain, with_f, with_s))
    assert not np.allclose(plain, with_f) and not np.allclose(plain, with_s)
    with pytest.raises(SurrogateNASError, match="'lgbm-source' reads source-task values"):
        make_predictor("lgbm-source", space=sp, seed=0)
    with pytest.raises(SurrogateNASError, match="unknown option.*'num_leaves'"):
        make_predictor("lgbm", space=sp, seed=0, num_leaves=7)
    tree = TreePredictor(sp, "xgb", n_estimators=0)  # scikit-learn convention: __init__ only stores its parameters
    assert (tree.kind, tree.n_estimators) == ("xgb", 0)
    with pytest.raises(DataError, match="unknown tree kind 'xgb'; use rf, gbm, lgbm"):
        tree.fit(sa, sy)
    with pytest.raises(DataError, match="rf: n_estimators must be an integer in 1..100000, got 0"):
        make_predictor("rf", space=sp, seed=0, n_estimators=0)


def test_rf_std_is_the_spread_of_its_trees(nb201_table, k20):
    sp, sa, sy, qa, _ = k20
    src = SourceValues(nb201_table, ("cifar10",), "test_acc")
    for name in ("rf", "rf-source"):
        p = make_predictor(name, space=sp, seed=0, sources=src, n_estimators=30).fit(sa, sy)
        mean, std = p.predict(qa[:300], return_std=True)
        assert has_uncertainty(p) and np.array_equal(mean, p.predict(qa[:300]))
        assert np.all(std > 0) and np.ptp(std) > 0.1 * std.mean(), name
        trees = np.stack([t.predict(p._X(qa[:300]).astype(np.float32)) for t in p.model_.estimators_])
        np.testing.assert_allclose(std, trees.std(0))
        np.testing.assert_allclose(mean, trees.mean(0), rtol=1e-9)
    assert p.predict([], return_std=True)[1].shape == (0,)


@pytest.mark.parametrize("name, expected", [("rf", True), ("rf-source", True), ("ridge-source", False),
                                            ("gbm", False), ("lgbm", False), ("lgbm-source", False),
                                            ("source-transfer", False), ("scratch-gnn", False)])
def test_has_uncertainty_per_predictor(name, expected, nb201_table):
    src = SourceValues(nb201_table, ("cifar10",), "test_acc")
    assert has_uncertainty(make_predictor(name, space=nb201_table.space, seed=0, sources=src)) is expected
