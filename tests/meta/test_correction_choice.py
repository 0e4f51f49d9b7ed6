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
