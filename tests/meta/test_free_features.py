"""Meta-training and adaptation with free features (NAS-Bench-Graph params + latency of each dataset)."""

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.errors import DataError
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.checkpoint import load_checkpoint, save_checkpoint
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.meta.tasks import table_tasks
from surrogate_nas.predictors.inputs import FreeFeatureValues
from surrogate_nas.predictors.gnn import ModelConfig

TRAIN = ["citeseer", "pubmed"]
FEATS = ("params", "latency")


@pytest.fixture(scope="module")
def ff_ckpt(nbg_table):
    return pretrain(nbg_table, TRAIN, "valid_perf", ModelConfig(hidden=8, layers=1),
                    MetaConfig(iterations=4, val_every=2, meta_batch=2), benchmark_name="nas-bench-graph",
                    progress=False, target="cora", features=FEATS)


def test_each_task_reads_its_own_features(nbg_table):
    tasks = table_tasks(nbg_table, TRAIN, "valid_perf", features=FEATS)
    for t in tasks:
        assert t.src.shape[1] == len(TRAIN) - 1 + len(FEATS)
        own = FreeFeatureValues(nbg_table, t.name, FEATS, "valid_perf")(nbg_table.space, t.archs)
        assert np.array_equal(t.src[:, -2:], own, equal_nan=True)


def test_checkpoint_records_and_adapt_reads_the_target_features(ff_ckpt, nbg_table, tmp_path):
    assert ff_ckpt.sources["features"] == list(FEATS)
    save_checkpoint(ff_ckpt, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.sources["features"] == list(FEATS)
    archs = nbg_table.archs("cora", "valid_perf")
    y = nbg_table.vector("cora", "valid_perf", archs)
    sup = list(range(0, 400, 20))
    model = adapt(loaded, ([archs[i] for i in sup], y[sup]), task="cora", n_members=0)
    assert model.features_.task == "cora" and model.features_.names == FEATS
    assert np.isfinite(model.predict(archs[:500])).all()
    # features of another dataset give other inputs, hence other predictions
    other = adapt(loaded, ([archs[i] for i in sup], y[sup]), task="cora", n_members=0,
                  features=FreeFeatureValues(nbg_table, "arxiv", FEATS, "valid_perf"))
    assert not np.allclose(other.predict(archs[:500]), model.predict(archs[:500]))


def test_refusals(ff_ckpt, nbg_table):
    archs = nbg_table.archs("cora", "valid_perf")[:20]
    y = nbg_table.vector("cora", "valid_perf", archs)
    with pytest.raises(DataError, match="need the task"):  # per-dataset features need to know the dataset
        adapt(ff_ckpt, (archs, y), n_members=0)
    with pytest.raises(DataError, match=r"reads free features \['params', 'latency'\], but features=\['params'\]"):
        adapt(ff_ckpt, (archs, y), task="cora", n_members=0,
              features=FreeFeatureValues(nbg_table, "cora", ("params",), "valid_perf"))
    with pytest.raises(TargetLeakError, match="latency"):
        pretrain(nbg_table, TRAIN, "latency", ModelConfig(hidden=8, layers=1), MetaConfig(iterations=2),
                 progress=False, features=FEATS)


def test_nb201_features_need_no_task(nb201_table):
    """NB-201's free features are one table for every task: adaptation without a task name reads them too."""
    ck = pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                  MetaConfig(iterations=2, val_every=2, meta_batch=2), benchmark_name="nb201", progress=False,
                  target="ImageNet16-120", features=("synflow", "naswot"))
    archs = nb201_table.archs("ImageNet16-120", "test_acc")
    y = nb201_table.vector("ImageNet16-120", "test_acc", archs)
    idx = np.random.default_rng(0).choice(len(archs), 20, replace=False)
    named = adapt(ck, ([archs[i] for i in idx], y[idx]), task="ImageNet16-120", n_members=0)
    unnamed = adapt(ck, ([archs[i] for i in idx], y[idx]), n_members=0)
    assert np.allclose(named.predict(archs[:300]), unnamed.predict(archs[:300]))


def test_features_enter_the_transfer_prior_as_one_group_with_the_learned_share(ff_ckpt, nbg_table):
    """The prior is (1 - share) x the sources' correlation-weighted rank + share x the features' own, computed here
    from the real columns: two features do not get two votes beside the one source."""
    import torch

    from surrogate_nas.predictors.gnn import graph_inputs
    from surrogate_nas.predictors.inputs import support_correlations

    model = ff_ckpt.model
    assert model.config.feature_columns == len(FEATS)
    task = table_tasks(nbg_table, TRAIN, "valid_perf", features=FEATS)[0]
    idx = np.arange(0, 600, 3)
    src, y = task.src[idx], task.y[idx]
    corr = support_correlations(src, y)
    assert (corr[:-2] > 0).any() and (corr[-2:] > 0).any()  # both groups have a weight here

    def weighted(cols, c):
        w = np.clip(c, 0, None)
        return (np.nan_to_num(cols) * w * ~np.isnan(cols)).sum(1) / np.maximum((w * ~np.isnan(cols)).sum(1), 1e-6)

    share = float(model.feature_share().detach())
    assert 0 < share < 1 and share != pytest.approx(0.25, abs=1e-6)  # meta-training moved it from its start
    expected = (1 - share) * weighted(src[:, :-2], corr[:-2]) + share * weighted(src[:, -2:], corr[-2:])
    inputs = graph_inputs(nbg_table.space, [task.archs[i] for i in idx], src)
    with torch.no_grad():
        _, emb = model(*inputs, corr=torch.as_tensor(corr), embed=True)
        got = (model.transfer_prior(emb) / model.prior_scale).numpy()
        # without any source column the features' prior is the whole prior
        alone = graph_inputs(nbg_table.space, [task.archs[i] for i in idx], src[:, -2:])
        _, emb_alone = model(*alone, corr=torch.as_tensor(corr[-2:]), embed=True)
        got_alone = (model.transfer_prior(emb_alone) / model.prior_scale).numpy()
    assert np.allclose(got, expected, atol=1e-5)
    assert np.allclose(got_alone, weighted(src[:, -2:], corr[-2:]), atol=1e-5)


