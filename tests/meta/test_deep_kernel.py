"""The deep-kernel GP head (algorithm "dkt"), its checkpoints, deep ensembles and the top-weighted ranking loss,
on real NB-201 records."""

import copy
import json

import numpy as np
import pytest
import torch

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.meta import gp_head
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.predict_inputs import PredictInputs
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.gnn import ModelConfig, pairwise_rank_loss
from surrogate_nas.predictors.metrics import kendall_tau

from .conftest import distinct_sample
from .conftest import dkt_checkpoint as _dkt


def test_meta_training_learns_a_gp_head_that_ranks_the_held_out_task(dkt, archs):
    assert dkt.gp is not None and dkt.meta["algorithm"] == "dkt"
    assert {"likelihood.noise_covar.raw_noise", "covar_module.raw_outputscale"} <= set(dkt.gp)
    a, y = archs
    p = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120")
    mean, std = p.predict(a[20:], return_std=True)
    assert kendall_tau(y[20:], mean) > 0.5
    assert np.all(std > 0) and np.isfinite(std).all()


def test_conditioning_fits_the_support_more_closely_as_k_grows(dkt, archs):
    """The GP's fit to the support is exact up to its noise: support residuals shrink against the prior's."""
    a, y = archs
    for k in (10, 100):
        p = adapt(dkt, (a[:k], y[:k]), task="ImageNet16-120")
        fitted = p.predict(a[:k])
        prior = adapt(dkt, (a[:k], y[:k]), task="ImageNet16-120")
        prior.gp_.set_train_data(prior.gp_.train_inputs[0][:0], prior.gp_.train_targets[:0], strict=False)
        assert np.mean((fitted - y[:k]) ** 2) < np.mean((prior.predict(a[:k]) - y[:k]) ** 2)


def test_std_is_smaller_at_measured_architectures(dkt, archs):
    a, y = archs
    p = adapt(dkt, (a[:30], y[:30]), task="ImageNet16-120")
    _, s_in = p.predict(a[:30], return_std=True)
    _, s_out = p.predict(a[30:], return_std=True)
    assert np.median(s_in) < np.median(s_out)


def test_checkpoint_roundtrip_keeps_the_gp_head(dkt, archs, tmp_path):
    save_checkpoint(dkt, tmp_path / "m")
    loaded = load_checkpoint(tmp_path / "m")
    assert set(loaded.gp) == set(dkt.gp)
    a, y = archs
    m1, s1 = adapt(dkt, (a[:15], y[:15]), task="ImageNet16-120").predict(a[15:40], return_std=True)
    m2, s2 = adapt(loaded, (a[:15], y[:15]), task="ImageNet16-120").predict(a[15:40], return_std=True)
    assert np.allclose(m1, m2, atol=1e-5) and np.allclose(s1, s2, atol=1e-5)


def test_a_checkpoint_whose_gp_weights_disagree_with_its_config_is_refused(dkt, tmp_path):
    save_checkpoint(dkt, tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["meta"]["algorithm"] = "maml"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="holds GP head weights but config.json says algorithm 'maml'"):
        load_checkpoint(tmp_path / "m")
    cfg["meta"]["algorithm"], cfg["meta"]["kernel"] = "dkt", "linear"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="do not fit its kernel 'linear'"):
        load_checkpoint(tmp_path / "m")


def test_linear_kernel_and_top_weight_train(nb201_table, archs):
    ck = _dkt(nb201_table, kernel="linear", top_weight=0.5)
    assert "covar_module.raw_variance" in ck.gp
    a, y = archs
    assert kendall_tau(y[20:], adapt(ck, (a[:20], y[:20]), task="ImageNet16-120").predict(a[20:])) > 0.4


