"""experiments/hardware_kernel_pick.py: per (target, triple) the ensemble whose members' mean meta-validation tau is
higher, its rows paired against the linear ensemble's, judged by the round's rule."""

import json

import pandas as pd
import pytest

from ..conftest import load_experiment


def _nbg_run(path, kernel, taus, tau_by_target):
    rows = [{"benchmark": "nas-bench-graph", "target_task": t, "k": k, "method": "meta-dkt-ens", "seed": s,
             "kendall_tau": v, "kendall_tau_top": v / 2, "precision_at_1pct": v / 4}
            for t, v in tau_by_target.items() for k in (5, 10) for s in (0, 1)]
    path.mkdir()
    pd.DataFrame(rows).to_csv(path / "predictor_quality.csv", index=False)
    for t in tau_by_target:
        for i, v in enumerate(taus[t]):
            d = path / "checkpoints" / "nas-bench-graph" / t / f"dkt-seed{i}"
            d.mkdir(parents=True)
            (d / "config.json").write_text(json.dumps({"meta": {"kernel": kernel}, "info": {"best_val_tau": v}}))
    return str(path)


def _cpu_csv(path, rbf_wins: dict):
    rows = []
    for meta_seed, wins in rbf_wins.items():
        for s in (0, 1):
            rows.append({"target": "t1-b32-fp32", "meta_seed": meta_seed, "method": "meta/default", "seed": s,
                         "spearman_rho": 0.90, "val_tau": 0.5})
            rows.append({"target": "t1-b32-fp32", "meta_seed": meta_seed, "method": "meta/default:kernel=rbf",
                         "seed": s, "spearman_rho": 0.80, "val_tau": 0.6 if wins else 0.5})  # a tie keeps linear
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_the_pick_follows_the_members_taus_and_the_rule_reads_both_tables(tmp_path, capsys):
    mod = load_experiment("hardware_kernel_pick")
    lin, rbf = [], []
    for t in range(3):
        lin.append(_nbg_run(tmp_path / f"lin{t}", "linear", {"cora": [0.5, 0.5], "photo": [0.5, 0.5]},
                            {"cora": 0.70, "photo": 0.60}))
        rbf.append(_nbg_run(tmp_path / f"rbf{t}", "rbf", {"cora": [0.6, 0.5], "photo": [0.4, 0.5]},
                            {"cora": 0.72 + 0.001 * t, "photo": 0.10}))  # photo's RBF rows are never picked
    cpu = _cpu_csv(tmp_path / "cpu.csv", {0: False, 7: False, 14: False})
    assert mod.main(["--cpu", cpu, "--linear", ",".join(lin), "--rbf", ",".join(rbf), "--name", "k",
                     "--dest", str(tmp_path)]) == 0
    md = (tmp_path / "k.md").read_text()
    got = pd.read_csv(tmp_path / "k.csv")
    nbg = got[got.table == "nas-bench-graph"]
    assert set(nbg[nbg.target_task == "cora"].pick) == {"rbf"} and set(nbg[nbg.target_task == "photo"].pick) == {
        "linear"}
    assert nbg[nbg.target_task == "photo"].kendall_tau_difference.abs().max() == 0
    assert (got[got.table == "cpu"].difference == 0).all()  # every CPU ensemble keeps the linear kernel
    assert "Verdict: adopted" in md  # NBG gains (+0.01 on cora), the CPU ties
    capsys.readouterr()
    cpu = _cpu_csv(tmp_path / "cpu2.csv", {0: True, 7: False, 14: False})  # one CPU triple picks RBF and loses
    assert mod.main(["--cpu", cpu, "--linear", ",".join(lin), "--rbf", ",".join(rbf)]) == 0
    out = capsys.readouterr().out
    assert "(1) D_b >= -0.002 on both tables: fails" in out and "not adopted" in out


def test_a_member_of_the_other_kernel_is_refused(tmp_path):
    mod = load_experiment("hardware_kernel_pick")
    lin = [_nbg_run(tmp_path / f"lin{t}", "rbf", {"cora": [0.5]}, {"cora": 0.7}) for t in range(2)]
    rbf = [_nbg_run(tmp_path / f"rbf{t}", "rbf", {"cora": [0.5]}, {"cora": 0.7}) for t in range(2)]
    cpu = _cpu_csv(tmp_path / "cpu.csv", {0: False, 7: False})
    with pytest.raises(SystemExit, match="kernel 'rbf', expected 'linear'"):
        mod.main(["--cpu", cpu, "--linear", ",".join(lin), "--rbf", ",".join(rbf)])