def test_evidence_mix_reweighs_the_share_by_each_group_s_support_correlations(nbg_table):
    """feature_mix="evidence": the features' weight is s e_f / (s e_f + (1 - s) e_s), e = a group's positive
    correlations' mean weighted by themselves, computed here from the real columns; a group the support
    contradicts (no positive correlation) gets no weight, and the share comes back where neither has any."""
    import torch

    from surrogate_nas.predictors.gnn import graph_inputs
    from surrogate_nas.predictors.inputs import support_correlations

    ck = pretrain(nbg_table, TRAIN, "valid_perf", ModelConfig(hidden=8, layers=1, feature_mix="evidence"),
                  MetaConfig(iterations=4, val_every=2, meta_batch=2), benchmark_name="nas-bench-graph",
                  progress=False, target="cora", features=FEATS)
    model = ck.model
    task = table_tasks(nbg_table, TRAIN, "valid_perf", features=FEATS)[0]
    idx = np.arange(0, 600, 3)
    src, y = task.src[idx], task.y[idx]
    corr = support_correlations(src, y)
    share = float(model.feature_share().detach())

    def evidence(c):
        w = np.clip(c, 0, None)
        return (w ** 2).sum() / max(w.sum(), 1e-6)

    def weighted(cols, c):
        w = np.clip(c, 0, None)
        return (np.nan_to_num(cols) * w * ~np.isnan(cols)).sum(1) / np.maximum((w * ~np.isnan(cols)).sum(1), 1e-6)

    def prior(c):
        inputs = graph_inputs(nbg_table.space, [task.archs[i] for i in idx], src)
        with torch.no_grad():
            _, emb = model(*inputs, corr=torch.as_tensor(c), embed=True)
            return (model.transfer_prior(emb) / model.prior_scale).numpy()

    e_s, e_f = evidence(corr[:-2]), evidence(corr[-2:])
    assert e_s > 0 and e_f > 0
    weight = share * e_f / (share * e_f + (1 - share) * e_s)
    assert abs(weight - share) > 0.01  # the support moved it
    expected = (1 - weight) * weighted(src[:, :-2], corr[:-2]) + weight * weighted(src[:, -2:], corr[-2:])
    assert np.allclose(prior(corr), expected, atol=1e-5)
    against = corr.copy()
    against[-2:] = -np.abs(against[-2:])  # the support contradicts both features: the sources alone
    assert np.allclose(prior(against), weighted(src[:, :-2], corr[:-2]), atol=1e-5)
    neither = -np.abs(corr)  # no evidence either way: the learned share, as feature_mix="share"
    with torch.no_grad():
        assert float(model.feature_weight(torch.as_tensor(neither[:-2]), torch.as_tensor(neither[-2:]))) == (
            pytest.approx(share))


def test_source_dropout_drops_sources_never_features(nbg_table):
    from surrogate_nas.meta.tasks import EpisodeSampler

    tasks = table_tasks(nbg_table, ["citeseer", "pubmed", "cs", "photo"], "valid_perf", features=FEATS)
    sampler = EpisodeSampler(tasks, support_range=(5, 5), query_size=8, source_dropout=0.6)
    own = tasks[0].src[:, -2:]  # citeseer's params and latency ranks
    rng = np.random.default_rng(0)
    widths = set()
    for _ in range(30):
        ep = sampler.sample(rng, task_index=0)
        rows = ep.support[4].numpy()
        widths.add(rows.shape[1])
        assert len(ep.corr) == rows.shape[1] >= 1 + len(FEATS)
        for r in rows[:, -2:]:  # the last two columns are always the task's own features
            assert np.all(np.isclose(own, r, equal_nan=True), 1).any()
    assert widths > {3} and max(widths) <= 5  # 1..3 of the 3 sources kept, both features always


def test_a_checkpoint_whose_model_disagrees_with_its_feature_list_is_refused(ff_ckpt, tmp_path):
    import json

    from surrogate_nas.meta.checkpoint import CheckpointError

    save_checkpoint(ff_ckpt, tmp_path / "ck")
    cfg_path = tmp_path / "ck" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"]["feature_columns"] = 0  # as a version that averaged the features into the prior wrote it
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"2 free feature\(s\) \['params', 'latency'\] but its model reads 0 "
                                              r"feature column\(s\); .*pretrain it again"):
        load_checkpoint(tmp_path / "ck")
