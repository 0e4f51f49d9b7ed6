"""run_search: results on disk, journal resume after Ctrl-C / SIGKILL, refusals, bad input, real training."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.search import SearchConfig, SearchError, run_search
from surrogate_nas.search.evaluators import TableEvaluator


def journal_rows(out):
    con = sqlite3.connect(out / "journal.sqlite")
    rows = con.execute("SELECT idx, batch, arch, key, value FROM evals ORDER BY idx").fetchall()
    con.close()
    return rows


def cfg(tmp_path, name="run", **kw):
    base = dict(space="nb201", task="ImageNet16-120", strategy="evolution", budget=12, seed=1, progress=False,
                out=str(tmp_path / name), options={"population": 5, "tournament": 2})
    base.update(kw)
    return SearchConfig(**base)


def test_run_search_writes_results(tmp_path, nb201_table):
    r = run_search(cfg(tmp_path, batch_size=3))
    assert r.evaluations == 12 and r.replayed == 0
    for f in ("config.yaml", "journal.sqlite", "trajectory.csv", "best.json", "trajectory.png", "report.md"):
        assert (r.out / f).is_file(), f
    traj = pd.read_csv(r.out / "trajectory.csv")
    assert traj["key"].is_unique and traj["value"].max() == pytest.approx(r.best_value)
    assert SearchConfig.from_yaml((r.out / "config.yaml").read_text()).budget == 12
    # rerunning the finished command replays everything and evaluates nothing
    again = run_search(cfg(tmp_path, batch_size=3))
    assert again.replayed == 12 and again.trajectory["arch"].tolist() == r.trajectory["arch"].tolist()


def test_guided_run_with_model(tmp_path, nb201_ckpt_dir):
    r = run_search(cfg(tmp_path, strategy="guided", model=str(nb201_ckpt_dir), budget=8, options={}))
    # 5 support + 3 guided steps, each scoring the whole unmeasured space (the speed claim, >= 1,000
    # candidates/s, is measured by experiments/search_scoring_speed.py, not asserted on a shared machine)
    assert r.evaluations == 8 and r.info["scored"] == sum(6466 - k for k in (5, 6, 7))
    assert r.scored_per_second > 0 and "candidates/s" in (r.out / "report.md").read_text()


def test_a_search_without_a_strategy_is_hierarchical_and_scores_a_fraction_of_the_space(tmp_path, nb201_ckpt_dir):
    """The default strategy (search-defaults round 5) is HAS: it probes skeleton groups, then searches inside the
    committed ones, so its predictor scores far fewer candidates than flat guided search's whole-space steps."""
    c = SearchConfig(space="nb201", task="ImageNet16-120", model=str(nb201_ckpt_dir), budget=12, seed=1,
                     progress=False, out=str(tmp_path / "default"))
    r = run_search(c)
    assert r.evaluations == 12 and c.resolved().strategy == "hierarchical"
    assert SearchConfig.from_yaml((r.out / "config.yaml").read_text()).strategy == "hierarchical"
    assert 0 < r.info["scored"] < sum(6466 - k for k in range(5, 12)) / 5


@pytest.mark.parametrize("strategy,opts", [
    ("evolution", {"population": 5, "tournament": 2}),
    # guided: the same resume on three guided runs that score the whole space each step (~10-20 s): slow suite
    pytest.param("guided", {"n_support": 3}, marks=pytest.mark.slow),
])
def test_resume_after_interrupt_equals_uninterrupted(tmp_path, monkeypatch, strategy, opts, nb201_ckpt_dir):
    model = str(nb201_ckpt_dir) if strategy == "guided" else None
    full = run_search(cfg(tmp_path, "full", strategy=strategy, options=opts, model=model, batch_size=2))
    calls = {"n": 0}
    real = TableEvaluator.evaluate

    def flaky(self, archs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, archs)

    monkeypatch.setattr(TableEvaluator, "evaluate", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg(tmp_path, "crash", strategy=strategy, options=opts, model=model, batch_size=2))
    before = int((full.trajectory["batch"] < 3).sum())  # evaluated by the 3 evaluate() calls before the crash
    assert len(journal_rows(tmp_path / "crash")) == before
    monkeypatch.setattr(TableEvaluator, "evaluate", real)
    resumed = run_search(cfg(tmp_path, "crash", strategy=strategy, options=opts, model=model, batch_size=2))
    assert resumed.replayed == before
    a, b = journal_rows(tmp_path / "full"), journal_rows(tmp_path / "crash")
    assert [r[:4] for r in a] == [r[:4] for r in b] and len({r[3] for r in b}) == 12


