"""``correction_weight="cv"``: the weight of the correction beyond the prior's warp chosen by the support's own
held-out folds (surrogate_nas.meta.correction_choice), on a real NB-201 deep-kernel checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from surrogate_nas.meta import calibration
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.correction_choice import CHOICE_SCORES, CORRECTION_CHOICES, CorrectionChoice, held_out_choice
from surrogate_nas.predictors.metrics import kendall_tau


@pytest.mark.parametrize("score", ["cv", "cv-top"])
@pytest.mark.parametrize("k,first", [(20, 30), (30, 0)])  # supports whose folds the weights rank differently
def test_the_support_chooses_the_weight_whose_held_out_folds_rank_best_and_fits_with_it(dkt, archs, k, first, score):
    a, y = archs
    sup, ys = a[first : first + k], y[first : first + k]
    p = adapt(dkt, (sup, ys), task="ImageNet16-120", correction_weight=score)
    folds = calibration.calibration_folds(p.seed, k)
    outputs = calibration.fold_outputs(p, sup, ys, p._columns(sup), folds, CORRECTION_CHOICES)
    order = np.concatenate(folds)
    taus = [CHOICE_SCORES[score](ys[order], np.concatenate([o[0] for o in out])) for out in outputs]
    assert len(set(np.round(taus, 6))) > 1  # the weights rank the folds differently: the choice is a real one
    assert p.correction_choice_.weight == CORRECTION_CHOICES[int(np.argmax(taus))]
    assert p.correction_weight_used() == (None if p.correction_choice_.weight == 1.0 else p.correction_choice_.weight)
    # the fit itself is the fit with that weight: the same predictions
    fixed = adapt(dkt, (sup, ys), task="ImageNet16-120", correction_weight=p.correction_choice_.weight)
    query = a[first + k :]
    np.testing.assert_allclose(p.predict(query), fixed.predict(query), rtol=1e-6)


def test_each_fold_is_calibrated_with_the_weight_chosen_without_it():
    """Three folds of one point each: all folds together choose the second weight, but without fold 0 the first
    weight ranks the other two points better, so fold 0's z-score comes from the first weight's fit."""
    y = np.array([0.0, 1.0, 2.0, 3.0])
    folds = [np.array([i]) for i in range(4)]
    first = [(np.array([v]), np.array([1.0])) for v in (5.0, 0.0, 1.0, 2.0)]  # ranks 1, 2, 3 right; 0 wrong
    second = [(np.array([v]), np.array([2.0])) for v in (0.0, 2.0, 1.0, 3.0)]  # ranks 0 right; 1, 2 swapped
    choice = CorrectionChoice(0.5, folds, [first, second])
    assert kendall_tau(y, [o[0][0] for o in second]) > kendall_tau(y, [o[0][0] for o in first])
    picked = held_out_choice(choice, y)
    assert picked[0] is first[0] and all(picked[f] is second[f] for f in (1, 2, 3))


def test_the_top_score_weighs_a_swap_among_the_best_points_more_than_one_among_the_worst():
    y = np.arange(10.0)
    top_swapped, bottom_swapped = y.copy(), y.copy()
    top_swapped[[8, 9]], bottom_swapped[[0, 1]] = y[[9, 8]], y[[1, 0]]
    assert kendall_tau(y, top_swapped) == kendall_tau(y, bottom_swapped)
    assert CHOICE_SCORES["cv-top"](y, top_swapped) < CHOICE_SCORES["cv-top"](y, bottom_swapped)
    assert CHOICE_SCORES["cv"] is kendall_tau


def test_a_support_too_small_to_score_keeps_the_default_weight(dkt, archs):
    a, y = archs
    p = adapt(dkt, (a[:2], y[:2]), task="ImageNet16-120", correction_weight="cv")
    assert p.correction_choice_.weight == CORRECTION_CHOICES[0] == 0.25


def test_cv_weight_is_refused_beside_an_earned_correction(dkt, archs):
    from surrogate_nas.errors import SurrogateNASError

    a, y = archs
    with pytest.raises(SurrogateNASError, match="give one"):
        adapt(dkt, (a[:10], y[:10]), task="ImageNet16-120", correction_sd=0.5, correction_weight="cv")


def test_negated_values_choose_as_the_values_do(dkt, archs):
    """The top is the best points whichever way the values run: the support negated (``values_negated``, a
    minimising search's values) chooses the weight the values choose."""
    a, y = archs
    sup, ys = a[30:50], y[30:50]
    up = adapt(dkt, (sup, ys), task="ImageNet16-120", correction_weight="cv-top")
    down = adapt(dkt, (sup, -ys), task="ImageNet16-120", correction_weight="cv-top", values_negated=True)
    assert down.correction_choice_.sign == -1.0 and up.correction_choice_.sign == 1.0
    assert down.correction_choice_.weight == up.correction_choice_.weight


def _prior_rank(p, archs):
    from surrogate_nas.predictors.inputs import zero_shot_score

    return zero_shot_score(p._columns(archs))


def test_prior_fit_keeps_little_correction_where_the_source_rank_ranks_the_support(dkt, archs):
    """``"prior-fit"``: W = 1 - rho within 0.25..0.5, rho the support's Spearman correlation with the zero-shot source
    rank. Real ImageNet16-120 values follow their sources (rho about 0.9: the lower bound); the same cells with values
    that run against the source rank get the upper bound; values in between get 1 - rho itself."""
    from scipy.stats import spearmanr

    from surrogate_nas.meta.correction_choice import PRIOR_FIT_RANGE

    a, y = archs
    sup = a[:40]
    real = adapt(dkt, (sup, y[:40]), task="ImageNet16-120", correction_weight="prior-fit", calibrate=False)
    prior = _prior_rank(real, sup)
    assert spearmanr(prior, y[:40]).statistic > 0.75 and real.prior_fit_weight_ == PRIOR_FIT_RANGE[0]
    against = adapt(dkt, (sup, -prior), task="ImageNet16-120", correction_weight="prior-fit", calibrate=False)
    assert against.prior_fit_weight_ == PRIOR_FIT_RANGE[1]
    default = adapt(dkt, (sup, -prior), task="ImageNet16-120", calibrate=False)  # the default's rule
    assert default.correction_weight_used() == PRIOR_FIT_RANGE[1]
    noise = np.random.default_rng(0).standard_normal(40) * np.std(prior)
    between = prior + 1.4 * noise
    rho = spearmanr(prior, between).statistic
    assert 0.5 < rho < 0.75
    p = adapt(dkt, (sup, between), task="ImageNet16-120", correction_weight="prior-fit")
    assert p.prior_fit_weight_ == pytest.approx(1 - rho) and p.prior_warp_.weight == pytest.approx(1 - rho)
    fixed = adapt(dkt, (sup, between), task="ImageNet16-120", correction_weight=1 - rho)
    np.testing.assert_allclose(p.predict(a[40:]), fixed.predict(a[40:]), rtol=1e-6)


def test_prior_fit_folds_fitted_together_use_each_folds_own_weight(dkt, archs):
    """Each calibration fold sets its weight from its own training part: the batched fold fits equal the folds
    refitted one by one (the predictor's own ``_fit_support``), on a support whose folds get different weights."""
    from surrogate_nas.meta.correction_choice import prior_fit_weight

    a, y = archs
    sup = a[:12]
    p0 = adapt(dkt, (sup, y[:12]), task="ImageNet16-120", calibrate=False)
    prior = _prior_rank(p0, sup)
    values = prior + 1.6 * np.random.default_rng(2).standard_normal(12) * np.std(prior)
    p = adapt(dkt, (sup, values), task="ImageNet16-120", correction_weight="prior-fit")
    src, folds = p._columns(sup), calibration.calibration_folds(p.seed, 12)
    weights = {
        prior_fit_weight(p, src[np.setdiff1d(np.arange(12), f)], values[np.setdiff1d(np.arange(12), f)]) for f in folds
    }
    assert len(weights) > 3  # the folds' weights differ
    batched = calibration.fold_z(folds, calibration._conditioned_folds(p, sup, values, src, folds, (None,))[0], values)
    refitted = calibration.fold_z(folds, calibration._refitted_folds(p, sup, values, src, folds, None), values)
    assert len(batched) == 12
    np.testing.assert_allclose(batched, refitted, rtol=2e-4, atol=2e-4)