def test_kernel_auto_keeps_the_kernel_with_the_better_meta_validation(nb201_table, archs, monkeypatch):
    """kernel="auto" meta-trains the checkpoint with each of AUTO_KERNELS (same seed) and keeps the one whose best
    meta-validation tau is highest, recording every kernel's tau; a tie keeps the first; a gp_head cannot choose one."""
    import importlib

    from surrogate_nas.meta.maml import AUTO_KERNELS

    pretrain_module = importlib.import_module("surrogate_nas.meta.pretrain")
    ck = _dkt(nb201_table, kernel="auto")
    taus = ck.info["kernel_val_taus"]
    assert set(taus) == set(AUTO_KERNELS) and ck.meta["kernel"] == max(AUTO_KERNELS, key=lambda k: taus[k])
    same = _dkt(nb201_table, kernel=ck.meta["kernel"])  # what auto kept, meta-trained on its own
    assert same.info["best_val_tau"] == ck.info["best_val_tau"] == taus[ck.meta["kernel"]]
    a, y = archs
    np.testing.assert_allclose(adapt(ck, (a[:20], y[:20]), task="ImageNet16-120").predict(a[20:60]),
                               adapt(same, (a[:20], y[:20]), task="ImageNet16-120").predict(a[20:60]), atol=1e-6)
    fits = []

    def train(config):  # every kernel scores the same: the first is kept
        fits.append(config.kernel)
        return type(ck)(**{**ck.__dict__, "meta": config.to_dict(), "info": {"best_val_tau": 0.5, "train_seconds": 1.0}})

    tied = pretrain_module._kernel_by_validation(train, MetaConfig(algorithm="dkt", kernel="auto"))
    assert fits == list(AUTO_KERNELS) and tied.meta["kernel"] == AUTO_KERNELS[0] and tied.info["train_seconds"] == 2.0
    with pytest.raises(SurrogateNASError, match="kernel 'auto' chooses a deep-kernel checkpoint's kernel"):
        MetaConfig(kernel="auto", gp_head=True)
    assert MetaConfig(kernel="auto").algorithm == "maml"  # a network without a GP head: no kernel to choose


def test_maml_steps_before_the_gp_and_cv_refused(dkt, archs):
    a, y = archs
    p = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", inner_steps=3)
    assert p.steps_ == 3 and np.isfinite(p.predict(a[20:])).all()
    with pytest.raises(SurrogateNASError, match="inner_steps='cv'.*GP head"):
        adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", inner_steps="cv")


@pytest.mark.parametrize("field,value,msg", [
    ("kernel", "poly", "kernel: input should be 'rbf', 'matern', 'linear', 'rbf\\+graph' or 'auto', got 'poly'"),
    ("top_weight", 1.5, "top_weight: input should be less than or equal to 1, got 1.5"),
])
def test_bad_head_options_are_refused(field, value, msg):
    with pytest.raises(SurrogateNASError, match=msg):
        MetaConfig(algorithm="dkt", **{field: value})


def test_meta_sgd_needs_maml():
    with pytest.raises(SurrogateNASError, match="meta_sgd learns MAML's inner learning rates; algorithm 'dkt'"):
        MetaConfig(algorithm="dkt", meta_sgd=True)


def test_deep_ensemble_averages_members_and_widens_by_their_spread(nb201_table, dkt, archs):
    other = _dkt(nb201_table, seed=1)
    a, y = archs
    ens = make_predictor("meta", checkpoint=[dkt, other], space=nb201_table.space, seed=0, task="ImageNet16-120")
    ens.fit(a[:20], y[:20])
    mean, std = ens.predict(a[20:], return_std=True)
    ms = [m.predict(a[20:], return_std=True) for m in ens.members_]
    assert np.allclose(mean, (ms[0][0] + ms[1][0]) / 2)
    assert np.all(std >= np.minimum(ms[0][1], ms[1][1]) - 1e-9)
    assert np.allclose(std ** 2, (ms[0][1] ** 2 + ms[1][1] ** 2) / 2 + np.var([ms[0][0], ms[1][0]], axis=0))


def test_top_weighted_rank_loss_charges_more_for_mistakes_at_the_top():
    y = torch.arange(10, dtype=torch.float32)  # 9 is best
    top_swapped = y.clone()
    top_swapped[[9, 8]] = top_swapped[[8, 9]]
    bottom_swapped = y.clone()
    bottom_swapped[[0, 1]] = bottom_swapped[[1, 0]]
    plain = [pairwise_rank_loss(p, y, 0.0) for p in (top_swapped, bottom_swapped)]
    assert torch.isclose(plain[0], plain[1])
    weighted = [pairwise_rank_loss(p, y, 1.0) for p in (top_swapped, bottom_swapped)]
    assert weighted[0] > weighted[1]


