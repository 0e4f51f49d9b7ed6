"""BoTorch acquisition over a candidate set, batches, and the two-level hierarchical search on real records."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from surrogate_nas.search import SearchError, TableEvaluator, get_searcher, make_searcher, run_loop, space_pool
from surrogate_nas.search.acquisition import select
from surrogate_nas.spaces import get_space


class _Posterior:
    """A fitted stand-in predictor with hand-set mean, std and (optionally) correlation between candidates."""

    def __init__(self, mean, std, corr=None):
        self.mean, self.std, self.corr = np.asarray(mean, float), np.asarray(std, float), corr
        self.cov_calls = 0

    def _idx(self, cands):
        return np.asarray(cands, dtype=int)

    def predict(self, cands, return_std=False):
        i = self._idx(cands)
        return (self.mean[i], self.std[i]) if return_std else self.mean[i]

    def predict_cov(self, cands):
        self.cov_calls += 1
        i = self._idx(cands)
        c = np.eye(len(self.mean)) if self.corr is None else self.corr
        return self.mean[i], c[np.ix_(i, i)] * np.outer(self.std[i], self.std[i])


def test_single_pick_acquisitions_follow_their_definitions():
    # 0: best mean, tiny std; 1: a bit lower, very uncertain; 2-9: clearly worse
    mean = np.array([1.0, 0.9] + [0.0] * 8)
    std = np.array([0.01, 0.5] + [0.05] * 8)
    m = _Posterior(mean, std)
    cands = list(range(10))
    rng = np.random.default_rng(0)
    assert select(m, cands, 1, "mean", rng) == [0]
    assert select(m, cands, 1, "ucb", rng, beta=0.1) == [0]   # 1.001 vs 0.95
    assert select(m, cands, 1, "ucb", rng, beta=2.0) == [1]   # 1.02 vs 1.9
    # EI over the incumbent 1.0: candidate 0 can barely improve, candidate 1 has a fat upper tail
    assert select(m, cands, 1, "ei", rng, best_f=1.0) == [1]
    # Thompson: a draw's argmax; over many seeds both 0 and 1 win, nothing else does
    wins = Counter(select(m, cands, 1, "thompson", np.random.default_rng(s))[0] for s in range(40))
    assert set(wins) == {0, 1} and min(wins.values()) >= 5
    # the same rng gives the same picks
    assert select(m, cands, 3, "thompson", np.random.default_rng(7)) == select(m, cands, 3, "thompson",
                                                                               np.random.default_rng(7))


def test_a_batch_uses_the_joint_covariance_to_avoid_near_duplicates():
    """Candidates 0 and 1 are the two best and perfectly correlated (one bet, twice); 2 is a little worse and
    independent. q-EI picks 0 then 2 when it knows the correlation, 0 then 1 when it thinks them independent."""
    mean = np.array([1.0, 0.99, 0.9] + [-1.0] * 7)
    std = np.array([0.3, 0.3, 0.3] + [0.01] * 7)
    corr = np.eye(10)
    corr[0, 1] = corr[1, 0] = 0.999
    joint, indep = _Posterior(mean, std, corr), _Posterior(mean, std)
    cands = list(range(10))
    picked = select(joint, cands, 2, "ei", np.random.default_rng(0), best_f=0.8)
    assert picked[0] == 0 and picked[1] == 2 and joint.cov_calls == 1
    assert sorted(select(indep, cands, 2, "ei", np.random.default_rng(0), best_f=0.8)) == [0, 1]
    for acq in ("ucb", "ei", "thompson", "mean"):
        out = select(joint, cands, 4, acq, np.random.default_rng(1), best_f=0.8)
        assert len(out) == 4 and len(set(out)) == 4, acq


def test_batches_have_their_own_default_acquisition_unless_one_is_given():
    from surrogate_nas.search.defaults import ACQUISITION, BATCH_ACQUISITION

    fit = lambda a, y: None  # noqa: E731
    s = get_searcher("guided", space="nb201", predictor=fit, support="random")
    assert (s.acquisition, s.batch_acquisition) == (ACQUISITION, BATCH_ACQUISITION) == ("thompson", "ucb")
    s = get_searcher("guided", space="nb201", predictor=fit, support="random", acquisition="ei")
    assert (s.acquisition, s.batch_acquisition) == ("ei", "ei")
    s = get_searcher("guided", space="nb201", predictor=fit, support="random", batch_acquisition="mean")
    assert (s.acquisition, s.batch_acquisition) == ("thompson", "mean")
    has = get_searcher("hierarchical", space="nb201", predictor=fit, support="random")
    assert (has.acquisition, has.batch_acquisition) == ("ei", "ei")  # search-defaults round 4
    with pytest.raises(SearchError, match="batch_acquisition: unknown acquisition 'qei'"):
        get_searcher("guided", space="nb201", predictor=fit, support="random", batch_acquisition="qei")


def test_unknown_acquisition_is_refused_with_the_choices():
    with pytest.raises(SearchError, match="unknown acquisition 'pi'; choose one of mean, ucb, ei, thompson"):
        select(_Posterior([0.0], [1.0]), [0], 1, "pi", np.random.default_rng(0))


@pytest.mark.parametrize("acq", ["ei", "thompson"])
def test_guided_batches_are_distinct_and_reach_the_evaluator_together(acq, nb201_table, nb201_ckpt):
    calls = []

    class Counting(TableEvaluator):
        def evaluate(self, archs):
            calls.append(len(archs))
            return super().evaluate(archs)

    ev = Counting(nb201_table, "ImageNet16-120", "test_acc")
    s = make_searcher("guided", "nb201", 0, {"n_support": 5, "acquisition": acq}, nb201_table,
                      "ImageNet16-120", "test_acc", nb201_ckpt)
    df = run_loop(s, ev, 21, batch_size=8)
    assert calls == [5, 8, 8] and df["key"].is_unique and s.fallbacks_ == 0  # support, then two rounds of 8
    # 2 rounds score the unmeasured classes twice, not once per suggestion
    assert s.scored_ == (6466 - 5) + (6466 - 13)


# ---------------------------------------------------------------------- hierarchical search
class _ConvCount:
    """A fitted stand-in predictor: the number of nor_conv_3x3 edges (std 0)."""

    def predict(self, archs, return_std=False):
        m = np.array([a.ops.count("nor_conv_3x3") for a in archs], dtype=float)
        return (m, np.zeros_like(m)) if return_std else m


def _has(nb201_table, **opts):
    return get_searcher("hierarchical", space="nb201", seed=0, predictor=lambda a, y: _ConvCount(),
                        source_scores=_source(nb201_table), **opts)


def _source(table):
    from surrogate_nas.search.predictor_factory import source_scores

    return source_scores(table, ["cifar10", "cifar100"], "test_acc")


def test_hierarchical_probes_by_prior_commits_and_stays_inside(nb201_table):
    sp = get_space("nb201")
    archs, keys, skels = space_pool("nb201")
    size = Counter(skels)
    ev = TableEvaluator(nb201_table, "ImageNet16-120", "test_acc")
    s = _has(nb201_table, n_support=5, probe_groups=4, commit=2, commit_fraction=0.2)
    df = run_loop(s, ev, 20)
    assert df["key"].is_unique and s.fallbacks_ == 0
    # coarse phase: evaluations 6-9 probe the 4 best groups by source prior, in that order, one member each
    assert s.probed_ == s._order[:4]
    assert [sp.skeleton(sp.parse(a)) for a in df["arch"].iloc[5:9]] == s._order[:4]
    # each probe is the predictor's best unmeasured member of its group (most conv3x3 edges)
    for i, g in zip(range(5, 9), s._order[:4]):
        measured = set(df["key"].iloc[:i])
        best = max(a2.ops.count("nor_conv_3x3") for a2, k, sk in zip(archs, keys, skels)
                   if sk == g and k not in measured)
        assert sp.parse(df["arch"].iloc[i]).ops.count("nor_conv_3x3") == best
    # commit: at most 2 groups, the best measured first, holding at most 20% of the space
    assert 1 <= len(s.committed_) <= 2 and sum(size[g] for g in s.committed_) <= 0.2 * len(archs)
    best_group = sp.skeleton(sp.parse(df.iloc[:9].sort_values("value")["arch"].iloc[-1]))
    assert s.committed_[0] == best_group
    # fine phase: every later evaluation is inside the committed groups
    assert all(sp.skeleton(sp.parse(a)) in s.committed_ for a in df["arch"].iloc[9:])
    assert s.phase_ == "fine"


def test_hierarchical_scores_a_fraction_of_flat_guided_search(nb201_table):
    """Counted, not timed: flat guided search scores every unmeasured class at every step; HAS scores one group per
    probe and the committed groups' members after that."""
    ev = TableEvaluator(nb201_table, "ImageNet16-120", "test_acc")
    has = _has(nb201_table, n_support=5)
    run_loop(has, ev, 40)
    flat = get_searcher("guided", space="nb201", seed=0, predictor=lambda a, y: _ConvCount(),
                        source_scores=_source(nb201_table), n_support=5)
    run_loop(flat, ev, 40)
    assert flat.scored_ == sum(6466 - n for n in range(5, 40))
    assert 0 < has.scored_ <= flat.scored_ / 5