def test_resume_after_sigkill(tmp_path, nb201_table):
    out = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import os, signal
        from surrogate_nas.search import SearchConfig, run_search
        from surrogate_nas.search.evaluators import TableEvaluator
        real, n = TableEvaluator.evaluate, [0]
        def dying(self, archs):
            n[0] += 1
            if n[0] == 8:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, archs)
        TableEvaluator.evaluate = dying
        run_search(SearchConfig(space="nb201", task="ImageNet16-120", strategy="local", budget=15, seed=2,
                                progress=False, out={str(out)!r}))
    """)
    p = subprocess.run([sys.executable, "-c", script], env={**os.environ}, capture_output=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    assert len(journal_rows(out)) == 7
    resumed = run_search(SearchConfig(space="nb201", task="ImageNet16-120", strategy="local", budget=15, seed=2,
                                      progress=False, out=str(out)))
    full = run_search(SearchConfig(space="nb201", task="ImageNet16-120", strategy="local", budget=15, seed=2,
                                   progress=False, out=str(tmp_path / "ref")))
    assert resumed.replayed == 7
    assert [r[:4] for r in journal_rows(out)] == [r[:4] for r in journal_rows(tmp_path / "ref")]
    assert full.best_value == resumed.best_value


def test_refuses_journal_of_another_configuration(tmp_path):
    run_search(cfg(tmp_path, budget=4))
    with pytest.raises(SearchError, match="another search configuration") as e:
        run_search(cfg(tmp_path, budget=4, seed=2))
    assert "\n" not in str(e.value) and "(seed: 1 in the journal, 2 now)" in str(e.value)
    with pytest.raises(SearchError, match="another search configuration") as e:
        run_search(cfg(tmp_path, budget=4, strategy="random", options={}))
    assert "\n" not in str(e.value)
    assert 'options: {"population": 5, "tournament": 2} in the journal, {} now; strategy: evolution in the ' \
        "journal, random now" in str(e.value)


def test_bad_inputs(tmp_path, nb201_ckpt_dir):
    with pytest.raises(SearchError, match="unknown search strategy 'greedy'"):
        run_search(cfg(tmp_path, strategy="greedy"))
    with pytest.raises(SearchError, match="unknown search space 'nb101'"):
        run_search(cfg(tmp_path, space="nb101"))
    with pytest.raises(SearchError, match="unknown task 'imagenet'"):
        run_search(cfg(tmp_path, task="imagenet"))
    for b in (0, -3):
        with pytest.raises(SearchError, match="budget: input should be greater than or equal to 1"):
            run_search(cfg(tmp_path, budget=b))
    with pytest.raises(SearchError, match="unknown evaluator"):
        run_search(cfg(tmp_path, evaluator="oracle"))
    with pytest.raises(SearchError, match="needs --model"):
        run_search(cfg(tmp_path, strategy="guided", options={}))
    with pytest.raises(SearchError, match="model is for space 'nb201'"):
        run_search(cfg(tmp_path, space="nas-bench-graph", task="cora", strategy="guided", options={},
                       model=str(nb201_ckpt_dir)))
    with pytest.raises(TargetLeakError, match="target task 'cifar100' is also a source/training task"):
        run_search(cfg(tmp_path, task="cifar100", strategy="guided", options={}, model=str(nb201_ckpt_dir)))
    with pytest.raises(SearchError, match="missing"):
        run_search(cfg(tmp_path, strategy="guided", options={}, model=str(tmp_path / "nothing")))
    with pytest.raises(SearchError, match="bad option"):
        run_search(cfg(tmp_path, options={"populaton": 3}))
    with pytest.raises(SearchError, match="no 'flops' records"):
        run_search(cfg(tmp_path, constraint="flops<=3"))


def test_read_only_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SearchError, match="not writable"):
        run_search(cfg(tmp_path, out=str(blocker / "run")))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return  # root ignores permission bits; the case above still covers an unwritable location
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(SearchError, match="not writable"):
            run_search(cfg(tmp_path, out=str(ro)))
    finally:
        ro.chmod(0o700)


def test_constraint_through_run_search(tmp_path, nbg_table):
    r = run_search(SearchConfig(space="nas-bench-graph", task="cora", strategy="random", budget=15, seed=0,
                                constraint="latency<=0.003", progress=False, out=str(tmp_path / "c")))
    assert (nbg_table.vector("cora", "latency", r.trajectory["arch"].tolist()) <= 0.003).all()
    assert r.best_test == pytest.approx(float(nbg_table.vector("cora", "test_perf", [r.best_arch])[0]))


def test_train_evaluator_digits(tmp_path):
    import surrogate_nas.training  # noqa: F401  (registers the "train" evaluator)

    r = run_search(SearchConfig(space="nb201", task="digits", strategy="random", budget=2, seed=0, evaluator="train",
                                train={"epochs": 1, "C": 8, "N": 1, "num_threads": 1, "progress": False},
                                progress=False, out=str(tmp_path / "train")))
    assert r.evaluations == 2 and (r.trajectory["status"] == "ok").all()
    assert 0 < r.best_value <= 100 and (r.trajectory["cost"] > 0).all()
    # fidelity: the epochs trained; cost: measured wall seconds (not full-training equivalents)
    assert (r.trajectory["fidelity"] == 1).all()
    assert "seconds (measured wall time" in (r.out / "report.md").read_text()
