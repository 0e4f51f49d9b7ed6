"""adapt/MetaGNNPredictor mechanics: registry, the shared inner loop, deployed step counts, CV folds,
bootstrap members, RNG hygiene, and refusal of bad options, supports and checkpoints."""

import copy
import dataclasses
import re

import numpy as np
import pytest
import torch

import surrogate_nas.meta  # noqa: F401  (registers "meta")
from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.meta import adapt as adapt_mod
from surrogate_nas.meta import records, step_selection
from surrogate_nas.meta.adapt import MetaGNNPredictor, adapt
from surrogate_nas.meta.maml import MetaConfig, MetaLearner
from surrogate_nas.meta.tasks import Task, make_episode
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.inputs import SourceValues

from .conftest import distinct_sample


@pytest.fixture(scope="module")
def sup(nb201_table):
    archs = distinct_sample(nb201_table.space, nb201_table.archs("ImageNet16-120", "test_acc"), 12)
    return archs, nb201_table.vector("ImageNet16-120", "test_acc", archs)


def test_meta_is_built_from_the_registry(tiny_ckpt, sup):
    archs, y = sup
    p = make_predictor("meta", checkpoint=tiny_ckpt, space="nb201", seed=0, sources=None, task="ImageNet16-120",
                       n_members=2)
    mean, std = p.fit(archs, y).predict(archs, return_std=True)
    assert mean.shape == std.shape == (12,) and std.max() > 0
    with pytest.raises(SurrogateNASError, match="unknown option.*'bogus'"):
        make_predictor("meta", checkpoint=tiny_ckpt, space="nb201", seed=0, bogus=1)
    with pytest.raises(SurrogateNASError, match="needs a checkpoint"):
        make_predictor("meta", space="nb201", seed=0)
    with pytest.raises(SurrogateNASError, match="space 'nb201', not 'nas-bench-graph'"):
        make_predictor("meta", checkpoint=tiny_ckpt, space="nas-bench-graph").fit(archs, y)
    with pytest.raises(SurrogateNASError, match="adapt: unknown option.*'members'"):
        adapt(tiny_ckpt, sup, members=2)


def test_deployment_runs_the_meta_learners_inner_loop(tiny_ckpt, sup):
    """adapt() and meta-training's adaptation are one function: same support -> identical parameters."""
    archs, y = sup
    sv = SourceValues(records.benchmark_table(tiny_ckpt), tuple(tiny_ckpt.sources["tasks"]), "test_acc")
    task = Task("t", tiny_ckpt.space, archs, y, sv(tiny_ckpt.space, archs))
    ep = make_episode(task, np.arange(len(archs)), np.arange(3))
    learner = MetaLearner(copy.deepcopy(tiny_ckpt.model), MetaConfig(**{**tiny_ckpt.meta, "inner_steps": 4}))
    expected = learner.adapt(ep)
    got = MetaGNNPredictor(tiny_ckpt, sources=sv, inner_steps=4, n_members=0).fit(archs, y).params_
    assert expected.keys() == got.keys()
    assert all(torch.allclose(expected[k], got[k], atol=1e-6) for k in got)
    assert any(not torch.equal(got[k], v) for k, v in tiny_ckpt.model.named_parameters())


def test_reptile_deploys_the_step_count_it_was_validated_with(tiny_ckpt, sup):
    ckpt = dataclasses.replace(tiny_ckpt, meta={**tiny_ckpt.meta, "algorithm": "reptile", "reptile_steps": 3,
                                                "inner_steps": 7})
    assert adapt(ckpt, sup, n_members=0).steps_ == 3
    learner = MetaLearner(copy.deepcopy(ckpt.model), MetaConfig(algorithm="reptile", reptile_steps=3, inner_steps=7))
    calls = []
    real = surrogate_nas.meta.maml.inner_loop
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(surrogate_nas.meta.maml, "inner_loop", lambda *a, **k: calls.append(a[5]) or real(*a, **k))
        archs, y = sup
        learner.adapt(make_episode(Task("t", ckpt.space, archs, y, np.zeros((12, 0))), np.arange(12), np.arange(3)))
    assert calls == [3]
    assert adapt(tiny_ckpt, sup, n_members=0).steps_ == tiny_ckpt.meta["inner_steps"]


