"""Held-out calibration of the deep-kernel head's std (surrogate_nas.meta.calibration), on real NB-201 records."""

import numpy as np
import pytest

from surrogate_nas.meta import calibration
from surrogate_nas.meta.adapt import adapt

def test_the_calibration_factor_comes_from_fits_that_never_saw_the_point(dkt, archs):
    """Calibration rescales the std only (the mean is untouched), by a factor read from the support's own errors:
    it is unit-free (the same for the support in other units) and it grows when one support value is far off what
    the other points predict for it. (That the calibrated intervals cover the held-out task's other architectures
    is the next tests' claim.)"""
    a, y = archs
    k = 8
    cal = adapt(dkt, (a[:k], y[:k]), task="ImageNet16-120")
    raw = adapt(dkt, (a[:k], y[:k]), task="ImageNet16-120", calibrate=False)
    (m0, s0), (m1, s1) = raw.predict(a[k:], return_std=True), cal.predict(a[k:], return_std=True)
    assert np.allclose(m0, m1) and np.allclose(s1, s0 * cal.std_factor_) and cal.std_factor_ != 1.0
    assert raw.std_factor_ == 1.0

    rescaled = adapt(dkt, (a[:k], 0.01 * y[:k] + 7.0), task="ImageNet16-120")
    assert rescaled.std_factor_ == pytest.approx(cal.std_factor_, rel=1e-3)

    off = y[:k].copy()
    off[3] = off.max() + 5 * np.ptp(y[:k])  # one value far above what the others predict for it
    assert adapt(dkt, (a[:k], off), task="ImageNet16-120").std_factor_ > 2 * cal.std_factor_


def test_held_out_calibration_covers_the_query_archs_of_a_held_out_task(dkt, archs):
    """Real records: the 90% intervals of a K=20 adaptation cover ImageNet16-120's other archs (median over five
    supports; measured 0.97 here, 0.86 uncalibrated)."""
    a, y = archs

    def coverage(calibrate: bool) -> float:
        cover = []
        for s in range(5):
            idx = np.random.default_rng(s).permutation(len(a))
            sup, qry = idx[:20], idx[20:]
            p = adapt(dkt, ([a[i] for i in sup], y[sup]), task="ImageNet16-120", calibrate=calibrate)
            m, sd = p.predict([a[i] for i in qry], return_std=True)
            cover.append(np.mean(np.abs(y[qry] - m) <= 1.6449 * sd))
        return float(np.median(cover))

    cal = coverage(True)
    assert 0.88 <= cal <= 1.0 and cal > coverage(False)


def test_folds_are_leave_one_out_up_to_twenty_points_then_ten_folds_holding_each_point_once():
    assert [f.tolist() for f in calibration.calibration_folds(0, 4)] == [[0], [1], [2], [3]]
    assert len(calibration.calibration_folds(0, calibration.LOO_MAX)) == calibration.LOO_MAX
    folds = calibration.calibration_folds(3, 43)
    assert len(folds) == calibration.CALIBRATION_FOLDS and {len(f) for f in folds} == {4, 5}
    assert sorted(np.concatenate(folds).tolist()) == list(range(43))
    assert [f.tolist() for f in folds] == [f.tolist() for f in calibration.calibration_folds(3, 43)]
    assert [f.tolist() for f in folds] != [f.tolist() for f in calibration.calibration_folds(4, 43)]


def _z(p, archs, y, how):
    src = p._columns(archs)
    folds = calibration.calibration_folds(p.seed, len(archs))
    if how == "batched":
        outputs = calibration._conditioned_folds(p, archs, y, src, folds, (None,))[0]
    else:
        outputs = calibration._refitted_folds(p, archs, y, src, folds, None)
    return calibration.fold_z(folds, outputs, y)


