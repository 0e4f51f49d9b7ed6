"""`pretrain --members N` writes a deep ensemble (member-i/ + ensemble.json); `predict`, the 'meta' predictor
and load_model read it; its new flags and bad input."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from surrogate_nas.cli import main
from surrogate_nas.meta.checkpoint import CheckpointError, is_checkpoint_dir, load_checkpoint
from surrogate_nas.meta.ensemble import MetaEnsemble, is_ensemble_dir, load_model

TARGET = "ImageNet16-120"
TINY = ["--target", TARGET, "--train-tasks", "cifar10,cifar100", "--hidden", "8", "--layers", "1",
        "--iterations", "2", "--no-progress"]


def _error(capsys, argv, *fragments) -> str:
    """The CLI refuses: exit 2 and one line ``surrogate-nas: error: ...`` naming every fragment."""
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("surrogate-nas: error: "), lines
    assert all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def ens(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "model"
    assert main(["pretrain", *TINY, "--members", "2", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, nb201_table):
    d = tmp_path_factory.mktemp("in")
    s = nb201_table.series(TARGET, "test_acc").sample(8, random_state=1)
    pd.DataFrame({"arch": s.index, "value": s.values}).to_csv(d / "s.csv", index=False)
    (d / "archs.txt").write_text("\n".join(nb201_table.series("cifar10", "test_acc").index[:20]) + "\n")
    return d, list(s.index), s.to_numpy()


def _copy(ens, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(ens, d)
    return d


def test_pretrain_members_write_an_ensemble_directory(ens, capsys):
    assert sorted(p.name for p in ens.iterdir()) == ["ensemble.json", "member-0", "member-1", "pretrain.yaml"]
    assert json.loads((ens / "ensemble.json").read_text()) == {"format": "surrogate-nas-ensemble",
                                                               "members": ["member-0", "member-1"]}
    assert is_ensemble_dir(ens) and not is_checkpoint_dir(ens)
    top = yaml.safe_load((ens / "pretrain.yaml").read_text())
    assert top["members"] == 2 and top["meta"]["seed"] == 0
    # the chosen meta-predictor is pretrain's default
    assert {k: top["meta"][k] for k in ("algorithm", "kernel", "target_scale", "meta_val", "top_weight", "gp_head")} \
        == {"algorithm": "dkt", "kernel": "rbf", "target_scale": "robust", "meta_val": "task-seed",
            "top_weight": 1.0, "gp_head": False}
    members = load_model(ens)
    assert [c.meta["seed"] for c in members] == [0, 1] and all(c.gp is not None for c in members)
    own = yaml.safe_load((ens / "member-1" / "pretrain.yaml").read_text())
    assert own["members"] == 1 and own["meta"] == {**top["meta"], "seed": 1}


def test_predict_on_an_ensemble_equals_meta_ensemble(ens, files, capsys):
    from surrogate_nas.predictors import make_predictor

    d, archs_in, values = files
    assert main(["predict", "--model", str(ens), "--support", str(d / "s.csv"), "--archs", str(d / "archs.txt"),
                 "--task", TARGET, "--out", str(d / "p.csv"), "--members", "2", "--seed", "3"]) == 0
    assert "(2 members, " in capsys.readouterr().out
    got = pd.read_csv(d / "p.csv")
    space = load_checkpoint(ens / "member-0").space
    archs = [space.parse(a) for a in got["arch"]]
    own = MetaEnsemble(load_model(ens), task=TARGET, n_members=2, seed=3).fit(archs_in, values)
    mean, std = own.predict(archs, return_std=True)
    np.testing.assert_allclose(got["predicted"], mean, rtol=1e-6)
    np.testing.assert_allclose(got["std"], std, rtol=1e-6)
    assert (std > 0).all()
    # the registry's 'meta' predictor reads the directory too
    reg = make_predictor("meta", checkpoint=str(ens), space="nb201", task=TARGET, seed=3).fit(archs_in, values)
    assert isinstance(reg, MetaEnsemble)
    np.testing.assert_allclose(reg.predict(archs), mean, rtol=1e-6)


def test_damaged_ensembles_are_refused_in_one_line(ens, files, capsys, tmp_path):
    d, _, _ = files
    argv = ["predict", "--support", str(d / "s.csv"), "--all", "--task", TARGET, "--out", str(tmp_path / "p.csv")]
    bad = _copy(ens, tmp_path)
    model = bad / "member-1" / "model.pt"
    model.write_bytes(model.read_bytes()[:100])
    _error(capsys, argv + ["--model", str(bad)], "member-1", "model.pt is truncated or corrupt")
    shutil.rmtree(bad / "member-1")
    _error(capsys, argv + ["--model", str(bad)], "member 'member-1' listed in ensemble.json is missing")
    for text, fragment in (("[1]", "expected an object with format"), ("{", "not a readable JSON file"),
                           ('{"format": "surrogate-nas-ensemble", "members": ["../x"]}', "subdirectory names"),
                           ('{"format": "surrogate-nas-ensemble", "members": []}', "subdirectory names")):
        (bad / "ensemble.json").write_text(text)
        _error(capsys, argv + ["--model", str(bad)], str(bad / "ensemble.json"), fragment)
    assert not (tmp_path / "p.csv").exists()
    # members that read other inputs
    other = _copy(ens, tmp_path / "o")
    cfg = json.loads((other / "member-1" / "config.json").read_text())
    cfg["sources"]["tasks"] = ["cifar100", "cifar10"]
    (other / "member-1" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="member 'member-1' differs from 'member-0' in its sources"):
        load_model(other)


def test_members_1_and_replacing_checkpoints_and_ensembles(ens, capsys, tmp_path):
    # a member's pretrain.yaml remakes it alone, as a plain checkpoint (here over a copy of the ensemble)
    d = _copy(ens, tmp_path)
    (d / "notes.txt").write_text("mine")
    assert main(["pretrain", "--config", str(ens / "member-1" / "pretrain.yaml"), "--out", str(d)]) == 0
    assert "checkpoint ->" in capsys.readouterr().out
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.pt", "notes.txt", "pretrain.yaml"]
    again, member = load_model(d), load_checkpoint(ens / "member-1")
    assert again.meta["seed"] == 1
    for k, v in member.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[k], v), k
    # and an ensemble replaces a checkpoint as a whole (its model files go, other files stay)
    assert main(["pretrain", *TINY, "--members", "2", "--seed", "5", "--out", str(d)]) == 0
    out = capsys.readouterr().out
    assert "member 1/2 (meta seed 5)" in out and "member 2/2 (meta seed 6)" in out and "ensemble of 2 ->" in out
    assert sorted(p.name for p in d.iterdir()) == ["ensemble.json", "member-0", "member-1", "notes.txt",
                                                   "pretrain.yaml"]
    assert [c.meta["seed"] for c in load_model(d)] == [5, 6]


def test_pretrain_new_flags_and_bad_values(capsys, tmp_path):
    from surrogate_nas.cli import build_parser
    from surrogate_nas.meta.defaults import DEFAULT_MEMBERS, DEFAULT_META

    # the CLI's defaults are the library's: the meta group's are the default meta-predictor's, members DEFAULT_MEMBERS
    sub = next(a for a in build_parser()._actions if isinstance(getattr(a, "choices", None), dict))
    groups = {g.key: g for g in sub.choices["pretrain"].get_default("groups")}
    assert groups["meta"].defaults == DEFAULT_META and groups["pretrain"].default("members") == DEFAULT_MEMBERS
    out = tmp_path / "m"
    for args, fragments in (
        (["--kernel", "cosine"], ["argument --kernel: invalid choice: 'cosine'"]),
        (["--target-scale", "minmax"], ["argument --target-scale: invalid choice: 'minmax'"]),
        (["--meta-val", "tasks"], ["argument --meta-val: invalid choice: 'tasks'"]),
        (["--members", "0"], ["pretrain: members: input should be greater than or equal to 1, got 0"]),
        (["--top-weight", "1.5"], ["top_weight: input should be less than or equal to 1", "1.5"]),
        (["--gp-head"], ["gp_head", "algorithm 'dkt' has one already"]),
    ):
        _error(capsys, ["pretrain", "--out", str(out), "--no-progress", *args], *fragments)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("members: 0\n")
    _error(capsys, ["pretrain", "--config", str(cfg), "--out", str(out)], "pretrain: members: input should be greater than or equal to 1, got 0")
    cfg.write_text("meta:\n  kernel: cosine\n")
    _error(capsys, ["pretrain", "--config", str(cfg), "--out", str(out)], "meta config: kernel: input should be 'rbf', 'matern', 'linear', 'rbf+graph' or 'auto', got 'cosine'")
    assert not out.exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x")
    _error(capsys, ["pretrain", "--out", str(other), "--members", "2"], "non-empty directory that is not a checkpoint")


def test_search_predictor_factory_adapts_an_ensemble(ens, files):
    """The guided searchers' 'meta' predictor: a GP head adapts by conditioning (no cross-validated inner steps)."""
    from surrogate_nas.search.predictor_factory import predictor_factory

    _, archs_in, values = files
    members = load_model(ens)
    for checkpoint in (members, members[0]):
        p = predictor_factory("meta", space="nb201", checkpoint=checkpoint, task=TARGET)(archs_in, values)
        assert isinstance(p, MetaEnsemble) == (checkpoint is members)
        assert np.isfinite(p.predict(archs_in, return_std=True)[1]).all()


def test_search_with_an_ensemble_directory(ens, capsys, tmp_path):
    """`pretrain`'s default output (an ensemble) is a valid `search --model`; its fingerprint covers every member."""
    from surrogate_nas.search.run import _digest

    out = tmp_path / "s"
    argv = ["search", "--space", "nb201", "--task", TARGET, "--strategy", "guided", "--model", str(ens),
            "--budget", "8", "--evaluator", "table", "--seed", "0", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert "8 evaluations" in capsys.readouterr().out
    changed = _copy(ens, tmp_path)
    (changed / "member-1" / "model.pt").write_bytes((changed / "member-0" / "model.pt").read_bytes())
    assert _digest(changed) != _digest(ens)