def test_graph_encoding_is_one_hot_ops_by_position_and_the_adjacency(nb201_table):
    from surrogate_nas.graphs import to_batch
    from surrogate_nas.meta.deep_kernel import graph_encoding, graph_encoding_dim

    sp = nb201_table.space
    archs = distinct_sample(sp, sp.enumerate(), 6)
    b = to_batch(sp, archs)
    enc = graph_encoding((b.x, b.edge_index, b.batch, len(archs)), len(sp.vocabulary))
    n_nodes = len(sp.graph_spec(archs[0])[0])
    assert enc.shape == (6, graph_encoding_dim(sp)) == (6, n_nodes * (len(sp.vocabulary) + n_nodes))
    ops, adj = enc[:, :n_nodes * len(sp.vocabulary)], enc[:, n_nodes * len(sp.vocabulary):]
    assert torch.all(ops.sum(1) == n_nodes)
    for row, a in zip(adj, archs):
        types, edges = sp.graph_spec(a)
        assert int(row.sum()) == len(set(map(tuple, edges)))
        assert all(row[i * n_nodes + j] == 1 for i, j in edges)
    # different cells, different encodings
    assert len({tuple(r.tolist()) for r in enc}) == 6


def test_graph_kernel_head_trains_and_round_trips(nb201_table, archs, tmp_path):
    ck = _dkt(nb201_table, kernel="rbf+graph")
    save_checkpoint(ck, tmp_path / "g")
    loaded = load_checkpoint(tmp_path / "g")
    a, y = archs
    m1 = adapt(ck, (a[:20], y[:20]), task="ImageNet16-120").predict(a[20:])
    m2 = adapt(loaded, (a[:20], y[:20]), task="ImageNet16-120").predict(a[20:])
    assert np.allclose(m1, m2, atol=1e-5) and kendall_tau(y[20:], m1) > 0.4


def test_maml_with_a_meta_learned_gp_head(nb201_table, archs, tmp_path):
    ck = pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=16, layers=2),
                  MetaConfig(iterations=10, val_every=5, gp_head=True, gp_iterations=20), benchmark_name="nb201",
                  progress=False, target="ImageNet16-120")
    assert ck.meta["algorithm"] == "maml" and ck.gp
    save_checkpoint(ck, tmp_path / "m")
    loaded = load_checkpoint(tmp_path / "m")
    a, y = archs
    p = adapt(loaded, (a[:20], y[:20]), task="ImageNet16-120")
    assert p.steps_ == 5  # MAML's own inner steps, then the GP on the adapted network's residuals
    mean, std = p.predict(a[20:], return_std=True)
    assert np.all(std > 0) and kendall_tau(y[20:], mean) > 0.3
    with pytest.raises(SurrogateNASError, match="gp_head adds a GP head to maml/reptile/multitask"):
        MetaConfig(algorithm="dkt", gp_head=True)


def test_robust_target_scale_keeps_a_diverged_support_value_from_setting_the_scale(nb201_table, archs):
    from surrogate_nas.predictors.support import ROBUST_CLIP, scale_targets

    y = np.array([1.0, 60.0, 62.0, 64.0, 66.0, 68.0, 70.0])  # one diverged training among normal ones
    c, s, clip, _ = scale_targets(y, "support", "robust")
    z = np.clip((y - c) / s, -clip, clip)
    assert c == 64.0 and clip == ROBUST_CLIP and z[0] == -ROBUST_CLIP
    assert np.ptp(z[1:]) > 2.0  # the others keep their spread (a z-score squeezes them into ~0.9)
    assert np.ptp(((y - y.mean()) / y.std())[1:]) < 1.0
    with pytest.raises(SurrogateNASError, match="target scale must be one of zscore, robust"):
        scale_targets(y, "support", "rank")
    ck = _dkt(nb201_table, target_scale="robust")
    a, ys = archs
    ys = ys.copy()
    ys[0] = 1.0
    p = adapt(ck, (a[:20], ys[:20]), task="ImageNet16-120")
    assert p.y_mean_ == np.median(ys[:20]) and np.isfinite(p.predict(a[20:])).all()