@pytest.mark.parametrize("k", [8, 20, 43])
@pytest.mark.parametrize(
    "options",
    [{}, {"rank_residual": 0.5}, {"correction_sd": 1.0}, {"correction_weight": 0.5}],
    ids=["plain", "rank", "earned", "warp"],
)
def test_folds_fitted_together_equal_folds_refitted_one_by_one(dkt, archs, k, options):
    """The batched fold fits (one readout, one batched GP solve) are the same fits as the predictor's own
    ``_fit_support`` on each training part: z-scores equal up to float32 rounding (measured here up to ~1e-5
    relative; on the full-size checkpoints of the predictor-quality grid up to 8e-5 at K = 100)."""
    a, y = archs
    idx = np.random.default_rng(k).permutation(len(a))[:k]
    sup, ys = [a[i] for i in idx], y[idx]
    p = adapt(dkt, (sup, ys), task="ImageNet16-120", **options)
    batched, refitted = _z(p, sup, ys, "batched"), _z(p, sup, ys, "refit")
    assert len(batched) == len(refitted) == k
    np.testing.assert_allclose(batched, refitted, rtol=2e-4, atol=2e-4)
    assert np.std(refitted) > 0.1  # real z-scores, not a constant both paths could agree on


def test_a_fold_with_a_constant_training_part_is_skipped_by_both_paths(dkt, archs):
    a, y = archs
    sup, ys = a[:6], np.array([1.0, 1.0, 1.0, 1.0, 1.0, 2.0])  # without point 5, the rest are one value
    p = adapt(dkt, (sup, ys), task="ImageNet16-120")
    batched, refitted = _z(p, sup, ys, "batched"), _z(p, sup, ys, "refit")
    assert len(batched) == len(refitted) == 5
    np.testing.assert_allclose(batched, refitted, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("options,batched", [
    ({}, True),
    ({"rank_residual": "checkpoint"}, True),
    ({"gp_steps": 2}, False),  # each fold re-fits the GP's hyper-parameters
    ({"targets": "anchored"}, False),
    ({"inner_steps": 1}, False),  # each fold adapts its own weights
    ({"correction_weight": 0.5}, True),  # each fold's warp of the transfer prior fitted in the batch
])
def test_only_folds_that_are_conditioning_alone_are_fitted_together(dkt, archs, monkeypatch, options, batched):
    a, y = archs
    used = []
    for name in ("_conditioned_folds", "_refitted_folds"):
        real = getattr(calibration, name)
        monkeypatch.setattr(calibration, name, lambda *args, _n=name, _r=real: used.append(_n) or _r(*args))
    p = adapt(dkt, (a[:12], y[:12]), task="ImageNet16-120", **options)
    assert used == ["_conditioned_folds" if batched else "_refitted_folds"]
    assert p.std_factor_ != 1.0


def test_refitted_k_fold_fits_each_training_part_once(dkt, archs, monkeypatch):
    from surrogate_nas.meta.adapt import MetaGNNPredictor

    seen = []
    real = MetaGNNPredictor._fit_support

    def spy(self, archs_, y_, src):
        seen.append(len(archs_))
        return real(self, archs_, y_, src)

    monkeypatch.setattr(MetaGNNPredictor, "_fit_support", spy)
    a, y = archs
    adapt(dkt, (a[:40], y[:40]), task="ImageNet16-120", targets="anchored")
    assert seen[0] == 40 and len(seen) == 1 + calibration.CALIBRATION_FOLDS and sum(40 - n for n in seen[1:]) == 40


def test_folds_read_each_architectures_pooled_row_once_and_tile_it(dkt, archs, monkeypatch):
    """The folds' readouts (the support's, and the warp's fixed sample under each fold's correlations) repeat the
    same architectures: their pooled rows are looked up once per readout and tiled, the same rows as one lookup of
    the repeated list."""
    from surrogate_nas.meta import adapt as adapt_mod
    from surrogate_nas.meta.predict_inputs import PredictInputs

    a, y = archs
    p = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", calibrate=False)
    once = PredictInputs(p, a[:30])
    tiled = once.tiled(p, 4)
    assert tiled.archs == a[:30] * 4 and np.array_equal(tiled.src, np.tile(once.src, (4, 1)))
    assert np.array_equal(p._pooled(tiled).numpy(), p._pooled(PredictInputs(p, a[:30] * 4)).numpy())
    asked = []
    real = adapt_mod.pooled_rows

    def spy(model, space, rows_of, *rest):
        asked.append(len(rows_of))
        return real(model, space, rows_of, *rest)

    monkeypatch.setattr(adapt_mod, "pooled_rows", spy)
    q = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120")  # the default: each fold warps the prior its own way
    assert q.prior_warp_ is not None and q.std_factor_ != 1.0
    assert max(asked) == len(q._warp_inputs.archs)  # never the 20 folds' copies of the 2,048 warp architectures
