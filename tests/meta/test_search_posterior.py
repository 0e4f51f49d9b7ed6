"""What a guided search asks of a meta-predictor at every evaluation, on real NB-201 records: the graph part's rows
cached across fits and predictions (exactly the uncached predictions), and the joint posterior covariance of a
candidate batch (``predict_cov``) consistent with ``predict``'s std."""

import copy

import gpytorch
import numpy as np
import pytest
import torch

from surrogate_nas.meta import gp_head, pooled
from surrogate_nas.meta.adapt import MetaGNNPredictor, adapt
from surrogate_nas.meta.ensemble import MetaEnsemble
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.inputs import SourceValues, input_columns
from surrogate_nas.predictors.gnn import GraphRegressor, ModelConfig, graph_inputs

from .conftest import distinct_sample

TASK = "ImageNet16-120"


def _dkt(table, seed=0, kernel="rbf"):
    return pretrain(table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=2),
                    MetaConfig(algorithm="dkt", iterations=4, val_every=2, meta_batch=2, seed=seed, kernel=kernel),
                    benchmark_name="nb201", progress=False, target=TASK)


@pytest.fixture(scope="module")
def dkt(nb201_table):
    return _dkt(nb201_table)


@pytest.fixture(scope="module")
def dkt2(nb201_table):
    return _dkt(nb201_table, seed=1)


@pytest.fixture(scope="module")
def archs(nb201_table):
    a = distinct_sample(nb201_table.space, nb201_table.space.enumerate(), 400, seed=5)
    return a, nb201_table.vector(TASK, "test_acc", a)


@pytest.fixture
def uncached(monkeypatch):
    """Switch the pooled-row cache off (every prediction runs the whole network), as a reference."""
    def off():
        monkeypatch.setattr(MetaGNNPredictor, "_cached", lambda self: False)
    return off


def _rows_cached(model) -> int:
    return sum(len(e.index) for e in pooled._POOLED.get(model, {}).values())


# ---------------------------------------------------------------------- the split forward
#: GraphRegressor's outputs on 60 NB-201 cells (seeded weights), recorded from the forward pass as it was before the
#: split into pool + readout: the first three predictions, the predictions' sum and absolute sum, the embedding's
#: absolute sum. A change to the network's arithmetic shows here.
FORWARD = {
    "gin": ([-2.017442, 0.030445, 1.29585], -10.87424, 49.92611, 670.2209),
    "gat": ([-1.714848, 0.231868, 1.473802], -0.94055, 48.91893, 1025.9985),
    "gcn": ([-0.305408, -0.205167, -0.027576], -13.35948, 13.74261, 487.3918),
}


@pytest.mark.parametrize("config", [ModelConfig(hidden=8, layers=2), ModelConfig(conv="gat", hidden=8, bidirectional=True),
                                    ModelConfig(conv="gcn", hidden=8, use_sources=False)])
def test_split_forward_is_pool_then_readout_and_unchanged(nb201_table, archs, config):
    space = nb201_table.space
    torch.manual_seed(0)
    model = GraphRegressor(len(space.vocabulary), config)
    a = archs[0][:60]
    src = input_columns(SourceValues(nb201_table, ("cifar10", "cifar100")), None, space, a)
    src[::7, 1] = np.nan  # unknown source values
    inputs = graph_inputs(space, a, src)
    corr = torch.tensor([0.8, -0.3])
    with torch.no_grad():
        for embed in (False, True):
            new = model(*inputs, corr, embed=embed)
            split = model.readout(model.pool(*inputs[:4]), inputs[4], corr, inputs[3], embed=embed)
            for n, s in zip(*((t if embed else (t,)) for t in (new, split))):
                assert torch.equal(n, s)
        out, emb = model(*inputs, corr, embed=True)
    first, total, total_abs, emb_abs = FORWARD[config.conv]
    np.testing.assert_allclose(out[:3].numpy(), first, rtol=1e-5, atol=1e-6)
    assert [float(out.sum()), float(out.abs().sum()), float(emb.abs().sum())] == pytest.approx(
        [total, total_abs, emb_abs], rel=1e-5)
    assert model.pool(*inputs[:4]).shape == (60, model.pool_dim())