def test_hierarchical_without_source_scores_uses_the_predictor_view_once(nb201_table):
    ev = TableEvaluator(nb201_table, "ImageNet16-120", "test_acc")
    s = get_searcher("hierarchical", space="nb201", seed=0, predictor=lambda a, y: _ConvCount(), support="random",
                     n_support=3, probe_groups=2, commit=1)
    df = run_loop(s, ev, 6)
    # the all-op skeleton holds the all-conv3x3 cell (6 edges, the most): first by the predictor's view of the
    # groups (mean of each group's 3 best scores), which cost one scoring of the unmeasured space
    assert s._order[0] == ("op",) * 6 and s.probed_ == s._order[:2]
    assert get_space("nb201").parse(df["arch"].iloc[3]).ops.count("nor_conv_3x3") == 6


def test_hierarchical_options_are_checked():
    fit = lambda a, y: None  # noqa: E731
    for name, bad in (("probe_groups", 0), ("commit", "2"), ("commit_fraction", 1.5), ("group_top", True)):
        with pytest.raises(SearchError, match=f"hierarchical: {name} must be"):
            get_searcher("hierarchical", space="nb201", predictor=fit, support="random", **{name: bad})


# ---------------------------------------------------------------------- latent posterior
class _Noisy(_Posterior):
    """A predictor with latent std 1 everywhere and observation noise variance 6.7 (a measured value's std is
    sqrt(7.7)), as a deep-kernel GP whose likelihood noise dominates."""

    NOISE = 6.7

    def predict(self, cands, return_std=False, latent=False):
        i = self._idx(cands)
        if not return_std:
            return self.mean[i]
        return self.mean[i], self.std[i] if latent else np.sqrt(self.std[i] ** 2 + self.NOISE)

    def noise_variance(self):
        return self.NOISE


