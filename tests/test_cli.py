"""The command line: --config files, --help, and every bad input as one line + exit 2."""

import argparse
import dataclasses
import json
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest
import torch

from surrogate_nas.cli import build_parser, main
from surrogate_nas.cli.options import cli_type
from surrogate_nas.cli.common import WIDTH

from .conftest import NB201_CSV, REPO

NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
NB2 = "|skip_connect~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
TWIN = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"  # isomorphic to NB


def _error(capsys, argv, fragment) -> str:
    """Run the CLI expecting a refusal: exit 2, exactly one line on stderr naming ``fragment``."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("surrogate-nas: error: "), err
    assert fragment in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    assert main(["pretrain", "--train-tasks", "cifar10,cifar100", "--out", str(out), "--iterations", "2",
                 "--hidden", "8", "--layers", "1", "--members", "1", "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def support(tmp_path_factory, nb201_table):
    d = tmp_path_factory.mktemp("support")
    s = nb201_table.series("ImageNet16-120", "test_acc").sample(8, random_state=1)
    pd.DataFrame({"arch": s.index, "value": s.values}).to_csv(d / "s.csv", index=False)
    c = nb201_table.series("cifar10", "test_acc").sample(8, random_state=2)
    pd.DataFrame({"arch": c.index, "value": c.values}).to_csv(d / "cifar10.csv", index=False)
    (d / "archs.txt").write_text("# three archs\n" + "\n".join(s.index[:3]) + "\n\n")
    return d


@pytest.fixture
def broken_ckpt(ckpt_dir, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(ckpt_dir, d)
    return d


# ---------------------------------------------------------------------- data
def test_data_list_shows_sources_in_100_columns(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "nas-bench-graph" in out and "26206" in out and "nb201" in out and "15625" in out
    assert max(len(ln) for ln in out.splitlines()[1:]) <= WIDTH  # the first line is the data dir's path
    assert main(["data", "list", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "arxiv,citeseer,computers,cora,cs,photo,physics,pubmed" in out and "MIT" in out
    # the data files that are not benchmarks of their own are listed too, with where they are read from
    files = out[out.index("data file"):].splitlines()
    for name in ("nb201-free-features", "nb201-hp12", "nb201-params-flops"):
        row = next(ln for ln in files if ln.startswith(name))
        assert "available" in row and ".csv" in row


def test_data_import_over_an_earlier_table_says_it_replaces_it(capsys, data_dir, tmp_path):
    src = tmp_path / "lat.csv"
    pd.DataFrame({"arch": [NB, NB2], "dev": [1.0, 2.0]}).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "lat", "--name", "mine"]) == 0
    assert "replaces" not in capsys.readouterr().err
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "lat", "--name", "mine"]) == 0
    assert "note: it replaces the table imported earlier as 'mine'" in capsys.readouterr().err


def test_data_list_survives_a_broken_imported_table(capsys, data_dir, tmp_path):
    src = tmp_path / "lat.csv"
    pd.DataFrame({"arch": [NB, NB2], "pixel7": [3.0, 4.0]}).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "latency_ms"]) == 0
    (data_dir / "imported" / "corrupt.parquet").write_text("not parquet")
    capsys.readouterr()
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    assert "broken" in rows["corrupt"] and "imported" in rows["lat"] and "available" in rows["nas-bench-graph"]
    assert "corrupt: broken: benchmark table" in out
    assert max(len(ln) for ln in out.splitlines()[1:]) <= WIDTH  # the first line is the data dir's path


def test_records_summary_and_top(capsys):
    assert main(["records", "summary", "nas-bench-graph"]) == 0
    out = capsys.readouterr().out
    assert "valid_perf" in out and "838592 records" in out
    assert main(["records", "top", "nb201", "--task", "ImageNet16-120", "--metric", "test_acc", "-n", "1"]) == 0
    assert "47.31" in capsys.readouterr().out
    _error(capsys, ["records", "top", "nb201", "--metric", "test_acc"], "records top: --task required")


def test_metric_may_be_left_out_where_a_table_has_one(capsys, data_dir, tmp_path):
    src = tmp_path / "one.csv"
    pd.DataFrame({"arch": [NB, NB2], "dev": [3.0, 1.0]}).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "lat", "--name", "one"]) == 0
    capsys.readouterr()
    assert main(["records", "top", "one", "--task", "dev", "--ascending", "-n", "1"]) == 0  # no --metric
    out = capsys.readouterr().out
    assert "lat" in out and NB2 in out and NB not in out
    src2 = tmp_path / "two.csv"
    pd.DataFrame({"arch": [NB, NB], "task": ["dev", "dev"], "metric": ["lat", "mem"], "value": [1.0, 2.0]}).to_csv(
        src2, index=False)
    assert main(["data", "import", str(src2), "--space", "nb201", "--name", "two"]) == 0
    _error(capsys, ["records", "top", "two", "--task", "dev"], "--metric is required for benchmark 'two'; metrics: lat, mem")


def test_data_fetch_from_a_local_copy_is_the_offline_route(capsys, data_dir):
    """An installed wheel has no data/ folder: every data set, shipped ones included, installs from a local copy
    (plain or the repo's .xz), sha256-checked."""
    xz = REPO / "data" / "nb201" / "nb201_hp12_valid_test.csv.xz"
    assert main(["data", "fetch", "nb201-hp12", "--from", str(xz)]) == 0
    dest = data_dir / "nb201" / "nb201_hp12_valid_test.csv"
    assert "sha256 verified" in capsys.readouterr().out and dest.is_file()
    before = dest.read_bytes()
    _error(capsys, ["data", "fetch", "nb201-hp12", "--force", "--from", str(REPO / "data" / "nb201" / "nats_bench.csv.xz")],
           "expected dd03f9c5")
    assert dest.read_bytes() == before  # a wrong copy leaves the good one in place
    _error(capsys, ["data", "fetch", "nb201", "--from", str(xz), "--url", "file:///x"], "not both")


def test_fetch_import_and_errors(capsys, data_dir, tmp_path):
    assert main(["data", "fetch", "nb201", "--url", NB201_CSV.as_uri()]) == 0
    assert "sha256 verified" in capsys.readouterr().out
    src = tmp_path / "lat.csv"
    pd.DataFrame({"arch": [NB], "pixel7": [3.0]}).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "latency_ms"]) == 0
    assert main(["data", "list"]) == 0
    assert "imported" in capsys.readouterr().out
    _error(capsys, ["records", "summary", "nope"], "unknown benchmark 'nope'")
    _error(capsys, ["data", "import", str(src), "--space", "nb999", "--metric", "m"], "unknown search space 'nb999'")