# ---------------------------------------------------------------------- the pooled-row cache
def test_cached_predictions_equal_uncached_across_fits(dkt, archs, uncached, monkeypatch):
    a, y = archs
    supports = [(a[:20], y[:20]), (a[200:225], y[200:225])]
    cands = a[20:200]
    pooled.clear_pooled_cache()
    fits = [adapt(dkt, s, task=TASK) for s in supports]  # the first fills the cache
    cold = [f.predict(cands, return_std=True) for f in fits]
    # the supports, the candidates, and the fixed sample the default's warp of the transfer prior is fitted on
    assert _rows_cached(dkt.model) == len({*a[:225], *fits[0]._warp_inputs.archs})
    calls = []
    monkeypatch.setattr(GraphRegressor, "pool", lambda self, *args: calls.append(len(args)) or pytest.fail("not cached"))
    warm = [adapt(dkt, s, task=TASK).predict(cands, return_std=True) for s in supports]
    assert not calls
    monkeypatch.undo()
    uncached()
    ref = [adapt(dkt, s, task=TASK).predict(cands, return_std=True) for s in supports]
    for r, c, w in zip(ref, cold, warm):
        for i in (0, 1):
            assert np.allclose(c[i], r[i], rtol=0, atol=1e-5) and np.allclose(w[i], r[i], rtol=0, atol=1e-5)
    assert not np.allclose(ref[0][0], ref[1][0])  # two different fits


def test_archs_missing_from_a_warm_cache_are_added(dkt, archs, uncached):
    a, y = archs
    pooled.clear_pooled_cache()
    p = adapt(dkt, (a[:20], y[:20]), task=TASK)
    p.predict(a[20:120])
    warp = set(p._warp_inputs.archs)  # the default's warp of the transfer prior pools its fixed sample too
    assert _rows_cached(dkt.model) == len({*a[:120], *warp})
    mixed = a[300:340] + a[60:100] + a[300:310]  # new, cached, repeated new
    mean, std = p.predict(mixed, return_std=True)
    assert _rows_cached(dkt.model) == len({*a[:120], *a[300:340], *warp})
    uncached()
    ref_mean, ref_std = adapt(dkt, (a[:20], y[:20]), task=TASK).predict(mixed, return_std=True)
    assert np.allclose(mean, ref_mean, rtol=0, atol=1e-5) and np.allclose(std, ref_std, rtol=0, atol=1e-5)


def test_changed_weights_drop_the_cached_rows(dkt, archs, uncached):
    a, y = archs
    ck = copy.deepcopy(dkt)
    before = adapt(ck, (a[:20], y[:20]), task=TASK).predict(a[20:60])
    torch.manual_seed(0)
    with torch.no_grad():
        for w in ck.model.convs.parameters():
            w.add_(0.3 * torch.randn_like(w))  # in place, as an optimiser step or load_state_dict would
    mean = adapt(ck, (a[:20], y[:20]), task=TASK).predict(a[20:60])
    uncached()
    ref = adapt(ck, (a[:20], y[:20]), task=TASK).predict(a[20:60])
    assert np.allclose(mean, ref, rtol=0, atol=1e-5) and not np.allclose(before, ref, rtol=0, atol=1e-3)


def test_adapted_weights_bypass_the_cache_and_the_graph_kernel_caches_its_encoding(nb201_table, dkt, archs, uncached):
    a, y = archs
    pooled.clear_pooled_cache()
    stepped = adapt(dkt, (a[:20], y[:20]), task=TASK, inner_steps=2)
    assert stepped.steps_ == 2 and np.isfinite(stepped.predict(a[20:80], return_std=True)[1]).all()
    assert _rows_cached(dkt.model) == 0
    graph = _dkt(nb201_table, kernel="rbf+graph")
    cached = adapt(graph, (a[:20], y[:20]), task=TASK).predict(a[20:80], return_std=True)
    uncached()
    ref = adapt(graph, (a[:20], y[:20]), task=TASK).predict(a[20:80], return_std=True)
    assert np.allclose(cached, ref, rtol=0, atol=1e-5)


def test_bootstrap_members_without_inner_steps_use_the_cache(tiny_ckpt, archs, uncached):
    a, y = archs
    pooled.clear_pooled_cache()
    cached = adapt(tiny_ckpt, (a[:20], y[:20]), task=TASK, inner_steps=0, n_members=3).predict(a[20:90], return_std=True)
    assert _rows_cached(tiny_ckpt.model) == 70
    uncached()
    ref = adapt(tiny_ckpt, (a[:20], y[:20]), task=TASK, inner_steps=0, n_members=3).predict(a[20:90], return_std=True)
    assert np.allclose(cached, ref, rtol=0, atol=1e-5) and np.all(ref[1] > 0)