def test_a_hardware_metric_defaults_to_the_linear_kernel(monkeypatch):
    """Latency, parameters, FLOPs: the default's kernel is linear (meta.defaults.HARDWARE_META); accuracy keeps the RBF
    kernel; an explicit kernel wins. pretrain() on a latency table without a meta_config builds that default."""
    from surrogate_nas.benchmarks.readers import read_table
    from surrogate_nas.meta import deep_kernel
    from surrogate_nas.meta.defaults import DEFAULT_META, default_meta
    from surrogate_nas.meta.maml import default_meta_config

    from ..conftest import REPO

    assert default_meta_config("latency_ms").kernel == default_meta_config("num_params").kernel == "linear"
    assert default_meta_config("test_acc").kernel == default_meta_config().kernel == "rbf"
    assert default_meta_config("latency_ms", kernel="rbf").kernel == "rbf"
    # meta-validation: a task per member for accuracy, a seed-drawn one for hardware metrics (each chosen on its own
    # validation targets / settings)
    assert default_meta_config("test_acc").meta_val == "task-seed" and default_meta_config("latency_ms").meta_val == "task"
    # the query ranking loss: weighted towards the top for accuracy, unweighted for hardware metrics (the same)
    assert default_meta_config("test_acc").top_weight == 1.0 and default_meta_config("latency_ms").top_weight == 0.0
    assert default_meta("valid_perf") == default_meta() == DEFAULT_META

    class Fitted(Exception):
        pass

    def stop(self, *args, **kwargs):
        raise Fitted(self.config)

    monkeypatch.setattr(deep_kernel.DKTLearner, "fit", stop)
    table = read_table(REPO / "data" / "latency" / "nb201_cpu_latency.csv", "nb201", metric="latency_ms")
    with pytest.raises(Fitted) as e:
        pretrain(table, None, "latency_ms", ModelConfig(hidden=8, layers=1), higher_is_better=False, progress=False,
                 target="t1-b32-fp32")
    assert e.value.args[0] == default_meta_config("latency_ms") and e.value.args[0].kernel == "linear"


def test_the_default_meta_predictor_is_the_robust_deep_kernel_head(nb201_table, monkeypatch):
    """pretrain() without a meta_config meta-trains the default: the learner it builds is the deep-kernel one and
    receives default_meta_config() (the run is stopped at the learner's fit, before any training)."""
    from surrogate_nas.meta import deep_kernel
    from surrogate_nas.meta.maml import DEFAULT_META, MetaLearner, default_meta_config

    cfg = default_meta_config(iterations=7)
    assert (cfg.algorithm, cfg.target_scale, cfg.meta_val, cfg.iterations) == ("dkt", "robust", "task-seed", 7)
    assert MetaConfig().algorithm == "maml" and DEFAULT_META["algorithm"] == "dkt"  # the bare learner stays MAML

    class Fitted(Exception):
        pass

    def stop(self, *args, **kwargs):
        raise Fitted(type(self).__name__, self.config)

    monkeypatch.setattr(MetaLearner, "fit", stop)
    monkeypatch.setattr(deep_kernel.DKTLearner, "fit", stop)
    with pytest.raises(Fitted) as e:
        pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                 benchmark_name="nb201", progress=False, target="ImageNet16-120")
    learner, used = e.value.args
    assert learner == "DKTLearner" and used == default_meta_config()


def test_posterior_equals_gpytorchs_own_prediction():
    from surrogate_nas.meta.deep_kernel import condition, make_gp, posterior

    gen = torch.Generator().manual_seed(1)
    for kernel in ("rbf", "linear"):
        gp = make_gp(5, kernel)
        x, xs = torch.randn(30, 5, generator=gen), torch.randn(200, 5, generator=gen)
        condition(gp, x, torch.randn(30, generator=gen))
        mean, std = posterior(gp, xs)
        with torch.no_grad():
            ref = gp.likelihood(gp(xs))
        assert torch.allclose(mean, ref.mean, atol=1e-4) and torch.allclose(std, ref.variance.sqrt(), atol=1e-4)
        m0, s0 = posterior(gp, xs, noise=False)
        assert torch.allclose(m0, mean) and torch.all(s0 < std)