@pytest.mark.parametrize(
    "text, extra, fragment",
    [
        (f"arch,task,metric,value\n{NB},,m,1.0\n{NB2},t,m,2.0\n", [], "data row 1: empty 'task' cell"),
        (f"arch,task,metric,value\n{NB},t,,1.0\n", [], "data row 1: empty 'metric' cell"),
        ("arch,dev\n", ["--metric", "m"], "no records (only a header)"),
        (f"arch,dev\n{NB},True\n", ["--metric", "m"], "column 'dev', data row 1: True is a boolean, not a number"),
        (f"arch,dev,dev\n{NB},1,2\n", ["--metric", "m"], "duplicate column name(s) 'dev'"),
        (f"arch,dev\n{NB},1\n{NB},2\n", ["--metric", "m"],
         "data rows 1 and 2: architecture"),  # the same string twice, conflicting values
    ],
)
def test_import_refuses_bad_tables_and_writes_nothing(capsys, data_dir, tmp_path, text, extra, fragment):
    src = tmp_path / "u.csv"
    src.write_text(text)
    _error(capsys, ["data", "import", str(src), "--space", "nb201", *extra], fragment)
    assert not (data_dir / "imported").exists() or list((data_dir / "imported").iterdir()) == []


def test_import_and_fetch_of_files_that_are_not_tables(capsys, data_dir, tmp_path):
    (tmp_path / "t.parquet").write_text("hello")
    _error(capsys, ["data", "import", str(tmp_path / "t.parquet"), "--space", "nb201"], "not a readable parquet file")
    _error(capsys, ["data", "import", str(tmp_path / "no.parquet"), "--space", "nb201"], "no.parquet does not exist")
    _error(capsys, ["data", "import", str(tmp_path), "--space", "nb201"], "is a directory, not a table file")
    _error(capsys, ["data", "fetch", "nb201", "--url", "not a url"], "'not a url' is not a URL")
    _error(capsys, ["data", "import", str(tmp_path / "t.parquet")], "data import: --space required")


# ---------------------------------------------------------------------- help and --config
def _parsers(p=None):
    p = p or build_parser()
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sp in a.choices.values():
                yield from _parsers(sp)


def test_help_is_plain_text_and_every_option_has_help_and_default(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["--help"])
    assert ei.value.code == 0
    top = capsys.readouterr().out
    assert "``" not in top and ":func:" not in top and "--config" in top
    for p in _parsers():
        for a in p._actions:
            if a.dest != "help" and not isinstance(a, argparse._SubParsersAction):
                assert a.help, f"{p.prog} {a.option_strings or a.dest} has no help text"
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "graph convolution layers (default: 3)" in out and "inner-loop learning rate (default: 0.05)" in out