# ---------------------------------------------------------------------- the joint posterior
def _check_cov(mean, cov, pred_mean, pred_std, noise):
    assert cov.shape == (len(mean), len(mean)) and np.array_equal(cov, cov.T)
    eig = np.linalg.eigvalsh(cov)
    assert eig.min() >= -1e-6 * eig.max()
    assert np.allclose(mean, pred_mean, rtol=0, atol=1e-6)
    assert np.allclose(np.diag(cov) + noise, pred_std ** 2, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("steps", [None, 1])  # the cached path (no inner step) and the adapted network's
def test_predict_cov_is_the_gp_posterior_and_matches_predict_std(dkt, archs, steps):
    a, y = archs
    p = adapt(dkt, (a[:20], y[:20]), task=TASK, inner_steps=steps)
    cands = a[20:80] + a[:3]  # three measured ones: their variance is smallest
    mean, cov = p.predict_cov(cands)
    pred_mean, pred_std = p.predict(cands, return_std=True)
    noise = p.noise_variance()
    assert noise > 0 and p.std_factor_ != 1.0  # the LOO calibration scales both alike
    _check_cov(mean, cov, pred_mean, pred_std, noise)
    assert np.abs(cov - np.diag(np.diag(cov))).max() > 1e-3 * np.diag(cov).max()  # a joint posterior, not a diagonal
    assert np.diag(cov)[-3:].max() < np.median(np.diag(cov)[:-3])
    # GPyTorch's own posterior covariance of the latent function, scaled to target units
    _, e = gp_head.embed_all(p, p._inputs(cands))
    with torch.no_grad(), gpytorch.settings.fast_pred_var(False):
        ref = p.gp_(e).covariance_matrix.double().numpy() * p._std_scale() ** 2
    assert np.allclose(cov, ref, rtol=1e-3, atol=1e-4 * np.diag(ref).max())


def test_predict_cov_of_bootstrap_members_is_their_covariance(tiny_ckpt, archs):
    a, y = archs
    p = adapt(tiny_ckpt, (a[:20], y[:20]), task=TASK, n_members=4)
    mean, cov = p.predict_cov(a[20:70])
    pred_mean, pred_std = p.predict(a[20:70], return_std=True)
    assert p.noise_variance() == 0.0 and np.all(pred_std > 0)
    _check_cov(mean, cov, pred_mean, pred_std, 0.0)
    assert np.linalg.matrix_rank(cov) <= 4  # the spread of 4 members spans at most 4 directions


def test_ensemble_predict_cov_moment_matches_its_members(dkt, dkt2, archs):
    a, y = archs
    ens = MetaEnsemble([dkt, dkt2], task=TASK).fit(a[:20], y[:20])
    cands = a[20:70]
    mean, cov = ens.predict_cov(cands)
    pred_mean, pred_std = ens.predict(cands, return_std=True)
    _check_cov(mean, cov, pred_mean, pred_std, ens.noise_variance())
    members = [m.predict_cov(cands) for m in ens.members_]
    means = np.stack([m for m, _ in members])
    assert np.allclose(mean, means.mean(0))
    assert np.allclose(cov, (members[0][1] + members[1][1]) / 2 + np.cov(means, rowvar=False, ddof=0))
    assert _rows_cached(dkt.model) >= 70 and _rows_cached(dkt2.model) >= 70  # one cache per member's model
    assert ens.predict_cov([])[1].shape == (0, 0)


def test_acquisition_sees_the_latent_std_of_a_gp_with_known_noise(dkt, dkt2, archs):
    """The GP's likelihood noise is known (``noise_variance``): the std acquisition scores is the latent one, the
    square root of the joint posterior's diagonal, i.e. the predictive std with that noise taken out."""
    from surrogate_nas.meta.ensemble import MetaEnsemble
    from surrogate_nas.search.acquisition import posterior

    a, y = archs
    cands = a[20:80]
    for p in (adapt(dkt, (a[:20], y[:20]), task=TASK), MetaEnsemble([dkt, dkt2], task=TASK).fit(a[:20], y[:20])):
        noise = p.noise_variance()
        _, latent = posterior(p, cands, with_std=True)
        _, cov = p.predict_cov(cands)
        _, predictive = p.predict(cands, return_std=True)
        assert noise > 0 and np.all(latent < predictive)
        assert np.allclose(latent ** 2, np.diag(cov), rtol=1e-4, atol=1e-8)
        assert np.allclose(latent ** 2 + noise, predictive ** 2, rtol=1e-4, atol=1e-8)