def test_the_correction_basis_is_the_explicit_basis_gp_of_rasmussen_and_williams():
    """A GP whose inputs carry the correction c as a last column and whose kernel gains sd^2 c c^T gives the mean and
    variance of R&W (2006) eqs. 2.41-2.42 for h(x) = c(x), b = 0, B = sd^2: the GLS weight of c, shrunk to 0."""
    from surrogate_nas.meta.deep_kernel import add_correction_basis, condition, make_gp, posterior

    gen = torch.Generator().manual_seed(2)
    x, xs = torch.randn(12, 5, generator=gen), torch.randn(40, 5, generator=gen)
    c, cs = torch.randn(12, generator=gen), torch.randn(40, generator=gen)
    r = 2.0 * c + 0.3 * torch.randn(12, generator=gen)
    sd = 1.5
    gp = condition(add_correction_basis(make_gp(5, "rbf"), 5, sd), torch.cat([x, c[:, None]], 1), r)
    mean, std = posterior(gp, torch.cat([xs, cs[:, None]], 1), noise=False)
    base = make_gp(5, "rbf")
    with torch.no_grad():
        a = base.covar_module(x).to_dense().double() + base.likelihood.noise.double() * torch.eye(12, dtype=torch.double)
        ks = base.covar_module(xs, x).to_dense().double()
        kss = base.covar_module(xs, diag=True).double()
    ai = torch.linalg.inv(a)
    c, cs, r = c.double(), cs.double(), r.double()
    prec = c @ ai @ c + 1 / sd**2
    w = (c @ ai @ r) / prec  # the posterior weight of the correction (eq. 2.41's beta-bar)
    ref_mean = ks @ ai @ (r - w * c) + w * cs
    big_r = cs - ks @ ai @ c
    ref_var = kss - (ks @ ai * ks).sum(1) + big_r**2 / prec
    assert 1.0 < float(w) < 2.5  # the support earned most of the correction it was built from
    assert torch.allclose(mean.double(), ref_mean, atol=1e-4)
    assert torch.allclose(std.double() ** 2, ref_var, atol=1e-4)


def test_an_earned_correction_predicts_the_transfer_prior_when_the_support_cannot_pay_for_it(dkt, archs):
    """With a vanishing prior on the correction's weight the adapted mean is the transfer prior plus the GP's fit of the
    residual: the support's own values move it, the network's learned correction does not; with a wide prior the
    support buys back what the correction is worth; the std stays calibrated and finite either way."""
    a, y = archs
    sup, qry = (a[:20], y[:20]), (a[20:], y[20:])
    zero = adapt(dkt, sup, task="ImageNet16-120", correction_sd=1e-6)
    _, net, emb = next(gp_head.network_outputs(zero, PredictInputs(zero, qry[0])))
    with torch.no_grad():
        prior = zero.ckpt_.model.transfer_prior(emb).numpy()
    unconditioned = adapt(dkt, sup, task="ImageNet16-120", correction_sd=1e-6)
    unconditioned.gp_.set_train_data(unconditioned.gp_.train_inputs[0][:0], unconditioned.gp_.train_targets[:0],
                                     strict=False)
    assert kendall_tau(prior, unconditioned.predict(qry[0])) > 0.999  # no support: the transfer prior's ranking
    assert kendall_tau(net.numpy(), unconditioned.predict(qry[0])) < 0.999  # ... which is not the network's
    wide = adapt(dkt, sup, task="ImageNet16-120", correction_sd=10.0)
    full = adapt(dkt, sup, task="ImageNet16-120")
    for p in (zero, wide):
        mean, std = p.predict(qry[0], return_std=True)
        assert kendall_tau(qry[1], mean) > 0.5 and np.isfinite(std).all() and np.all(std > 0)
    assert abs(kendall_tau(qry[1], wide.predict(qry[0])) - kendall_tau(qry[1], full.predict(qry[0]))) < 0.05


def test_gp_lr_moves_the_kernel_hyper_parameters_at_their_own_rate(nb201_table, dkt):
    """At the shared outer rate the GP's hyper-parameters hardly leave their start; with gp_lr they move further in
    the same iterations."""
    from surrogate_nas.meta.deep_kernel import make_gp

    start = make_gp(dkt.model.embedding_dim(), "rbf").state_dict()
    fast = _dkt(nb201_table, gp_lr=0.03)
    assert fast.meta["gp_lr"] == 0.03 and dkt.meta["gp_lr"] is None

    def moved(ck):
        return max(float((ck.gp[k] - start[k]).abs().max()) for k in ck.gp)

    assert moved(dkt) < 0.05 < 0.2 < moved(fast)  # 30 Adam steps at 1e-3 move a raw value by at most 0.03
    assert fast.info["best_val_tau"] > 0.3  # still a working predictor