def test_cv_step_choice_reads_source_correlations_of_the_training_folds_only(tiny_ckpt, nb201_table, monkeypatch):
    archs = distinct_sample(nb201_table.space, nb201_table.archs("ImageNet16-120", "test_acc"), 10, seed=3)
    y = nb201_table.vector("ImageNet16-120", "test_acc", archs)
    sizes = []
    from surrogate_nas.predictors import inputs as inputs_mod

    real = inputs_mod.support_weights  # what the model config's support_weights (the adaptation's) calls
    monkeypatch.setattr(inputs_mod, "support_weights", lambda src, z, *a: sizes.append(len(z)) or real(src, z, *a))
    p = adapt(tiny_ckpt, (archs, y), inner_steps="cv", n_members=0)
    assert p.steps_ in step_selection.STEP_CHOICES
    # whole support once (the final adaptation), then one per fold, each on that fold's training part (5 folds of 2)
    assert sizes == [10] + [8] * 5


def test_bootstrap_members_and_results_ignore_the_global_rng(tiny_ckpt, sup):
    def run(global_seed):
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)
        t_state, n_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
        p = adapt(tiny_ckpt, sup, inner_steps="cv", n_members=3, seed=5)
        out = p.predict(sup[0], return_std=True)
        assert torch.equal(torch.random.get_rng_state(), t_state)
        assert np.array_equal(np.random.get_state()[1], n_state)
        return out

    (m1, s1), (m2, s2) = run(1), run(2)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2) and s1.max() > 0
    assert len(adapt(tiny_ckpt, sup, n_members=3).predict(sup[0], return_std=True)[1]) == 12


def test_meta_training_leaves_the_global_rng_alone(nb201_table, tiny_ckpt):
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    torch.manual_seed(11)
    before = torch.random.get_rng_state()
    pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
             MetaConfig(iterations=2, val_every=1, meta_batch=1), progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_support_isomorphic_cells_are_accepted_and_exact_duplicates_refused(tiny_ckpt, sup):
    a = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    b = "|none~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|"  # isomorphic to a (node 2 is dead)
    sp = tiny_ckpt.space
    others = [sp.format(x) for x in sup[0] if sp.canonical(x) != sp.canonical(sp.parse(a))][:3]
    # a string is a network: two isomorphic strings are two measurements (a GP's noise floor absorbs them)
    pred = adapt(tiny_ckpt, ([a] + others + [b], [1.0, 2.0, 3.0, 4.0, 5.0]))
    assert np.isfinite(pred.predict([a, b])).all()
    with pytest.raises(DataError, match=r"architecture '.*skip_connect~0\|none~1\|none~2\|' appears twice "
                                        r"\(data rows 1 and 5\); average repeated measurements first"):
        adapt(tiny_ckpt, ([a] + others + [a], [1.0, 2.0, 3.0, 4.0, 5.0]))


