"""The network's correction beyond its monotone warp of the transfer prior, weighted (adapt option
``correction_weight``), on a real NB-201 deep-kernel checkpoint."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.stats import spearmanr

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.meta import gp_head
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.gp_head import PriorWarp
from surrogate_nas.meta.predict_inputs import PredictInputs


def test_the_warp_is_a_strictly_increasing_fit_through_the_isotonic_blocks():
    rng = np.random.default_rng(0)
    prior = rng.uniform(-1.7, 1.7, 2000)
    prediction = prior**3 + 0.3 * rng.standard_normal(2000)
    warp = PriorWarp.fit(prior, prediction, 0.5)
    assert warp is not None and np.all(np.diff(warp.knots_x) > 0) and np.all(np.diff(warp.knots_y) > 0)
    grid = np.linspace(-2.5, 2.5, 501)  # beyond both ends too: linear there, never flat
    assert np.all(np.diff(warp(grid)) > 0)
    assert np.abs(warp(prior) - prior**3).mean() < 0.15  # the warp, not the noise
    # a prediction that does not rise with the prior has no warp: the isotonic fit is one constant
    assert PriorWarp.fit(prior, -prior, 0.5) is None


def test_the_warp_is_the_centred_isotonic_fit_with_equal_priors_pooled_as_scikit_learn_pools_them():
    """Equal priors are one point (their mean prediction, weighted by how many): the blocks and their values are
    scikit-learn's ``IsotonicRegression`` fit, within float rounding, on real-sized data with and without ties."""
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(1)
    for ties in (False, True):
        prior = rng.standard_normal(2048)
        prior = np.round(prior, 1) if ties else prior
        prediction = prior**3 + rng.standard_normal(2048)
        order = np.argsort(prior, kind="stable")
        fitted = IsotonicRegression().fit_transform(prior[order], prediction[order])
        starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
        warp = PriorWarp.fit(prior, prediction, 0.5)
        assert warp is not None and len(warp.knots_x) == len(starts) > 10
        np.testing.assert_allclose(warp.knots_y, fitted[starts], rtol=0, atol=1e-12)
        block_means = np.add.reduceat(prior[order], starts) / np.diff(np.r_[starts, len(prior)])
        np.testing.assert_allclose(warp.knots_x, block_means, rtol=0, atol=1e-12)


def test_apply_keeps_the_warp_and_the_weight_of_the_rest():
    import torch

    warp = PriorWarp(np.array([-1.0, 0.0, 1.0]), np.array([-2.0, 0.0, 1.0]), 0.25)
    prior, prediction = torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([0.0, 1.5, 0.0])
    w = torch.tensor([-2.0, 0.5, 2.0])  # W(prior): knots, interpolation, the last segment extended
    assert torch.allclose(warp.apply(prior, prediction), w + 0.25 * (prediction - w))


def test_the_default_sets_the_weight_from_the_prior_and_weight_zero_ranks_as_the_transfer_prior(dkt, archs):
    """K = 20 on ImageNet16-120: the default (None) is ``"prior-fit"`` for this deep-kernel checkpoint of an accuracy
    metric, and these values follow their sources, so it keeps a quarter of the correction; weight 1 is the network as
    it is; with weight 0 the GP's prior mean orders every architecture as the transfer prior does; 0.5 is half way
    between the two means."""
    from surrogate_nas.meta.defaults import DEFAULT_CORRECTION_WEIGHT

    a, y = archs
    sup, qry = (a[:20], y[:20]), a[20:]
    default = adapt(dkt, sup, task="ImageNet16-120")
    one = adapt(dkt, sup, task="ImageNet16-120", correction_weight=1.0)
    assert one.prior_warp_ is None and default.prior_warp_ is not None
    assert default.correction_option() == DEFAULT_CORRECTION_WEIGHT == "prior-fit"
    assert default.correction_weight_used() == default.prior_fit_weight_ == 0.25
    quarter = adapt(dkt, sup, task="ImageNet16-120", correction_weight=0.25)
    assert np.array_equal(default.predict(qry), quarter.predict(qry))
    means = {}
    for w in (0.0, 0.5):
        p = adapt(dkt, sup, task="ImageNet16-120", correction_weight=w)
        assert p.prior_warp_ is not None and p.prior_warp_.weight == w
        m, e = gp_head.embed_all(p, PredictInputs(p, qry))
        means[w] = m.numpy()
        prior = dkt.model.transfer_prior(e).detach().numpy()
    m1, _ = gp_head.embed_all(one, PredictInputs(one, qry))
    assert spearmanr(means[0.0], prior)[0] == pytest.approx(1.0)
    assert spearmanr(m1.numpy(), prior)[0] < 0.999  # the network's own correction reorders
    np.testing.assert_allclose(means[0.5], (means[0.0] + m1.numpy()) / 2, atol=1e-5)


def test_the_default_weight_is_for_deep_kernel_fits_and_gives_way_to_correction_sd(dkt, archs):
    """Function-level and hardware metrics each have their weight (chosen apart: "prior-fit", and the full correction
    for a hardware metric); a MAML checkpoint keeps the full correction; correction_sd, the other way to treat the
    correction, turns the default warp off."""
    from surrogate_nas.meta.defaults import HARDWARE_CORRECTION_WEIGHT, default_correction_weight

    assert default_correction_weight("dkt", "test_acc") == "prior-fit"
    assert default_correction_weight("dkt", "latency_ms") is HARDWARE_CORRECTION_WEIGHT is None
    assert default_correction_weight("maml", "acc") is None and default_correction_weight("maml", "latency") is None
    a, y = archs
    earned = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", correction_sd=0.5, calibrate=False)
    assert earned.correction_weight_used() is None and earned.prior_warp_ is None
    assert earned.correction_option() is None and earned.prior_fit_weight_ is None


def test_the_warp_reads_the_support_only_through_its_correlations(dkt, archs):
    """Two supports with the same source correlations give one warp; the warp's architectures are a fixed sample."""
    a, y = archs
    p = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", correction_weight=0.5, calibrate=False)
    q = adapt(dkt, (a[:20], 2.0 * y[:20] + 1.0), task="ImageNet16-120", correction_weight=0.5, calibrate=False)
    assert np.array_equal(p.corr_, q.corr_)
    np.testing.assert_array_equal(p.prior_warp_.knots_x, q.prior_warp_.knots_x)
    np.testing.assert_allclose(p.prior_warp_.knots_y, q.prior_warp_.knots_y)
    assert len(p._warp_inputs.archs) == gp_head.WARP_ARCHS and p._warp_inputs.archs == q._warp_inputs.archs


def test_the_weighted_correction_predicts_with_calibrated_intervals(dkt, archs):
    a, y = archs
    p = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", correction_weight=0.5)
    mean, std = p.predict(a[20:], return_std=True)
    assert np.isfinite(mean).all() and np.isfinite(std).all() and p.std_factor_ != 1.0
    assert 0.7 <= np.mean(np.abs(y[20:] - mean) <= 1.6449 * std) <= 1.0


def test_one_correction_option_at_a_time(dkt, archs):
    a, y = archs
    msg = "correction_sd (the correction as a basis the support earns) and correction_weight"
    with pytest.raises(SurrogateNASError, match=re.escape(msg)):
        adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", correction_sd=0.5, correction_weight=0.5)