def test_options_are_generated_from_the_typed_configs(capsys):
    """search, verify and pretrain options are fields of their typed configs: the flag, the choices and the default
    shown in --help come from the model (pretrain's meta defaults are the chosen meta-predictor's)."""
    from surrogate_nas.meta.defaults import DEFAULT_META

    for command in ("search", "verify", "pretrain"):
        p = next(sp for sp in _parsers() if sp.prog == f"surrogate-nas {command}")
        for g in p.get_default("groups"):
            for name in g.flags:
                action = next(a for a in p._actions if a.dest == f"{g.key}.{name}")
                assert action.option_strings[0] == g.flag(name) and action.default is argparse.SUPPRESS
                kind, choices = cli_type(g.model.model_fields[name].annotation)
                assert kind != "choices" or tuple(action.choices) == choices
                default = g.default(name)
                if name not in g.required and isinstance(default, (int, float, str)) and not isinstance(default, bool):
                    assert action.help.endswith(f"(default: {default})"), (command, name, action.help)
    meta = next(g for g in next(sp for sp in _parsers() if sp.prog == "surrogate-nas pretrain").get_default("groups")
                if g.key == "meta")
    assert meta.defaults == DEFAULT_META
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "{maml,reptile,multitask,dkt}" in out and "the non-meta ablation) (default: dkt)" in out