def test_hyper_priors_add_their_log_density_to_the_marginal_likelihood():
    """add_hyper_priors: log-normal priors centred on the start; GPyTorch's marginal likelihood adds their log density
    once per data point, and log_hyper_prior gives the same sum; the checkpoint's state (parameters) is unchanged."""
    import gpytorch

    from surrogate_nas.meta.deep_kernel import add_hyper_priors, log_hyper_prior, make_gp

    gp = make_gp(8, "rbf")
    x, r = torch.randn(20, 8, generator=torch.Generator().manual_seed(0)), torch.linspace(-1, 1, 20)
    gp.set_train_data(x, r, strict=False)
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(gp.likelihood, gp)
    plain = float(mll(gp(x), r).detach())
    names = sorted(dict(gp.named_parameters()))
    assert float(log_hyper_prior(gp).detach()) == 0.0
    add_hyper_priors(gp, 0.5)
    at_start = float(log_hyper_prior(gp).detach())  # 9 log-normal densities at their median: -sum(log x + log(sd sqrt(2 pi)))
    expect = -(8 * np.log(np.sqrt(8)) + np.log(0.1) + 9 * np.log(0.5 * np.sqrt(2 * np.pi)))
    assert at_start == pytest.approx(expect, rel=1e-5)
    assert float(mll(gp(x), r).detach()) == pytest.approx(plain + at_start / 20, rel=1e-5)
    with torch.no_grad():
        gp.covar_module.base_kernel.raw_lengthscale[0, 0] -= 3.0  # one lengthscale far shorter: less prior density
    assert float(log_hyper_prior(gp).detach()) < at_start - 1.0
    assert sorted(dict(gp.named_parameters())) == names


def test_gp_prior_sd_keeps_fast_hyper_parameters_near_their_start(nb201_table):
    """gp_lr 0.03 with tight priors (gp_prior_sd 0.05) moves the lengthscales and noise less than gp_lr 0.03 alone in the
    same iterations; the option is recorded in the checkpoint."""
    from surrogate_nas.meta.deep_kernel import make_gp

    fast = _dkt(nb201_table, gp_lr=0.03)
    start = make_gp(fast.model.embedding_dim(), "rbf").state_dict()
    held = _dkt(nb201_table, gp_lr=0.03, gp_prior_sd=0.05)
    assert held.meta["gp_prior_sd"] == 0.05 and fast.meta["gp_prior_sd"] is None

    def moved(ck):
        keys = ("covar_module.base_kernel.raw_lengthscale", "likelihood.noise_covar.raw_noise")
        return sum(float((ck.gp[k] - start[k]).abs().sum()) for k in keys)

    assert moved(held) < 0.5 * moved(fast)
    assert held.info["best_val_tau"] > 0.3


def test_gp_lr_must_be_positive():
    with pytest.raises(SurrogateNASError, match="gp_lr"):
        MetaConfig(gp_lr=0)


def test_predictive_objective_is_the_query_likelihood_given_the_support(nb201_table):
    """dkt_objective="predictive": the episode loss is the query's negative log likelihood under the GP conditioned on
    the support's residuals (checked against the Gaussian conditional computed here in float64), and gradients reach
    the kernel's hyper-parameters and the network."""
    from scipy.stats import multivariate_normal

    from surrogate_nas.meta.deep_kernel import DKTLearner
    from surrogate_nas.meta.tasks import EpisodeSampler, table_tasks
    from surrogate_nas.predictors.gnn import GraphRegressor

    torch.manual_seed(0)
    model = GraphRegressor(len(nb201_table.space.vocabulary), ModelConfig(hidden=16, layers=2))
    learner = DKTLearner(model, MetaConfig(algorithm="dkt", dkt_objective="predictive", rank_weight=0.0))
    tasks = table_tasks(nb201_table, ["cifar10", "cifar100"], "test_acc")
    ep = EpisodeSampler(tasks, support_range=(8, 8), query_size=30).sample(np.random.default_rng(1))
    loss = learner.meta_loss([ep])
    loss.backward()
    assert learner.gp.covar_module.raw_outputscale.grad.abs() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.params.values())
    with torch.no_grad():
        m_s, e_s = learner._embed(ep.support, ep.corr)
        m_q, e_q = learner._embed(ep.query, ep.corr)
        kern, noise = learner.gp.covar_module, float(learner.gp.likelihood.noise)
        k_ss = kern(e_s).to_dense().double().numpy() + noise * np.eye(len(m_s))
        k_qs = kern(e_q, e_s).to_dense().double().numpy()
        k_qq = kern(e_q).to_dense().double().numpy() + noise * np.eye(len(m_q))
        r_s, r_q = (ep.y_support - m_s).double().numpy(), (ep.y_query - m_q).double().numpy()
    mean = k_qs @ np.linalg.solve(k_ss, r_s)
    cov = k_qq - k_qs @ np.linalg.solve(k_ss, k_qs.T)
    expected = -multivariate_normal(mean, cov).logpdf(r_q) / len(r_q)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-3, abs=1e-3)
    marginal = DKTLearner(model, MetaConfig(algorithm="dkt", rank_weight=0.0)).meta_loss([ep])
    assert abs(float(marginal) - expected) > 1e-2  # the default objective is another quantity