@pytest.mark.parametrize("kwargs, msg", [
    ({"n_members": -2}, "adapt: n_members: input should be greater than or equal to 0, got -2"),
    ({"n_members": 101}, "adapt: n_members: input should be less than or equal to 100, got 101"),
    ({"n_members": True}, "adapt: n_members: must be an integer, not true/false, got True"),
    ({"inner_steps": -3}, "adapt: inner_steps: must be 'cv' or an integer in 0..1000, got -3"),
    ({"inner_steps": 10 ** 20}, "adapt: inner_steps: must be 'cv' or an integer in 0..1000, got 1000000"),
    ({"inner_steps": "many"}, "adapt: inner_steps: must be 'cv' or an integer in 0..1000, got 'many'"),
    ({"inner_lr": float("nan")}, "adapt: inner_lr: input should be a finite number, got nan"),
    ({"inner_lr": 0.0}, "adapt: inner_lr: input should be greater than 0, got 0.0"),
    ({"inner_lr": float("inf")}, "adapt: inner_lr: input should be a finite number, got inf"),
    ({"seed": -1}, "adapt: seed: input should be greater than or equal to 0, got -1"),
    ({"gp_steps": 1001}, "adapt: gp_steps: input should be less than or equal to 1000, got 1001"),
    ({"correction_sd": 0.0}, "adapt: correction_sd: input should be greater than 0, got 0.0"),
    ({"correction_sd": float("nan")}, "adapt: correction_sd: input should be a finite number, got nan"),
    ({"correction_sd": 1e4}, "adapt: correction_sd: input should be less than or equal to 1000, got 10000.0"),
    ({"correction_weight": -0.1}, "adapt: correction_weight: must be a weight in [0, 1], 'cv' (the weight whose fits rank the support's held-out folds best), 'cv-top' (best at their top) or 'prior-fit' (1 - the support's correlation with the source rank), got -0.1"),
    ({"correction_weight": 1.5}, "adapt: correction_weight: must be a weight in [0, 1], 'cv' (the weight whose fits rank the support's held-out folds best), 'cv-top' (best at their top) or 'prior-fit' (1 - the support's correlation with the source rank), got 1.5"),
    ({"correction_weight": "half"}, "adapt: correction_weight: must be a weight in [0, 1], 'cv' (the weight whose fits rank the support's held-out folds best), 'cv-top' (best at their top) or 'prior-fit' (1 - the support's correlation with the source rank), got 'half'"),
    ({"task": ""}, "adapt: task: must be a task name, got ''"),
    ({"targets": "z"}, "adapt: targets: input should be 'support' or 'anchored', got 'z'"),
    ({"calibrate": 1}, "adapt: calibrate: input should be a valid boolean, got 1"),
    ({"device": "bogus"}, "adapt: device: unknown device 'bogus'"),
    *([] if __import__("torch").cuda.is_available() else
      [({"device": "cuda"}, "adapt: device: device 'cuda' requested but CUDA is not available")]),
])
def test_bad_options_are_refused(tiny_ckpt, sup, kwargs, msg):
    with pytest.raises(SurrogateNASError, match=re.escape(msg)):
        adapt(tiny_ckpt, sup, **kwargs)
    p = MetaGNNPredictor(tiny_ckpt, **kwargs)  # scikit-learn style: __init__ stores the options as given
    assert all(getattr(p, k) is v for k, v in kwargs.items())
    with pytest.raises(SurrogateNASError, match=re.escape(msg)):
        p.fit(*sup)
    # the registry's factory refuses them as it builds the predictor (a search does so before any evaluation)
    for checkpoint in (tiny_ckpt, [tiny_ckpt, tiny_ckpt]):
        with pytest.raises(SurrogateNASError, match=re.escape(msg)):
            make_predictor("meta", checkpoint=checkpoint, space="nb201", **kwargs)


def test_a_support_value_that_is_not_a_number_is_named(tiny_ckpt, sup):
    archs, y = sup
    with pytest.raises(DataError, match="value 'fast' is not a number"):
        adapt(tiny_ckpt, (archs[:3], [1.0, "fast", 2.0]))


def test_non_finite_weights_or_predictions_are_refused(tiny_ckpt, sup):
    bad = copy.deepcopy(tiny_ckpt)
    with torch.no_grad():
        bad.model.embed.weight[0, 0] = float("nan")
    with pytest.raises(DataError, match="weight '.*' holds NaN/inf values; the checkpoint is corrupt"):
        adapt(bad, sup)
    huge = copy.deepcopy(tiny_ckpt)
    with torch.no_grad():
        for p in huge.model.head.parameters():
            p.mul_(1e30)  # finite weights whose outputs overflow
    with pytest.raises(DataError, match="predicts a non-finite value"):
        adapt(huge, sup, n_members=0).predict(sup[0])


def test_a_diverging_inner_step_keeps_the_last_finite_parameters(tiny_ckpt, sup):
    """An update that overflows (finite loss, inf parameters after the step) stops the inner loop there: the
    last step used to be unchecked, so a diverging final step gave NaN for every architecture."""
    from surrogate_nas.meta.inner import inner_loop
    from surrogate_nas.predictors.gnn import graph_inputs

    archs, y = sup
    z = torch.as_tensor((y - y.mean()) / y.std(), dtype=torch.float32)
    inputs = graph_inputs(tiny_ckpt.space, archs, np.zeros((len(archs), 2)))
    base = {k: v.detach() for k, v in tiny_ckpt.model.named_parameters()}
    corr = torch.zeros(2)
    # an infinite rate for one tensor: the loss before the step is finite, the parameters after it are not
    lrs = {k: (float("inf") if k == next(iter(base)) else 0.0) for k in base}
    for steps in (1, 3):
        states = inner_loop(tiny_ckpt.model, base, inputs, z, corr, steps, lrs, 1.0, grad="none",
                            keep=tuple(range(1, steps + 1)))
        assert len(states) == steps
        for params in states:
            assert all(torch.equal(params[k], base[k]) for k in base)


