"""One target scaler (issue #21): scale_targets gives a TargetScale whose transform/inverse every fit uses."""

import numpy as np

from surrogate_nas.predictors.baselines import ScratchGNNPredictor
from surrogate_nas.predictors.support import ROBUST_CLIP, TargetScale, scale_targets

NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def test_transform_and_inverse_are_the_formulas():
    y = np.array([70.0, 71.5, 69.0, 72.0, 1.0, 70.5])
    z = scale_targets(y, "support")
    assert isinstance(z, TargetScale) and z.clip == float("inf")
    assert np.array_equal(z.transform(y), (y - np.mean(y)) / np.std(y))
    assert np.array_equal(z.inverse(z.transform(y)), (y - np.mean(y)) / np.std(y) * np.std(y) + np.mean(y))
    r = scale_targets(y, "support", "robust")
    assert r.clip == ROBUST_CLIP and r.transform(y).min() == -ROBUST_CLIP  # the diverged 1.0 is clipped
    c, s, clip, sign = r  # unpacks as (centre, spread, clip, sign)
    assert sign == 1.0 and np.array_equal(r.transform(y), np.clip((y - c) / s, -clip, clip))


def test_a_lower_is_better_scale_reads_the_values_negated_and_maps_them_back():
    y = np.array([5.0, 7.5, 6.0, 30.0, 6.5])  # latencies: one slow outlier
    for name in ("zscore", "robust"):
        up, down = scale_targets(y, "support", name), scale_targets(y, "support", name, higher_is_better=False)
        assert down.sign == -1.0 and (down.centre, down.spread, down.clip) == (up.centre, up.spread, up.clip)
        assert np.array_equal(down.transform(y), -up.transform(y))  # the slow outlier is the lowest, clipped alike
        assert np.allclose(down.inverse(down.transform(y))[y < 30], y[y < 30])
        assert np.array_equal(down.orient(y), -y)


def test_scratch_gnn_predicts_through_its_target_scale():
    from surrogate_nas.spaces import get_space

    sp = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = list({sp.format(sp.sample(rng)): None for _ in range(12)})[:8]
    y = np.linspace(60.0, 70.0, len(archs))
    p = ScratchGNNPredictor("nb201", steps=2, seed=0).fit([sp.parse(a) for a in archs], y)
    assert p.y_scale_ == scale_targets(y, "support set") and (p.mean_, p.std_) == p.y_scale_[:2]