def test_predictive_objective_trains_a_working_checkpoint(nb201_table, archs):
    ck = _dkt(nb201_table, dkt_objective="predictive")
    assert ck.meta["dkt_objective"] == "predictive"
    a, y = archs
    p = adapt(ck, (a[:20], y[:20]), task="ImageNet16-120")
    mean, std = p.predict(a[20:], return_std=True)
    assert kendall_tau(y[20:], mean) > 0.5 and np.isfinite(std).all() and np.all(std > 0)


def test_rank_residual_is_zero_where_the_support_orders_as_the_network_does():
    """The rank residual hands the network's sorted support predictions out in the order of the values: 0 for a
    support the network orders correctly, whatever the scale of the values (a monotone warp); the value map is the
    least-squares line from the GP's scale back to z."""
    from surrogate_nas.meta.deep_kernel import rank_residual

    m = torch.tensor([0.3, -1.0, 0.8, 0.1])
    z = 2.0 * m ** 3 + 0.5  # the same order, another scale
    r, (shift, slope) = rank_residual(m, z - m, 1.0)
    assert torch.allclose(r, torch.zeros(4)) and slope > 0
    assert np.polyfit(m.numpy(), z.numpy(), 1) == pytest.approx([slope, shift], rel=1e-5)
    swapped = z.clone()
    swapped[[0, 2]] = swapped[[2, 0]]  # the support puts the network's 1st and 3rd the other way round
    r, _ = rank_residual(m, swapped - m, 1.0)
    assert r.tolist() == pytest.approx([0.5, 0.0, -0.5, 0.0])
    half, _ = rank_residual(m, swapped - m, 0.5)
    assert torch.allclose(half, 0.5 * r + 0.5 * (swapped - m))
    # the robust scale clips extreme values into ties: the order comes from the raw values
    raw, clipped = np.array([10.0, 1.0, 9.0, 2.0]), torch.tensor([3.0, -0.5, 3.0, 0.0])
    assert torch.allclose(rank_residual(m, clipped - m, 1.0)[0], torch.zeros(4))  # tie: the network's order
    assert rank_residual(m, clipped - m, 1.0, raw)[0].tolist() == pytest.approx([0.5, 0.0, -0.5, 0.0])


def test_with_rank_residuals_the_ranking_depends_on_the_support_only_through_its_order(dkt, archs):
    """rank_residual=1 on real records: a monotone transform of the support values leaves the predicted order of
    every other architecture unchanged (the values follow the transform through the value map); with value residuals
    (the default) it does not."""
    a, y = archs
    sup, qry = (a[:20], y[:20]), a[20:]
    warped = np.exp((y[:20] - y[:20].mean()) / 3.0)  # strictly increasing, far from linear
    taus = {}
    for share in (1.0, 0.0):
        p, q = (adapt(dkt, (sup[0], v), task="ImageNet16-120", rank_residual=share) for v in (sup[1], warped))
        taus[share] = kendall_tau(p.predict(qry), q.predict(qry))
        mean, std = q.predict(qry, return_std=True)
        assert np.isfinite(mean).all() and np.all(std > 0)
    assert taus[1.0] == pytest.approx(1.0) and taus[0.0] < 0.999


def test_rank_residual_predictions_stay_values_with_calibrated_intervals(dkt, archs):
    """Real records, ImageNet16-120, K = 20: with rank_residual=0.5 the predictions are in the target's units (their
    mean error is a fraction of the values' spread) and the held-out-calibrated 90% intervals cover most query
    archs; a share outside [0, 1] is one line."""
    a, y = archs
    cover, err = [], []
    for s in range(3):
        idx = np.random.default_rng(s).permutation(len(a))
        sup, qry = idx[:20], idx[20:]
        p = adapt(dkt, ([a[i] for i in sup], y[sup]), task="ImageNet16-120", rank_residual=0.5)
        m, sd = p.predict([a[i] for i in qry], return_std=True)
        cover.append(np.mean(np.abs(y[qry] - m) <= 1.6449 * sd))
        err.append(np.median(np.abs(y[qry] - m)) / np.std(y[qry]))
    assert np.median(cover) >= 0.8 and np.median(err) < 0.5
    with pytest.raises(SurrogateNASError, match="rank_residual: must be a share in \\[0, 1\\], 'checkpoint'"):
        adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", rank_residual=1.5)


