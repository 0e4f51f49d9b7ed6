"""Headline means and win counts are over held-out targets only; validation targets get their own rows."""

from __future__ import annotations

import pandas as pd


def _pq_rows(bench: str, target: str, tau: float) -> list[dict]:
    return [{"benchmark": bench, "target_task": target, "k": 5, "method": m, "seed": s, "kendall_tau": tau,
             "spearman_rho": tau, "kendall_tau_top": tau, "precision_at_1pct": tau, "coverage_50": 0.5,
             "coverage_90": 0.9, "gaussian_nll": 1.0} for m in ("meta-dkt-ens", "ridge-source") for s in (0, 1)]


def test_predictor_quality_means_leave_the_validation_targets_out():
    from surrogate_nas.experiment.predictor_quality import markdown, summarise

    df = pd.DataFrame(_pq_rows("nas-bench-graph", "cora", 1.0) + _pq_rows("nas-bench-graph", "citeseer", 0.2))
    s = summarise(df)
    assert dict(zip(s["target_task"], s["held_out"])) == {"cora (val)": False, "citeseer": True}
    md = markdown(df, pd.DataFrame({"target": ["citeseer"], "seconds": [1.0]}))
    mean_block = md.split("mean Kendall tau over held-out targets")[1].split("###")[0]
    assert "0.2" in mean_block and "0.6" not in mean_block and "| 1 " not in mean_block
    assert "cora (val)" in md  # its own rows in the per-target table


def test_search_efficiency_win_counts_are_over_held_out_targets(tmp_path):
    from surrogate_nas.experiment.search_efficiency import write_report

    rows = []
    for task, guided, evo in (("cora", 0.9, 0.5), ("photo", 0.9, 0.5), ("citeseer", 0.5, 0.9)):
        for method, value in (("guided-meta", guided), ("evolution", evo)):
            for seed in (0, 1):
                for e in range(1, 201 if method == "evolution" else 51):
                    rows.append({"benchmark": "nas-bench-graph", "target_task": task, "method": method, "seed": seed,
                                 "evaluation": e, "best_value": value, "best_test": value, "scored": 0})
    md, _ = write_report(pd.DataFrame(rows), [], [], tmp_path, "quick", "cmd", log=lambda m: None)
    text = "\n".join(md)
    assert "guided-meta: 0/1" in text  # cora and photo (val) won, but are not counted


def test_a_grid_of_the_latency_constrained_pair_alone_is_reported(tmp_path):
    """The constrained methods have their own section; with no unconstrained method there is no pooled figure
    (it used to end the run in a traceback after every cell was stored)."""
    from surrogate_nas.experiment.search_efficiency import write_report

    rows = [{"benchmark": "nas-bench-graph", "target_task": "citeseer", "method": method, "seed": seed,
             "evaluation": e, "best_value": 0.5 + e / 1000, "best_test": 0.5 + e / 1000, "scored": 0}
            for method, n in (("evolution (latency<=p25)", 200), ("guided-meta (latency<=p25)", 50))
            for seed in (0, 1) for e in range(1, n + 1)]
    md, _ = write_report(pd.DataFrame(rows), [], [], tmp_path, "full", "cmd", log=lambda m: None)
    text = "\n".join(md)
    assert "## Constrained search: latency" in text and "guided-meta@50" in text
    assert not (tmp_path / "search_efficiency_nbg.png").exists()
