"""experiments/search_efficiency.py --report: one report from the trajectories of separate runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from surrogate_nas.search import TableEvaluator, make_searcher, run_loop

from ..conftest import load_experiment


def _script():
    return load_experiment("search_efficiency")


def _run_dir(d: Path, table, bench, task, metric, test_metric, budget, rate):
    ev = TableEvaluator(table, task, metric, test_metric)
    frames = [run_loop(make_searcher(m, table.space, seed, {}, table, task, metric), ev, budget)
              .assign(benchmark=bench, target_task=task, method=m, seed=seed)
              for m in ("random", "local") for seed in range(2)]
    d.mkdir()
    pd.concat(frames).to_csv(d / "trajectories.csv.gz", index=False)
    (d / "run_log.txt").write_text(f"[{bench}/{task}] done\nrate={rate}\n")


def test_report_merges_runs_of_both_benchmarks(tmp_path, nb201_table, nbg_table, capsys):
    _run_dir(tmp_path / "a", nb201_table, "nb201", "ImageNet16-120", "test_acc", "test_acc", 12, 1000.0)
    _run_dir(tmp_path / "b", nbg_table, "nas-bench-graph", "citeseer", "valid_perf", "test_perf", 12, 3000.0)
    mod = _script()
    out = tmp_path / "report"
    assert mod.main(["--report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    res = pd.read_csv(out / "search_efficiency.csv")
    assert list(res.columns) == ["benchmark", "target_task", "method", "seed", "evaluations", "best_value", "best_test"]
    assert set(res["benchmark"]) == {"nb201", "nas-bench-graph"} and set(res["seed"]) == {0, 1}
    md = (out / "search_efficiency.md").read_text()
    assert "## NB-201" in md and "## NAS-Bench-Graph" in md and "[nas-bench-graph/citeseer] done" in md
    assert "median 2,000" in md and "rate=" not in md  # one rate per run, each counted once
    assert (out / "search_efficiency.png").stat().st_size > 0 and (out / "search_efficiency_nbg.png").is_file()
    assert not (out / "trajectories.csv.gz").exists()  # a report runs nothing


def test_report_names_a_missing_run(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _script().main(["--report", str(tmp_path / "nope"), "--out", str(tmp_path / "r")])
    assert f"{tmp_path / 'nope' / 'trajectories.csv.gz'} not found" in capsys.readouterr().err


def test_the_best_so_far_figure_steps_shows_integer_ticks_the_ceiling_and_the_start():
    import matplotlib.pyplot as plt

    from surrogate_nas.search.report import best_so_far_figure

    rows = [{"method": "m", "seed": s, "evaluation": e, "best_test": v}
            for s, vals in enumerate([[10, 40, 40, 45], [12, 30, 44, 44]]) for e, v in enumerate(vals, start=1)]
    for logx in (True, False):
        fig = best_so_far_figure(pd.DataFrame(rows), optimum=46.48, optimum_label="ceiling", logx=logx)
        ax = fig.axes[0]
        line = ax.get_lines()[0]
        assert line.get_drawstyle() == "steps-post"  # a best-so-far value holds until the next improvement
        lo, hi = ax.get_ylim()
        assert lo <= 10.5 and hi >= 46.48  # evaluation 1's band (10..12) and the ceiling are in view
        assert any("ceiling 46.48" in t.get_text() for t in ax.get_legend().get_texts())
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 4]
        assert ticks and all(float(t).is_integer() for t in ticks)
        plt.close(fig)
