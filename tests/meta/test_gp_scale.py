"""The GP's signal variance scaled by a multiplier the checkpoint chose on its own meta-validation episodes
(adapt option ``gp_scale``), on a real NB-201 deep-kernel checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.meta import gp_head
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.deep_kernel import (
    GP_SCALE_SHARES,
    GP_SCALES,
    RANK_SHARE_KS,
    make_gp,
    nearest_size,
    scale_for,
    scale_signal,
    scaled_signal,
)
from surrogate_nas.meta.predict_inputs import PredictInputs

from .conftest import dkt_checkpoint


@pytest.fixture(scope="module")
def scored(nb201_table):
    """The tests' deep-kernel checkpoint meta-trained with ``select_gp_scale`` (the same weights as ``dkt``)."""
    return dkt_checkpoint(nb201_table, select_gp_scale=True)


def test_only_a_checkpoint_asked_to_scores_the_gp_scale(dkt, scored, archs):
    """A checkpoint that scored nothing adapts with ``gp_scale="checkpoint"`` as with the meta-learned variance."""
    assert "gp_scale_taus" not in dkt.info and "gp_scale_taus" in scored.info
    a, y = archs
    auto = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", gp_scale="checkpoint")
    assert auto.gp_signal_scale() == 1.0
    assert np.array_equal(auto.predict(a[20:]), adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120").predict(a[20:]))


def test_a_checkpoint_scores_every_multiplier_at_the_defaults_rank_shares_and_every_size(scored):
    """Meta-training ends by scoring each multiplier of the GP's signal variance at the defaults' shares of rank
    residual on the meta-validation episodes, overall and per support size: finite mean Kendall taus that differ
    between multipliers (the scale changes the posterior mean's ranking)."""
    taus, by_k = scored.info["gp_scale_taus"], scored.info["gp_scale_by_k"]
    assert set(taus) == {f"{s:g}" for s in GP_SCALE_SHARES} and set(by_k) == {str(k) for k in RANK_SHARE_KS}
    for table in (taus, *by_k.values()):
        for row in table.values():
            assert set(row) == {f"{a:g}" for a in GP_SCALES} and np.isfinite(list(row.values())).all()
    assert len({round(v, 6) for v in taus["0"].values()}) > 1


def test_scale_for_picks_the_best_multiplier_at_the_nearest_share_ties_to_the_larger():
    taus = {"0": {"0.1": 0.5, "1": 0.4}, "0.5": {"0.1": 0.6, "1": 0.6}}
    assert scale_for(taus, 0.0) == 0.1
    assert scale_for(taus, 0.25) == 0.1  # nearest share 0 (ties to the smaller share)
    assert scale_for(taus, 0.4) == 1.0  # share 0.5: tied, the larger multiplier
    assert scale_for({}, 0.25) == 1.0  # a checkpoint that scored none keeps the meta-learned variance
    sizes = [nearest_size(("5", "10", "20", "50"), k) for k in (1, 7, 8, 31, 32, 500)]
    assert sizes == ["5", "5", "10", "20", "50", "50"]


def test_scale_signal_multiplies_the_signal_and_keeps_the_noise():
    for kernel in ("rbf", "linear"):
        gp, ref = make_gp(4, kernel), make_gp(4, kernel)
        scale_signal(gp, 0.1)
        x = torch.randn(6, 4)
        with torch.no_grad():
            assert torch.allclose(gp.covar_module(x).to_dense(), 0.1 * ref.covar_module(x).to_dense(), atol=1e-6)
        assert float(gp.likelihood.noise.detach()) == pytest.approx(float(ref.likelihood.noise.detach()))
    gp = make_gp(4, "rbf")
    before = {k: v.clone() for k, v in gp.state_dict().items()}
    with scaled_signal(gp, 0.1):  # how scoring scales the learner's own GP: restored exactly after
        assert float(gp.covar_module.outputscale.detach()) == pytest.approx(0.1 * 0.5)
    assert all(torch.equal(v, gp.state_dict()[k]) for k, v in before.items())


def test_gp_scale_adapts_with_the_scaled_variance_and_checkpoint_reads_the_choice(scored, archs):
    """K = 20 on ImageNet16-120: ``gp_scale=1`` is the default exactly; a small multiplier keeps the prediction
    closer to the network's (the GP moves it less); ``"checkpoint"`` is the fixed multiplier the checkpoint chose at
    the fit's rank share, ``"checkpoint-k"`` the one of the nearest scored size; intervals stay finite and
    calibrated."""
    a, y = archs
    sup, qry = (a[:20], y[:20]), a[20:]
    default = adapt(scored, sup, task="ImageNet16-120")
    assert np.array_equal(default.predict(qry), adapt(scored, sup, task="ImageNet16-120", gp_scale=1.0).predict(qry))
    small = adapt(scored, sup, task="ImageNet16-120", gp_scale=0.03)
    net, _ = gp_head.embed_all(default, PredictInputs(default, qry))
    net = default._to_y(net.numpy().astype(float))
    assert np.abs(small.predict(qry) - net).mean() < np.abs(default.predict(qry) - net).mean()
    share = default.rank_share()
    info = scored.info
    for option, taus in (("checkpoint", info["gp_scale_taus"]), ("checkpoint-k", info["gp_scale_by_k"]["20"])):
        chosen = scale_for(taus, share)
        auto = adapt(scored, sup, task="ImageNet16-120", gp_scale=option)
        fixed = adapt(scored, sup, task="ImageNet16-120", gp_scale=chosen)
        assert auto.gp_signal_scale() == chosen
        for got, want in zip(auto.predict(qry, return_std=True), fixed.predict(qry, return_std=True)):
            assert np.array_equal(got, want)
    mean, std = small.predict(qry, return_std=True)
    assert np.isfinite(std).all() and 0.7 <= np.mean(np.abs(y[20:] - mean) <= 1.6449 * std) <= 1.0


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), 1e4, True, "half"])
def test_a_bad_gp_scale_is_one_line(dkt, archs, value):
    a, y = archs
    with pytest.raises(SurrogateNASError, match=r"adapt: gp_scale: must be a multiplier in \(0, 1000\]"):
        adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", gp_scale=value)
