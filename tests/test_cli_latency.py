"""`surrogate-nas measure latency` and a latency table through `data import --lower-is-better`, pretrain, predict."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.cli import main

from .conftest import REPO

SHIPPED = REPO / "data" / "latency" / "nb201_cpu_latency.csv"


def _error(capsys, argv, fragment) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("surrogate-nas: error: "), lines
    assert fragment in lines[0], lines[0]
    return lines[0]


def test_measure_latency_writes_a_table_that_imports_as_lower_is_better(capsys, tmp_path, data_dir):
    out, store = tmp_path / "lat.csv", tmp_path / "store.sqlite"
    argv = ["measure", "latency", "--sample", "1000", "--limit", "2", "--settings", "t1-b1-fp32,t1-b2-fp32-cl",
            "--repeats", "1", "--warmup", "0", "--out", str(out), "--store", str(store), "--no-progress"]
    assert main(argv) == 0
    assert "2 cells x 2 settings" in capsys.readouterr().out
    df = pd.read_csv(out)
    assert list(df.columns) == ["arch", "t1-b1-fp32", "t1-b2-fp32-cl"] and len(df) == 2
    assert (df[["t1-b1-fp32", "t1-b2-fp32-cl"]].to_numpy() > 0).all()
    assert main(argv) == 0  # resumed: nothing left to measure, same table
    assert pd.read_csv(out).equals(df)
    assert main(["data", "import", str(out), "--space", "nb201", "--metric", "latency_ms", "--name", "lat",
                 "--lower-is-better"]) == 0
    assert "lower-is-better" in capsys.readouterr().out
    side = json.loads((data_dir / "imported" / "lat.json").read_text())
    assert side == {"lower_is_better": True, "metrics": ["latency_ms"]}
    from surrogate_nas.benchmarks.readers import imported_lower_is_better

    assert imported_lower_is_better("lat") is True
    assert main(["data", "import", str(out), "--space", "nb201", "--metric", "latency_ms", "--name", "lat"]) == 0
    assert imported_lower_is_better("lat") is False and imported_lower_is_better("nope") is None


@pytest.mark.parametrize("extra, fragment", [
    (["--settings", "t1-b1-fp16"], "bad latency setting 't1-b1-fp16'"),
    (["--settings", "t1-b1-fp32,t1-b1-fp32"], "t1-b1-fp32 given twice"),
    (["--sample", "7000"], "sample size must be an integer from 1 to 6466"),
    (["--sample", "0"], "measure latency: sample: input should be greater than or equal to 1, got 0"),
    (["--repeats", "0"], "measure latency: repeats: input should be greater than or equal to 1, got 0"),
    (["--space", "nas-bench-graph"], "--space 'nas-bench-graph': only nb201"),
    (["--settings", f"t1-b{10**9}-fp32"], f"batch {10**9} is above 4096"),
    (["--settings", f"t{10**20}-b1-fp32"], f"{10**20} threads, but this machine has"),
])
def test_measure_latency_refuses_bad_options_in_one_line(capsys, tmp_path, extra, fragment):
    _error(capsys, ["measure", "latency", "--out", str(tmp_path / "l.csv"), "--store", str(tmp_path / "s.sqlite"),
                    *extra], fragment)
    assert not (tmp_path / "l.csv").exists()


def test_measure_latency_needs_out(capsys):
    _error(capsys, ["measure", "latency"], "measure latency: --out required")


def test_shipped_table_pretrains_and_predicts_a_held_out_setting(capsys, tmp_path, data_dir):
    """The user story: import the wide table as lower-is-better, meta-train on the other settings, adapt on 10."""
    assert main(["data", "import", str(SHIPPED), "--space", "nb201", "--metric", "latency_ms", "--name", "cpu",
                 "--lower-is-better"]) == 0
    capsys.readouterr()
    df = pd.read_csv(SHIPPED)
    target = "t1-b32-fp32"
    model = tmp_path / "model"
    assert main(["pretrain", "--benchmark", "cpu", "--target", target, "--metric", "latency_ms", "--lower-is-better",
                 "--out", str(model), "--iterations", "3", "--hidden", "8", "--layers", "1", "--members", "1",
                 "--no-progress"]) == 0
    cfg = json.loads((model / "config.json").read_text())
    assert target not in cfg["sources"]["tasks"] and len(cfg["sources"]["tasks"]) >= 5
    assert cfg["meta"]["kernel"] == "linear"  # the default for a hardware metric (meta.defaults.HARDWARE_META)
    assert cfg["meta"]["meta_val"] == "task" and cfg["info"]["meta_val_task"] in cfg["sources"]["tasks"]
    assert "kernel: linear" in (model / "pretrain.yaml").read_text()  # the record remakes it
    rbf = tmp_path / "rbf"
    assert main(["pretrain", "--benchmark", "cpu", "--target", target, "--metric", "latency_ms", "--lower-is-better",
                 "--out", str(rbf), "--iterations", "2", "--hidden", "8", "--layers", "1", "--members", "1",
                 "--no-progress", "--kernel", "rbf", "--meta-val", "task-seed"]) == 0
    given = json.loads((rbf / "config.json").read_text())["meta"]
    assert (given["kernel"], given["meta_val"]) == ("rbf", "task-seed")  # what is given wins, the accuracy default too
    assert cfg["sources"]["higher_is_better"] is False
    rows = df.sample(15, random_state=0)
    rows.iloc[:10][["arch", target]].rename(columns={target: "value"}).to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "archs.txt").write_text("\n".join(rows["arch"].iloc[10:]) + "\n")
    assert main(["predict", "--model", str(model), "--support", str(tmp_path / "s.csv"), "--task", target,
                 "--archs", str(tmp_path / "archs.txt"), "--out", str(tmp_path / "p.csv"), "--members", "0"]) == 0
    pred = pd.read_csv(tmp_path / "p.csv")
    assert len(pred) == 5 and np.isfinite(pred["predicted"]).all()