def test_progress_bars_over_folds_and_members(tiny_ckpt, sup, monkeypatch):
    import tqdm.auto

    seen = []
    real = tqdm.auto.tqdm

    def spy(*args, **kwargs):
        seen.append((kwargs["desc"], kwargs["disable"], kwargs["delay"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", spy)
    adapt(tiny_ckpt, sup, inner_steps="cv", n_members=2).predict(sup[0], return_std=True)
    adapt(tiny_ckpt, sup, inner_steps="cv", n_members=2, progress=False).predict(sup[0], return_std=True)
    # default: on a terminal only (tqdm's disable=None), and only once a loop has run 2 s
    assert seen == [("inner steps by CV", None, 2), ("bootstrap members", None, 2),
                    ("inner steps by CV", True, 2), ("bootstrap members", True, 2)]


@pytest.mark.parametrize("kind,shrink", [("least-squares", 1.0), ("least-squares", 0.1), ("shrunk", 1.0)])
def test_source_weights_are_what_meta_training_and_adaptation_read(nbg_table, monkeypatch, tmp_path, kind, shrink):
    """``ModelConfig.source_weights`` other than the correlations (and ``source_shrink``): every episode of
    meta-training and the adaptation read those weights (predictors.inputs.support_weights), and the checkpoint keeps
    the setting."""
    from surrogate_nas.meta.checkpoint import load_checkpoint, save_checkpoint
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors import inputs as inputs_mod
    from surrogate_nas.predictors.gnn import ModelConfig
    from surrogate_nas.predictors.inputs import support_correlations, support_weights

    kinds = []
    real = inputs_mod.support_weights  # what ModelConfig.support_weights calls, for episodes and adaptation
    monkeypatch.setattr(inputs_mod, "support_weights", lambda *a: kinds.append(a[2:]) or real(*a))
    ck = pretrain(nbg_table, ["citeseer", "pubmed", "photo", "computers"], "valid_perf",
                  ModelConfig(hidden=8, layers=1, source_weights=kind, source_shrink=shrink),
                  MetaConfig(iterations=2, val_every=2, meta_batch=2), benchmark_name="nas-bench-graph",
                  progress=False, target="cora")
    assert kinds and set(kinds) == {(kind, 0, shrink)}
    ck = load_checkpoint(save_checkpoint(ck, tmp_path / "ck"))
    assert (ck.model.config.source_weights, ck.model.config.source_shrink) == (kind, shrink)
    archs = distinct_sample(nbg_table.space, nbg_table.archs("cora", "valid_perf"), 30, seed=1)
    y = nbg_table.vector("cora", "valid_perf", archs)
    p = adapt(ck, (archs, y), n_members=0)
    src = SourceValues(nbg_table, tuple(ck.sources["tasks"]), "valid_perf")(nbg_table.space, archs)
    np.testing.assert_array_equal(p.corr_.numpy(), support_weights(src, y, kind, shrink=shrink))
    assert not np.allclose(p.corr_.numpy(), support_correlations(src, y), atol=0.01)
    if shrink != 1.0:
        assert not np.allclose(p.corr_.numpy(), support_weights(src, y, kind), atol=0.01)


def test_a_source_shrink_without_least_squares_is_refused():
    """``source_shrink`` is read by the least-squares weights only: set with another kind it would be ignored."""
    from surrogate_nas.errors import SurrogateNASError
    from surrogate_nas.predictors.gnn import ModelConfig

    with pytest.raises(SurrogateNASError, match="source_shrink 0.1 is read by source_weights 'least-squares' only"):
        ModelConfig(source_shrink=0.1)
    with pytest.raises(SurrogateNASError, match="source_shrink"):
        ModelConfig(source_weights="least-squares", source_shrink=0)
    assert ModelConfig(source_weights="least-squares", source_shrink=0.1).source_shrink == 0.1