def test_config_file_fills_options_and_given_flags_win(capsys, tmp_path):
    cfg = tmp_path / "top.yaml"
    cfg.write_text("task: ImageNet16-120\nmetric: test_acc\nn: 3\n")
    assert main(["records", "top", "nb201", "--config", str(cfg)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3
    # a flag equal to its default still overrides the file: only what the user typed counts
    assert main(["records", "top", "nb201", "--config", str(cfg), "-n", "10"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 10
    cfg.write_text("task: ImageNet16-120\nmetric: test_acc\nn: 3\ncolour: red\n")
    _error(capsys, ["records", "top", "nb201", "--config", str(cfg)], "unknown key 'colour' for `surrogate-nas records top`")
    cfg.write_text("task: ImageNet16-120\nn: true\n")
    _error(capsys, ["records", "top", "nb201", "--config", str(cfg)], "records top: n: must be an integer, not true/false, got True")
    cfg.write_text("- a\n- b\n")
    _error(capsys, ["records", "top", "nb201", "--config", str(cfg)], "must be a mapping of option: value, got a YAML list")
    cfg.write_text("task: [1,\n")
    _error(capsys, ["records", "top", "nb201", "--config", str(cfg)], "is not valid YAML")
    _error(capsys, ["records", "top", "nb201", "--config", str(tmp_path)], "is a directory, not a file")


def test_search_config_is_a_search_config_yaml(capsys, tmp_path):
    out = tmp_path / "r"
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"task: cifar10\nstrategy: random\nbudget: 3\nprogress: false\nout: {out}\nmaximize: true\n")
    assert main(["search", "--config", str(cfg)]) == 0
    import yaml

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["budget"] == 3 and saved["strategy"] == "random" and saved["task"] == "cifar10"
    # the run's own config.yaml is valid --config input; a given flag overrides it (here: extend the budget)
    assert main(["search", "--config", str(out / "config.yaml"), "--budget", "5"]) == 0
    assert "5 evaluations (3 resumed" in capsys.readouterr().out
    cfg.write_text("task: cifar10\nout: x\npopulaton: 3\n")
    _error(capsys, ["search", "--config", str(cfg)], "unknown key 'populaton' for `surrogate-nas search`")
    cfg.write_text("task: cifar10\nout: x\noptions: [1]\n")
    _error(capsys, ["search", "--config", str(cfg)], "search config: options: input should be a valid dictionary, got [1]")


def test_pretrain_config_sections_and_pretrain_yaml_roundtrip(capsys, ckpt_dir, tmp_path):
    import yaml

    saved = yaml.safe_load((ckpt_dir / "pretrain.yaml").read_text())
    assert saved["model"]["hidden"] == 8 and saved["meta"]["iterations"] == 2 and saved["val_tasks"] == []
    out = tmp_path / "again"
    assert main(["pretrain", "--config", str(ckpt_dir / "pretrain.yaml"), "--out", str(out), "--layers", "2",
                 "--no-progress"]) == 0
    capsys.readouterr()
    again = yaml.safe_load((out / "pretrain.yaml").read_text())
    assert again["model"] == {**saved["model"], "layers": 2} and again["meta"] == saved["meta"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  depth: 3\n")
    _error(capsys, ["pretrain", "--config", str(bad), "--out", str(tmp_path / "x")], "unknown key 'model.depth'")
    bad.write_text("meta:\n  inner_lr: fast\n")
    _error(capsys, ["pretrain", "--config", str(bad), "--out", str(tmp_path / "x")], "meta config: inner_lr: input should be a valid number, got 'fast'")
    bad.write_text("first_order: true\n")
    _error(capsys, ["pretrain", "--config", str(bad), "--out", str(tmp_path / "x")], "unknown key 'first_order'")
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------- pretrain
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--train-tasks", "cifar10,cifar10"], "task 'cifar10' is given more than once"),
        (["--train-tasks", ",,"], "--train-tasks ',,': empty task name"),
        (["--val-tasks", "cifar10,"], "--val-tasks 'cifar10,': empty task name"),
        (["--hidden", "-3"], "hidden: input should be greater than or equal to 1, got -3"),
        (["--hidden", "0"], "hidden: input should be greater than or equal to 1, got 0"),
        (["--layers", "0"], "layers: input should be greater than or equal to 1, got 0"),
        # sizes that cannot fit or would not end are refused before anything is allocated
        (["--hidden", str(10**9)], "hidden: input should be less than or equal to 4096, got 1000000000"),
        (["--layers", str(10**6)], "layers: input should be less than or equal to 64, got 1000000"),
        (["--iterations", str(10**30)], "iterations: input should be less than or equal to 1000000"),
        (["--seed", str(2**70)], "seed: input should be less than or equal to 4294967295"),
        (["--device", "bogus"], "device: must be a torch device name"),
        (["--target", ""], "pretrain: target must be a task name, got ''"),
        (["--features", "params,params"], "free feature 'params' is listed twice"),
        (["--metric", "bogus"], "has metric 'bogus'; it has test_acc, valid_acc"),
        (["--conv", "gat", "--hidden", "2"], "hidden must be a multiple of 4"),
        (["--threads", "-1"], "pretrain: threads: input should be greater than or equal to 1, got -1"),
        (["--inner-lr", "nan"], "inner_lr"),
        (["--inner-steps", "-3"], "inner_steps"),
        (["--hidden", "x"], "argument --hidden: invalid int value: 'x'"),
        (["--features", "synflow", "--benchmark", "nas-bench-graph"], "unknown free feature 'synflow'"),
        (["--features", "latency", "--benchmark", "nas-bench-graph", "--metric", "latency"],
         "free feature 'latency' is the metric being predicted"),
    ],
)
def test_pretrain_bad_options_are_one_line_before_any_work(capsys, tmp_path, args, fragment):
    _error(capsys, ["pretrain", "--out", str(tmp_path / "m"), "--no-progress", *args], fragment)
    assert not (tmp_path / "m").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_pretrain_on_a_missing_gpu_is_one_line(capsys, tmp_path):
    _error(capsys, ["pretrain", "--out", str(tmp_path / "m"), "--no-progress", "--device", "cuda"],
           "device 'cuda' requested but CUDA is not available")
    assert not (tmp_path / "m").exists()


def test_pretrain_for_a_target_the_benchmark_lacks_says_so(capsys, tmp_path):
    assert main(["pretrain", "--target", "mars", "--out", str(tmp_path / "m"), "--iterations", "2", "--hidden", "8",
                 "--layers", "1", "--members", "1", "--no-progress"]) == 0
    err, out = (lambda c: (c.err, c.out))(capsys.readouterr())
    assert "note: target 'mars' is not a task of nb201 (tasks: ImageNet16-120, cifar10, cifar100)" in err
    assert "meta-trained on ImageNet16-120, cifar10, cifar100" in out


def test_pretrain_checks_out_before_training(capsys, tmp_path, monkeypatch, unwritable_dir):
    import surrogate_nas.meta.pretrain as pre

    monkeypatch.setattr(pre, "pretrain", lambda *a, **k: pytest.fail("trained before checking --out"))
    (tmp_path / "file").write_text("x")
    _error(capsys, ["pretrain", "--out", str(tmp_path / "file")], "is an existing file, not a directory")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    _error(capsys, ["pretrain", "--out", str(tmp_path / "other")], "non-empty directory that is not a checkpoint")
    ro = unwritable_dir
    _error(capsys, ["pretrain", "--out", str(ro / "m")], "cannot write in")


def test_pretrain_on_a_small_imported_table(capsys, data_dir, tmp_path):
    from surrogate_nas.meta.checkpoint import load_checkpoint
    from surrogate_nas.spaces import get_space

    sp = get_space("nb201")
    archs, seen = [], set()
    for a in sp.enumerate()[::37]:
        if sp.canonical(a) not in seen and len(archs) < 10:
            seen.add(sp.canonical(a))
            archs.append(sp.format(a))
    src = tmp_path / "ten.csv"
    pd.DataFrame({"arch": archs, "d1": range(10), "d2": [x % 4 for x in range(10)], "d3": range(10, 0, -1)}).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "lat"]) == 0
    out = tmp_path / "m"
    assert main(["pretrain", "--benchmark", "ten", "--metric", "lat", "--out", str(out), "--iterations", "2",
                 "--hidden", "8", "--layers", "1", "--members", "1", "--no-progress"]) == 0
    assert load_checkpoint(out).target_metric == "lat"
    # predicting the whole space from a table of 10 rows: the architectures outside it say so
    sup = tmp_path / "sup.csv"
    pd.DataFrame({"arch": archs[:4], "value": [5.0, 1.0, 3.0, 2.0]}).to_csv(sup, index=False)
    capsys.readouterr()
    assert main(["predict", "--model", str(out), "--support", str(sup), "--all", "--members", "0", "--show", "0",
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert "note: 15615 of 15625 architectures lack values of some of the 3 source tasks" in capsys.readouterr().err
    pred = pd.read_csv(tmp_path / "p.csv").set_index("arch")
    assert (pred.loc[archs, "sources_missing"] == 0).all() and pred["sources_missing"].max() == 3


# ---------------------------------------------------------------------- predict
def test_predict_orders_by_the_metric_and_show_0_prints_only_the_summary(capsys, ckpt_dir, support, tmp_path):
    args = ["--support", str(support / "s.csv"), "--task", "ImageNet16-120", "--members", "0", "--all"]
    assert main(["predict", "--model", str(ckpt_dir), *args, "--out", str(tmp_path / "p.csv"), "--show", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("adapted on 8 measured") and "highest first" in out[0]
    high = pd.read_csv(tmp_path / "p.csv")["predicted"].to_numpy()
    assert len(high) == 15625 and (high[:-1] >= high[1:]).all()
    low_model = tmp_path / "low"  # a checkpoint of a lower-is-better metric lists the lowest predictions first
    assert main(["pretrain", "--train-tasks", "cifar10,cifar100", "--out", str(low_model), "--iterations", "2",
                 "--hidden", "8", "--layers", "1", "--members", "1", "--no-progress", "--lower-is-better"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(low_model), *args, "--out", str(tmp_path / "q.csv"), "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert "lowest first" in out and len(out.splitlines()) == 4  # summary, header, two rows
    low = pd.read_csv(tmp_path / "q.csv")["predicted"].to_numpy()
    assert (low[:-1] <= low[1:]).all()


def test_predict_with_task_and_umask(capsys, ckpt_dir, support, tmp_path):
    out = tmp_path / "p.csv"
    old = os.umask(0o022)
    try:
        assert main(["predict", "--model", str(ckpt_dir), "--support", str(support / "s.csv"), "--archs",
                     str(support / "archs.txt"), "--out", str(out), "--task", "ImageNet16-120", "--members", "2"]) == 0
    finally:
        os.umask(old)
    df = pd.read_csv(out)
    assert list(df.columns) == ["rank", "arch", "key", "predicted", "std", "measured"] and len(df) == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # the user's umask, not mkstemp's 0600


def test_predict_refuses_a_source_task_named_or_copied(capsys, ckpt_dir, support, tmp_path):
    base = ["predict", "--model", str(ckpt_dir), "--archs", str(support / "archs.txt"), "--out", str(tmp_path / "p.csv")]
    _error(capsys, base + ["--support", str(support / "s.csv"), "--task", "cifar10"], "target task 'cifar10' is also a source")
    _error(capsys, base + ["--support", str(support / "cifar10.csv")], "'cifar10'")
    assert not (tmp_path / "p.csv").exists()




def test_predict_accepts_isomorphic_support_cells_with_a_note(capsys, ckpt_dir, support, tmp_path):
    """Two isomorphic strings in a support set are two measurements; the checkpoint's metric (test_acc) is
    function-level, so one note says they are repeated measurements of one function."""
    twins = tmp_path / "twins.csv"
    s = pd.read_csv(support / "s.csv")
    pd.concat([s, pd.DataFrame({"arch": [NB, TWIN], "value": [50.0, 51.0]})]).to_csv(twins, index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(ckpt_dir), "--support", str(twins), "--archs", str(support / "archs.txt"),
                 "--out", str(out), "--members", "0"]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and f"data rows {len(s) + 1} and {len(s) + 2}" in notes[0], notes
    assert "'test_acc' values are treated as repeated measurements of one function" in notes[0]
    assert len(pd.read_csv(out)) == 3


def test_import_accepts_isomorphic_cells_a_note_for_accuracy_none_for_latency(capsys, data_dir, tmp_path):
    src = tmp_path / "u.csv"
    src.write_text(f"arch,dev\n{NB},1\n{TWIN},2\n{NB2},3\n")
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "acc", "--name", "a"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("note: ") and "1 group(s) of isomorphic cells" in err[0], err
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "latency_ms", "--name", "b"]) == 0
    assert capsys.readouterr().err == ""  # different networks: nothing to say


def test_predict_bad_inputs_are_one_line(capsys, ckpt_dir, support, tmp_path, unwritable_dir):
    s = support / "s.csv"
    base = ["predict", "--model", str(ckpt_dir), "--all"]
    fast = tmp_path / "fast.csv"
    df = pd.read_csv(s).astype({"value": object})
    df.loc[2, "value"] = "fast"
    df.to_csv(fast, index=False)
    _error(capsys, base + ["--support", str(fast), "--out", str(tmp_path / "p.csv")],
           "column 'value', data row 3: 'fast' is not a number")
    twins = tmp_path / "twins.csv"
    pd.DataFrame({"arch": [NB2, NB, NB], "value": [1.0, 2.0, 3.0]}).to_csv(twins, index=False)
    _error(capsys, base + ["--support", str(twins), "--out", str(tmp_path / "p.csv")],
           "data rows 2 and 3: architecture")
    blank = tmp_path / "blank.csv"
    blank.write_text(f"arch,value\n{NB},1\n,2\n")
    _error(capsys, base + ["--support", str(blank), "--out", str(tmp_path / "p.csv")], "data row 2: empty architecture cell")
    binary = tmp_path / "archs.bin"
    binary.write_bytes(bytes(range(256)))
    _error(capsys, ["predict", "--model", str(ckpt_dir), "--support", str(s), "--archs", str(binary), "--out",
                    str(tmp_path / "p.csv")], "is not a text file")
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text("# header\n" + NB + "\n|none~0|\n")
    _error(capsys, ["predict", "--model", str(ckpt_dir), "--support", str(s), "--archs", str(bad_list), "--out",
                    str(tmp_path / "p.csv")], "bad.txt, line 3: nb201")
    _error(capsys, base + ["--support", str(s), "--out", str(tmp_path)], "is a directory; give a file name")
    _error(capsys, base + ["--support", str(s), "--out", str(unwritable_dir / "p.csv")], "cannot write in")
    _error(capsys, base + ["--support", str(tmp_path), "--out", str(tmp_path / "p.csv")], "is a directory, not a table file")
    _error(capsys, base + ["--support", str(s), "--out", str(tmp_path / "p.csv"), "--members", "-2"],
           "predict: members: input should be greater than or equal to 0, got -2")
    _error(capsys, base + ["--support", str(s), "--out", str(tmp_path / "p.csv"), "--inner-steps", "-3"],
           "--inner-steps: expected an integer >= 0 or 'cv'")
    _error(capsys, ["predict", "--model", str(ckpt_dir), "--support", str(s), "--out", "p.csv"], "--archs FILE or --all")
    assert not (tmp_path / "p.csv").exists()


class NotAWeight:
    """A pickled Python object in model.pt."""


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda d: (d / "config.json").write_text("[1, 2]"), "config.json holds a JSON list"),
        (lambda d: _edit_config(d, lambda c: c.pop("model")), "config.json lacks key(s) model"),
        (lambda d: _edit_config(d, lambda c: c.update(extra=1)), "config.json has unknown key(s) extra"),
        (lambda d: torch.save(torch.zeros(3), d / "model.pt"), "model.pt holds a Tensor, expected a state_dict"),
        (lambda d: torch.save({"x": NotAWeight()}, d / "model.pt"), "model.pt holds objects that are not weights"),
        (lambda d: _edit_config(d, lambda c: c["model"].update(hidden=16)), "model.pt does not fit the model"),
        # predict builds the convolutions when it first runs them, and checks their weights then
        (lambda d: _edit_config(d, lambda c: c["model"].update(conv="gcn")), "gcn convolutions do not fit checkpoint"),
    ],
)
def test_damaged_checkpoints_are_one_line(capsys, broken_ckpt, support, tmp_path, damage, fragment):
    damage(broken_ckpt)
    line = _error(capsys, ["predict", "--model", str(broken_ckpt), "--support", str(support / "s.csv"), "--all",
                           "--out", str(tmp_path / "p.csv")], fragment)
    assert "weights_only" not in line and "state_dict dump" not in line


def _edit_config(d, edit):
    cfg = json.loads((d / "config.json").read_text())
    edit(cfg)
    (d / "config.json").write_text(json.dumps(cfg))


# ---------------------------------------------------------------------- search / verify
def test_search_bad_options_are_one_line(capsys, tmp_path):
    base = ["search", "--task", "cifar10", "--strategy", "evolution", "--out", str(tmp_path / "r")]
    _error(capsys, base + ["--threads", "0"], "search: threads: input should be greater than or equal to 1, got 0")
    _error(capsys, base + ["--option", "population=[1,"], "--option 'population=[1,': the value is not valid YAML")
    _error(capsys, base + ["--option", "population"], "--option expects key=value")
    _error(capsys, ["search", "--strategy", "random", "--out", str(tmp_path / "r")], "search: --task required")
    _error(capsys, base + ["--members", "2"], "error: unrecognized arguments: --members 2 (see `surrogate-nas --help`)")
    _error(capsys, [], "error: the following arguments are required: COMMAND")
    assert not (tmp_path / "r").exists()


def test_search_test_metric_is_reported(capsys, data_dir, tmp_path):
    src = tmp_path / "two.csv"
    rows = [{"arch": a, "task": "dev", "metric": m, "value": v}
            for a, v in ((NB, 1.0), (NB2, 2.0)) for m, v in (("acc", v), ("acc_test", 10 * v))]
    pd.DataFrame(rows).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201"]) == 0
    capsys.readouterr()
    assert main(["search", "--space", "nb201", "--benchmark", "two", "--task", "dev", "--metric", "acc",
                 "--test-metric", "acc_test", "--strategy", "random", "--budget", "2", "--no-progress",
                 "--out", str(tmp_path / "r")]) == 0
    assert "acc 2.0000  acc_test 20.0000" in capsys.readouterr().out


def test_search_with_train_evaluator_imports_training_first(tmp_path):
    # a fresh process: the "train" evaluator exists only once surrogate_nas.training is imported
    code = ("import sys; from surrogate_nas.cli import main; "
            f"sys.exit(main(['search', '--task', 'cifar10', '--strategy', 'random', '--evaluator', 'train', "
            f"'--budget', '1', '--out', {str(tmp_path / 'r')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 2 and "unknown evaluator" not in r.stderr and "data root" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_verify_out_must_be_a_writable_directory(capsys, tmp_path):
    cands = tmp_path / "c.csv"
    pd.DataFrame({"arch": [NB]}).to_csv(cands, index=False)
    (tmp_path / "existing").write_text("x")
    _error(capsys, ["verify", "--archs", str(cands), "--dataset", "digits", "--out", str(tmp_path / "existing")],
           "is an existing file, not a directory")


def test_cli_import_is_lazy():
    code = ("import sys, surrogate_nas.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pandas', 'numpy', 'yaml', 'surrogate_nas')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['surrogate_nas', 'surrogate_nas.cli', 'surrogate_nas.errors']"


def test_pretrain_target_is_left_out_recorded_and_refused_among_training_tasks(capsys, tmp_path):
    import yaml

    out, cfg = tmp_path / "ck", tmp_path / "p.yaml"
    cfg.write_text(yaml.safe_dump({"meta": {"iterations": 2}}))
    assert main(["pretrain", "--benchmark", "nas-bench-graph", "--target", "cora", "--out", str(out),
                 "--hidden", "8", "--layers", "1", "--members", "1", "--no-progress", "--config", str(cfg)]) == 0
    record = yaml.safe_load((out / "pretrain.yaml").read_text())
    assert record["target"] == "cora" and "cora" not in record["train_tasks"] and len(record["train_tasks"]) == 7
    capsys.readouterr()
    assert main(["pretrain", "--benchmark", "nas-bench-graph", "--target", "cora", "--train-tasks", "cs,cora",
                 "--out", str(tmp_path / "ck2"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "target task 'cora' is also a source/training task" in err[0]
    assert not (tmp_path / "ck2").exists()


def test_data_list_shows_nb201_available_from_the_repo_copy(capsys):
    assert main(["data", "list", "--verbose"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("nb201 "))
    assert " available " in row and "data/nb201/nats_bench.csv.xz" in row


# ---------------------------------------------------------------------- experiment
def test_experiment_run_and_report_in_process(capsys, tmp_path):
    import yaml

    cfg = {"experiment": "predictor-quality", "mode": "quick", "ks": [5], "seeds": 2, "methods": ["ridge-source"],
           "benchmarks": [{"name": "nb201", "metric": "test_acc", "targets": ["ImageNet16-120"]}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["experiment", "run", "predictor-quality", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r"),
            "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    assert "2 cell(s) computed, 0 already stored, 0 checkpoint(s)" in capsys.readouterr().out
    assert main(argv) == 0  # a finished grid: nothing computed, the report rewritten
    assert "0 cell(s) computed, 2 already stored" in capsys.readouterr().out
    (tmp_path / "r" / "predictor_quality_quick.csv").unlink()
    assert main(["experiment", "report", str(tmp_path / "r")]) == 0
    assert len(pd.read_csv(tmp_path / "r" / "predictor_quality_quick.csv")) == 2
    cfg["seeds"] = 3
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _error(capsys, argv, "was started with a different config (seeds: 2 -> 3)")


def test_experiment_errors_are_one_line(capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text("experiment: search-efficiency\nbenchmarks: []\nseedz: 3\n")
    run = ["experiment", "run", "search-efficiency", "--out", str(tmp_path / "r")]
    _error(capsys, run + ["--config", str(tmp_path / "bad.yaml")], "unknown key 'seedz'")
    _error(capsys, run + ["--config", str(REPO / "experiments/configs/predictor-quality-quick.yaml")],
           "is a predictor-quality config, not search-efficiency")
    _error(capsys, run + ["--config", str(tmp_path / "nope.yaml")], "nope.yaml not found")
    _error(capsys, run + ["--config", str(tmp_path / "bad.yaml"), "--workers", "2", "--address", "auto"],
           "--address (a running Ray cluster) or --workers (a local one), not both")
    _error(capsys, ["experiment", "report", str(tmp_path)], "is not an experiment run directory")


# ---------------------------------------------------------------------- free features
def test_pretrain_features_recorded_and_config_roundtrip(capsys, tmp_path):
    out = tmp_path / "ck"
    assert main(["pretrain", "--benchmark", "nas-bench-graph", "--target", "cora", "--features", "all",
                 "--train-tasks", "citeseer,pubmed", "--iterations", "2", "--hidden", "8", "--layers", "1",
                 "--members", "1", "--out", str(out), "--no-progress"]) == 0
    import yaml

    from surrogate_nas.meta.checkpoint import load_checkpoint

    assert yaml.safe_load((out / "pretrain.yaml").read_text())["features"] == ["params", "latency"]
    ck = load_checkpoint(out)
    assert ck.sources["features"] == ["params", "latency"]
    share = ck.info["feature_share"]  # the meta-learned share is recorded and reported
    assert share == pytest.approx(float(ck.model.feature_share().detach())) and 0 < share < 1
    assert f"free features' share of the transfer prior {share:.2f}" in capsys.readouterr().out
    assert main(["pretrain", "--config", str(out / "pretrain.yaml"), "--iterations", "2", "--out", str(tmp_path / "ck2"),
                 "--no-progress"]) == 0
    assert load_checkpoint(tmp_path / "ck2").sources["features"] == ["params", "latency"]


@pytest.mark.slow  # starts a Ray instance for its one worker
def test_data_features_trial_run(capsys, tmp_path):
    from surrogate_nas.features import read_features

    out = tmp_path / "f.csv.xz"
    assert main(["data", "features", "--space", "nb201", "--limit", "3", "--workers", "1", "--out", str(out),
                 "--store", str(tmp_path / "store.sqlite"), "--no-progress"]) == 0
    frame, meta = read_features(out)
    assert len(frame) == 3 and meta["dataset"].startswith("digits")
    capsys.readouterr()  # Ray's start-up lines
    _error(capsys, ["data", "features"], "--space")


def test_fetch_of_a_shipped_table_says_there_is_nothing_to_download(capsys):
    _error(capsys, ["data", "fetch", "nb201-free-features"], "shipped in the repo's data/nb201/free_features.csv.xz")


def test_records_and_data_list_show_fidelities_and_search_follows_the_nb201_protocol(capsys, tmp_path):
    assert main(["records", "summary", "nb201"]) == 0
    out = capsys.readouterr().out
    assert "140625 records" in out and "fidelity" in out.splitlines()[1]
    rows = {tuple(ln.split()[:3]) for ln in out.splitlines()[2:]}
    assert {("cifar10", "test_acc", "12.0"), ("cifar10", "test_acc", "200.0"), ("cifar10", "valid_acc", "12.0")} <= rows
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "fidelities" in out.splitlines()[1]
    assert [ln.split()[-1] for ln in out.splitlines() if ln.startswith(("nb201 ", "nas-bench-graph "))] == ["12,200", "-"]
    assert main(["records", "top", "nb201", "--task", "cifar100", "--metric", "valid_acc@12", "-n", "1"]) == 0
    assert "61.32" in capsys.readouterr().out
    assert main(["search", "--task", "cifar10", "--strategy", "random", "--budget", "3", "--out", str(tmp_path / "s"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "valid_acc@12" in out and "test_acc@200" in out and "noise-free" not in out
    assert main(["search", "--task", "cifar10", "--strategy", "random", "--budget", "3", "--metric", "test_acc",
                 "--out", str(tmp_path / "t"), "--no-progress"]) == 0
    assert "(noise-free simulation: search metric = test metric;" in capsys.readouterr().out
    _error(capsys, ["records", "top", "nb201", "--task", "cifar10", "--metric", "valid_acc@200"],
           "no 'valid_acc' records of fidelity 200 for task 'cifar10'; fidelities there: 12")


def test_fetch_of_the_12_epoch_table_offers_no_download(capsys):
    _error(capsys, ["data", "fetch", "nb201-hp12"], "there is nothing to download (its public source is a pickle")


@pytest.mark.slow  # two spawned processes each import torch (~10 s)
def test_pretrain_members_in_parallel_are_the_members_in_turn(capsys, tmp_path):
    base = ["pretrain", "--train-tasks", "cifar10,cifar100", "--iterations", "2", "--hidden", "8", "--layers", "1",
            "--members", "2", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "one")]) == 0
    assert main([*base, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    out = capsys.readouterr().out
    assert "member 1/2" in out and "member 2/2" in out
    for m in ("member-0", "member-1"):
        a = torch.load(tmp_path / "one" / m / "model.pt", weights_only=True)
        b = torch.load(tmp_path / "two" / m / "model.pt", weights_only=True)
        # bit-equal in fresh processes; in a process where other work ran first, float32 sums differ in the last
        # digits (measured: at most 6e-8 after a search and a verify ran in the same process)
        assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=0, atol=1e-6) for k in a)


def test_the_cli_reference_in_docs_is_generated_from_the_parser():
    from surrogate_nas.cli.reference import reference

    assert (REPO / "docs" / "cli.md").read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is stale: python -m surrogate_nas.cli.reference > docs/cli.md"
    )