class _NoisyNoLatentOption(_Noisy):
    """The same predictor without the ``latent`` option: acquisition takes its ``noise_variance`` out itself."""

    def predict(self, cands, return_std=False):
        return super().predict(cands, return_std, latent=False)


@pytest.mark.parametrize("cls", [_Noisy, _NoisyNoLatentOption])
def test_thompson_draws_the_latent_function_not_the_observation_noise(cls):
    """Two independent candidates, means 0 and 1, latent variance 1: a latent draw picks 0 with probability
    Phi(-1/sqrt(2)) = 0.24; draws that held the noise would pick it with Phi(-1/sqrt(2 * 7.7)) = 0.40."""
    from scipy.stats import norm

    from surrogate_nas.search.acquisition import posterior

    m = cls([0.0, 1.0], [1.0, 1.0])
    assert np.allclose(posterior(m, [0, 1], with_std=True)[1], 1.0)
    picks = [select(m, [0, 1], 1, "thompson", np.random.default_rng(s))[0] for s in range(600)]
    share = picks.count(0) / len(picks)
    assert abs(share - norm.cdf(-1 / np.sqrt(2))) < 0.05 and abs(share - norm.cdf(-1 / np.sqrt(2 * 7.7))) > 0.1


def test_the_finite_set_model_honours_observation_noise():
    """Draws of the latent posterior have its variance; with observation_noise=True, variance + noise."""
    import torch

    from surrogate_nas.search.acquisition import _botorch_model

    cov = np.array([[2.8, 1.0], [1.0, 2.0]])
    model = _botorch_model(np.zeros(2), cov, noise=6.7)
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    torch.manual_seed(0)
    latent = model.posterior(x).rsample(torch.Size([40000]))[..., 0]
    noisy = model.posterior(x, observation_noise=True).rsample(torch.Size([40000]))[..., 0]
    assert np.allclose(latent.var(0).numpy(), np.diag(cov), rtol=0.04)
    assert np.allclose(noisy.var(0).numpy(), np.diag(cov) + 6.7, rtol=0.04)
    assert abs(float(np.cov(latent.numpy().T)[0, 1]) - 1.0) < 0.1


def test_ei_incumbent_is_the_best_posterior_mean_of_the_measured_archs(nb201_table, nb201_ckpt):
    """Noisy EI's incumbent: the fitted predictor's best mean over what was measured, not the best measurement."""
    s = make_searcher("guided", "nb201", 0, {"n_support": 5, "acquisition": "ei"}, nb201_table,
                      "ImageNet16-120", "test_acc", nb201_ckpt)
    run_loop(s, TableEvaluator(nb201_table, "ImageNet16-120", "test_acc"), 8)
    measured = [a for a, _, _ in s.history]
    assert s._refit()
    best_mean = float(np.max(s._model.predict(measured)))
    assert s.incumbent() == pytest.approx(best_mean)
    assert s.incumbent() != pytest.approx(max(f for _, _, f in s.history), abs=1e-6)
