import json

import numpy as np
import pandas as pd
import pytest
import torch

from surrogate_nas.cli import main
from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.gnn import ModelConfig

from .conftest import distinct_sample


@pytest.fixture(scope="module")
def ckpt(nb201_ckpt):
    return nb201_ckpt  # built once per session (tests/conftest.py)


@pytest.fixture(scope="module")
def support(nb201_table):
    archs = distinct_sample(nb201_table.space, nb201_table.space.enumerate(), 12)
    return archs, nb201_table.vector("ImageNet16-120", "test_acc", archs)


def test_checkpoint_roundtrip_predicts_identically(ckpt, support, tmp_path):
    save_checkpoint(ckpt, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.pt"]
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["space"] == "nb201" and cfg["vocabulary"][0] == "input" and cfg["sources"]["tasks"] == ["cifar10", "cifar100"]
    loaded = load_checkpoint(tmp_path / "m")
    archs, y = support
    p1 = adapt(ckpt, (archs, y)).predict(archs[:5])
    p2 = adapt(loaded, (archs, y)).predict(archs[:5])
    assert np.allclose(p1, p2, atol=1e-5)


def test_predictions_are_in_target_units_with_std(ckpt, support, nb201_table):
    archs, y = support
    pred = adapt(ckpt, support)
    others = nb201_table.space.enumerate()[:200]
    mean, std = pred.predict(others, return_std=True)
    assert mean.shape == std.shape == (200,) and (std >= 0).all() and std.max() > 0
    # units follow the support exactly: the model sees z-scores, so an affine change of the values
    # (a unit change, e.g. accuracy % -> fraction) changes the predictions by the same map
    m2, s2 = adapt(ckpt, (archs, 0.01 * y + 7)).predict(others, return_std=True)
    assert np.allclose(m2, 0.01 * mean + 7, rtol=0, atol=1e-9) and np.allclose(s2, 0.01 * std, rtol=0, atol=1e-9)
    truth = nb201_table.vector("ImageNet16-120", "test_acc", others)
    assert abs(np.median(mean) - np.median(truth)) < np.std(truth)  # accuracy %, near the task's own values
    # latency-like targets (lower is better, another scale) are fine too: nothing assumes accuracy
    lat_y = 1e-3 * (1 + np.arange(len(archs)))
    lat = adapt(ckpt, (archs, lat_y)).predict(others)
    assert np.isfinite(lat).all()
    assert lat_y.min() - 2 * np.ptp(lat_y) < lat.min() and lat.max() < lat_y.max() + 2 * np.ptp(lat_y)


def test_adapt_refuses_bad_support(ckpt, support, nb201_table):
    archs, y = support
    with pytest.raises(DataError, match="at least 2"):
        adapt(ckpt, (archs[:1], y[:1]))
    with pytest.raises(DataError, match="appears twice"):
        adapt(ckpt, ([archs[0], archs[0], archs[1]], [1.0, 2.0, 3.0]))
    with pytest.raises(DataError, match="all 4 support targets are equal"):
        adapt(ckpt, (archs[:4], [5.0] * 4))
    with pytest.raises(DataError, match="not finite"):
        adapt(ckpt, (archs[:3], [1.0, np.nan, 3.0]))
    from surrogate_nas.spaces import get_space

    other = get_space("nas-bench-graph").enumerate()[:3]
    with pytest.raises(DataError, match="belongs to space 'nas-bench-graph'"):
        adapt(ckpt, (other, [1.0, 2.0, 3.0]))
    with pytest.raises(DataError, match="missing column"):
        adapt(ckpt, pd.DataFrame({"arch": ["x"]}))


def test_load_refuses_other_space_version_and_truncation(ckpt, tmp_path):
    d = save_checkpoint(ckpt, tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    bad = dict(cfg, format_version=99)
    (d / "config.json").write_text(json.dumps(bad))
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(d)
    (d / "config.json").write_text(json.dumps(dict(cfg, space="nas-bench-graph")))
    with pytest.raises(CheckpointError, match="vocabulary differs"):
        load_checkpoint(d)
    (d / "config.json").write_text(json.dumps(cfg))
    data = (d / "model.pt").read_bytes()
    (d / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(d)
    with pytest.raises(CheckpointError, match="missing config.json"):
        load_checkpoint(tmp_path / "nowhere")


def test_cli_pretrain_predict(tmp_path, nb201_table, capsys):
    out = tmp_path / "model"
    assert main(["pretrain", "--benchmark", "nb201", "--train-tasks", "cifar10,cifar100", "--out", str(out),
                 "--iterations", "2", "--hidden", "8", "--layers", "1", "--no-progress"]) == 0
    assert (out / "pretrain.yaml").is_file()
    s = nb201_table.series("ImageNet16-120", "test_acc").sample(8, random_state=1)
    sup = tmp_path / "measured.csv"
    pd.DataFrame({"arch": s.index, "value": s.values}).to_csv(sup, index=False)
    lst = tmp_path / "archs.txt"
    lst.write_text("\n".join(nb201_table.series("cifar10", "test_acc").index[:30]) + "\n")
    preds = tmp_path / "preds.csv"
    assert main(["predict", "--model", str(out), "--support", str(sup), "--archs", str(lst), "--out", str(preds),
                 "--members", "2"]) == 0
    df = pd.read_csv(preds)
    assert list(df.columns) == ["rank", "arch", "key", "predicted", "std", "measured"] and len(df) == 30
    assert df["predicted"].is_monotonic_decreasing
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"arch": s.index[:1], "value": s.values[:1]}).to_csv(bad, index=False)
    assert main(["predict", "--model", str(out), "--support", str(bad), "--all", "--out", str(tmp_path / "p2.csv")]) == 2
    assert "at least 2" in capsys.readouterr().err
    assert not (tmp_path / "p2.csv").exists()
    assert main(["pretrain", "--benchmark", "nb201", "--train-tasks", "svhn", "--out", str(tmp_path / "x")]) == 2
    assert "unknown task 'svhn'" in capsys.readouterr().err


def test_anchored_targets_map_back_to_target_units(ckpt, support, monkeypatch):
    from surrogate_nas.predictors.gnn import graph_inputs

    archs, y = support
    p = adapt(ckpt, (archs, y), inner_steps=0, targets="anchored")
    # no adaptation: the initialisation's predictions on the support, rescaled to the support's mean/spread
    pred = p.predict(archs)
    assert np.mean(pred) == pytest.approx(np.mean(y), abs=1e-3)
    spread = np.std(p._forward(p.base_params_, graph_inputs(p.space_, archs, p.support_[2]), p.corr_))
    assert spread > p.ANCHOR_MIN_SCALE and np.std(pred) == pytest.approx(np.std(y), rel=1e-3)
    # a spread below the floor is not blown up to the support's: it stays that share of it
    floor = 10 * spread
    monkeypatch.setattr(type(p), "ANCHOR_MIN_SCALE", floor)
    pred = adapt(ckpt, (archs, y), inner_steps=0, targets="anchored").predict(archs)
    assert np.mean(pred) == pytest.approx(np.mean(y), abs=1e-3)
    assert np.std(pred) == pytest.approx(np.std(y) * spread / floor, rel=1e-3)
    with pytest.raises(SurrogateNASError, match="adapt: targets: input should be 'support' or 'anchored', got 'z'"):
        adapt(ckpt, (archs, y), targets="z")


def test_anchored_targets_keep_a_top_heavy_support_at_the_top(ckpt, nb201_table):
    """A search's measurements are the top of the space. Anchored targets put them on the
    initialisation's own scale (not "average", as z-scores over themselves would say), so after
    adaptation they are still predicted near the top and the space's ranking stays sound."""
    from scipy import stats

    from surrogate_nas.predictors.inputs import SourceValues
    from surrogate_nas.search.run import source_scores

    archs = nb201_table.space.enumerate()
    order = np.argsort(-source_scores(nb201_table, ["cifar10", "cifar100"], "test_acc")(archs))
    top = [archs[i] for i in order[:8]]
    y_top = nb201_table.vector("ImageNet16-120", "test_acc", top)
    sub = [archs[i] for i in np.random.default_rng(1).choice(len(archs), 1500, replace=False)]
    truth = nb201_table.vector("ImageNet16-120", "test_acc", sub)
    sv = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    p = adapt(ckpt, (top, y_top), sources=sv, inner_steps=5, targets="anchored")
    _, z, _ = p.support_
    from surrogate_nas.predictors.gnn import graph_inputs

    p0 = p._forward(p.base_params_, graph_inputs(nb201_table.space, top, sv(nb201_table.space, top)), p.corr_)
    assert float(z.mean()) == pytest.approx(float(p0.mean()), abs=1e-4)  # on the initialisation's scale
    pred = p.predict(sub)
    assert stats.spearmanr(pred, truth).statistic > 0.5
    assert np.mean(pred > np.min(p.predict(top))) < 0.1  # the support stays near the top of the space
    assert np.mean(pred > np.max(y_top)) < 0.02


def test_pretrain_is_reproducible_from_its_seed(nb201_table):
    def run(global_seed):
        torch.manual_seed(global_seed)  # whatever the caller did to the global RNG before
        return pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                        MetaConfig(iterations=2, val_every=1, seed=3), benchmark_name="nb201", progress=False)

    a, b = run(1).model.state_dict(), run(2).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
