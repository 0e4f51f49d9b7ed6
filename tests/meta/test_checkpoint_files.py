"""Checkpoint files: written as one unit, every damaged or foreign file refused in one line."""

import json
import os
import stat

import pytest
import torch

from surrogate_nas.meta import checkpoint as ckmod
from surrogate_nas.meta.checkpoint import Checkpoint, CheckpointError, check_output_dir, load_checkpoint, save_checkpoint
from surrogate_nas.predictors.gnn import GraphRegressor, ModelConfig
from surrogate_nas.spaces import get_space


def _ckpt(seed: int = 0, hidden: int = 8) -> Checkpoint:
    space = get_space("nb201")
    torch.manual_seed(seed)
    model = GraphRegressor(len(space.vocabulary), ModelConfig(hidden=hidden, layers=1))
    return Checkpoint(space, model, meta={"inner_steps": 2, "inner_lr": 0.05}, target_metric="test_acc",
                      sources={"benchmark": "nb201", "tasks": ["cifar10"], "metric": "test_acc", "higher_is_better": True})


class NotAWeight:
    """Any pickled Python object: loading it would run code."""


def _weights(ckpt: Checkpoint) -> dict:
    return {k: v.clone() for k, v in ckpt.model.state_dict().items()}


@pytest.fixture
def saved(tmp_path):
    return save_checkpoint(_ckpt(), tmp_path / "m")


def test_roundtrip_and_extra_files(tmp_path):
    ck = _ckpt()
    d = save_checkpoint(ck, tmp_path / "m", extra={"pretrain.yaml": "benchmark: nb201\n"})
    loaded = load_checkpoint(d)
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in _weights(ck).items())
    assert (d / "pretrain.yaml").read_text() == "benchmark: nb201\n"
    assert "model_sha256" in json.loads((d / "config.json").read_text())


def test_an_interrupted_save_leaves_the_old_pair(tmp_path, monkeypatch):
    old = _ckpt(seed=0)
    d = save_checkpoint(old, tmp_path / "m")

    def interrupted(*a, **k):
        raise KeyboardInterrupt  # after model.pt, before config.json

    monkeypatch.setattr(ckmod.json, "dumps", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(_ckpt(seed=1), d)
    monkeypatch.undo()
    loaded = load_checkpoint(d)
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in _weights(old).items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        d = save_checkpoint(_ckpt(), tmp_path / "m")
    finally:
        os.umask(old)
    assert stat.S_IMODE((d / "model.pt").stat().st_mode) == 0o644
    assert stat.S_IMODE((d / "config.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(d.stat().st_mode) == 0o755


def test_output_dir_is_checked_before_any_work(tmp_path, saved):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="is an existing file, not a directory"):
        check_output_dir(tmp_path / "file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.csv").write_text("x")
    with pytest.raises(CheckpointError, match="non-empty directory that is not a checkpoint"):
        check_output_dir(tmp_path / "other")
    (tmp_path / "empty").mkdir()
    assert check_output_dir(tmp_path / "empty") == tmp_path / "empty"
    assert check_output_dir(saved) == saved  # an existing checkpoint is replaced


def _one_line_error(d, fragment):
    with pytest.raises(CheckpointError, match=fragment) as ei:
        load_checkpoint(d)
    assert "\n" not in str(ei.value)
    return str(ei.value)


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda cfg: [cfg], "config.json holds a JSON list, expected an object"),
        (lambda cfg: {k: v for k, v in cfg.items() if k != "model"}, "lacks key\\(s\\) model"),
        (lambda cfg: {**cfg, "colour": "red"}, "unknown key\\(s\\) colour"),
        (lambda cfg: {**cfg, "model": {**cfg["model"], "depth": 3}}, "config.json: model config: unknown field 'depth'"),
        (lambda cfg: {**cfg, "model": "gin"}, "key 'model' must be a JSON object"),
        (lambda cfg: {**cfg, "model": {**cfg["model"], "hidden": -3}}, "hidden: input should be greater than or equal to 1"),
        (lambda cfg: {**cfg, "model": {**cfg["model"], "hidden": 10**9}}, "hidden: input should be less than or equal to"),
        # the meta block is checked with the MetaConfig that wrote it: adaptation reads inner_steps / inner_lr / kernel
        (lambda cfg: {**cfg, "meta": {**cfg["meta"], "inner_steps": 10**9}}, "meta config: inner_steps: input should be less"),
        (lambda cfg: {**cfg, "meta": {**cfg["meta"], "inner_steps": "abc"}}, "meta config: inner_steps: input should be a valid integer"),
        (lambda cfg: {**cfg, "meta": {**cfg["meta"], "inner_lr": float("nan")}}, "meta config: inner_lr: input should be a finite number"),
        (lambda cfg: {**cfg, "meta": {**cfg["meta"], "kernel": "bogus"}}, "meta config: kernel: input should be 'rbf'"),
        (lambda cfg: {**cfg, "meta": {**cfg["meta"], "colour": 1}}, "meta config: unknown field 'colour'"),
        (lambda cfg: {k: v for k, v in cfg.items() if k != "sources"}, "lacks key\\(s\\) sources"),
        (lambda cfg: {**cfg, "sources": {}}, "sources: field 'benchmark' is missing"),
        (lambda cfg: {**cfg, "sources": {**cfg["sources"], "tasks": "cifar10"}}, "sources: tasks: input should be a valid list"),
        (lambda cfg: {**cfg, "target_metric": "no such metric!"}, "target_metric must be a metric name"),
    ],
)
def test_bad_config_json_is_one_line(saved, edit, fragment):
    cfg = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps(edit(cfg)))
    _one_line_error(saved, fragment)


def test_weight_mismatch_is_one_line(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["model"]["hidden"] = 16
    (saved / "config.json").write_text(json.dumps(cfg))
    msg = _one_line_error(saved, "does not fit the model config.json describes")
    assert "of another shape" in msg and "in model.pt" in msg and "configured" in msg


def test_model_pt_with_code_is_refused_without_suggesting_to_unpickle(saved):
    torch.save({"x": NotAWeight()}, saved / "model.pt")
    msg = _one_line_error(saved, "holds objects that are not weights")
    assert "weights_only" not in msg and "truncated" not in msg


@pytest.mark.parametrize(
    "content, fragment",
    [
        (lambda p: torch.save(torch.zeros(3), p), "holds a Tensor, expected a state_dict"),
        (lambda p: p.write_text("hello world"), "truncated or corrupt"),
        (lambda p: p.write_bytes(b""), "truncated or corrupt"),
    ],
)
def test_model_pt_that_is_not_a_state_dict(saved, content, fragment):
    content(saved / "model.pt")
    _one_line_error(saved, fragment)


def test_nan_weights_and_mismatched_pair_are_refused(saved, tmp_path):
    other = save_checkpoint(_ckpt(seed=5), tmp_path / "other")
    (saved / "model.pt").write_bytes((other / "model.pt").read_bytes())
    _one_line_error(saved, "model.pt does not match config.json")
    ck = _ckpt()
    with torch.no_grad():
        next(ck.model.parameters()).fill_(float("nan"))
    d = save_checkpoint(ck, tmp_path / "nan")
    _one_line_error(d, "non-finite \\(NaN/inf\\) weights")


def test_a_file_given_as_checkpoint_is_named_as_a_file(tmp_path):
    (tmp_path / "model.pt").write_text("x")
    _one_line_error(tmp_path / "model.pt", "is a file; expected the directory")