def test_a_deep_kernel_checkpoint_chooses_its_rank_share_on_its_own_validation_episodes(dkt, archs):
    """Meta-training ends by scoring each share of rank residual on the meta-validation episodes (training tasks
    only); the checkpoint keeps the best and adapt uses it with rank_residual="checkpoint"."""
    from surrogate_nas.meta.deep_kernel import RANK_SHARES

    share, taus = dkt.info["rank_share"], dkt.info["rank_share_taus"]
    assert share in RANK_SHARES and set(taus) == {f"{s:g}" for s in RANK_SHARES}
    assert taus[f"{share:g}"] == max(taus.values())
    a, y = archs
    auto = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", rank_residual="checkpoint")
    fixed = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", rank_residual=share)
    assert auto.rank_share() == share and np.array_equal(auto.predict(a[20:]), fixed.predict(a[20:]))


def test_a_deep_kernel_checkpoint_chooses_a_rank_share_per_support_size(dkt, archs):
    """The same episodes scored per support size: each size keeps its best share (ties to the smaller), and
    rank_residual="checkpoint-k" adapts with the share of the scored size nearest the support's on a log scale."""
    from surrogate_nas.meta.deep_kernel import RANK_SHARE_KS, RANK_SHARES, share_for_size

    by_k = dkt.info["rank_share_by_k"]
    assert set(by_k) == {str(k) for k in RANK_SHARE_KS}
    for choice in by_k.values():
        best = max(choice["taus"].values())
        assert choice["share"] == min(s for s in RANK_SHARES if choice["taus"][f"{s:g}"] == best)
    chosen = {"5": {"share": 0.0}, "10": {"share": 0.25}, "20": {"share": 0.5}, "50": {"share": 1.0}}
    sizes = {1: 0.0, 7: 0.0, 8: 0.25, 14: 0.25, 15: 0.5, 31: 0.5, 32: 1.0, 500: 1.0}
    assert {k: share_for_size(chosen, k) for k in sizes} == sizes
    a, y = archs
    for k in (5, 20):
        by_size = adapt(dkt, (a[:k], y[:k]), task="ImageNet16-120", rank_residual="checkpoint-k")
        fixed = adapt(dkt, (a[:k], y[:k]), task="ImageNet16-120", rank_residual=by_k[str(k)]["share"])
        assert by_size.rank_share() == by_k[str(k)]["share"]
        assert np.array_equal(by_size.predict(a[k:]), fixed.predict(a[k:]))
    older = dkt.info.copy()
    del older["rank_share_by_k"]  # a checkpoint meta-trained before per-size choices: its one share
    ckpt = copy.copy(dkt)
    ckpt.info = older
    assert adapt(ckpt, (a[:5], y[:5]), task="ImageNet16-120", rank_residual="checkpoint-k").rank_share() == older[
        "rank_share"
    ]


def test_the_default_adapts_a_deep_kernel_head_with_a_quarter_of_rank_residual(dkt, archs):
    """Without rank_residual a deep-kernel checkpoint of a function-level metric adapts with the validation targets'
    choice (DEFAULT_RANK_SHARE, 0.25): the same predictions as the explicit share, not those of value residuals.
    A hardware metric and a GP head on a gradient-adapted network keep value residuals alone."""
    from surrogate_nas.meta.defaults import DEFAULT_RANK_SHARE, default_rank_share

    assert DEFAULT_RANK_SHARE == 0.25
    a, y = archs
    default = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120")
    quarter = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", rank_residual=0.25)
    value = adapt(dkt, (a[:20], y[:20]), task="ImageNet16-120", rank_residual=0.0)
    assert default.rank_share() == 0.25 and value.rank_share() == 0.0
    assert np.array_equal(default.predict(a[20:]), quarter.predict(a[20:]))
    assert not np.allclose(default.predict(a[20:]), value.predict(a[20:]))
    latency = copy.copy(dkt)
    latency.target_metric = "latency"
    assert adapt(latency, (a[:20], y[:20]), task="ImageNet16-120").rank_share() == 0.0
    assert default_rank_share("dkt", "test_acc") == 0.25
    assert default_rank_share("maml", "test_acc") == default_rank_share("dkt", "params") == 0.0
