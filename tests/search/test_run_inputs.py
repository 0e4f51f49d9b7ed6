"""run_search on bad and unusual input: target isolation, nothing written before everything is checked,
the journal as the one source of the configuration, budget extension, imported tables, small spaces."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.benchmarks import TargetLeakError, import_table
from surrogate_nas.spaces import get_space
from surrogate_nas.search import (Constraint, RandomSearch, SearchConfig, SearchError, SpaceExhausted, TableEvaluator,
                                  get_searcher, make_searcher, run_loop, run_search)


def cfg(tmp_path, name="run", **kw):
    base = dict(space="nb201", task="ImageNet16-120", strategy="evolution", budget=6, seed=1, progress=False,
                out=str(tmp_path / name), options={"population": 5, "tournament": 2})
    base.update(kw)
    return SearchConfig(**base)


# ---------------------------------------------------------------------- target isolation
@pytest.mark.parametrize("source_tasks", [["ImageNet16-120"], "ImageNet16-120", ["cifar10", "ImageNet16-120"]])
def test_source_tasks_option_may_not_hold_the_target(tmp_path, source_tasks):
    with pytest.raises(TargetLeakError, match="target task 'ImageNet16-120' is also a source"):
        run_search(cfg(tmp_path, strategy="source-rank", options={"source_tasks": source_tasks}))
    assert not (tmp_path / "run").exists()


def test_source_tasks_option_of_a_guided_search(nb201_table):
    with pytest.raises(TargetLeakError, match="search option source_tasks"):
        make_searcher("guided", "nb201", 0, {"source_tasks": ["ImageNet16-120"]}, nb201_table,
                      "ImageNet16-120", "test_acc", predictor="rf")
    # the default sources are every other task: the target is never among them
    s = make_searcher("source-rank", "nb201", 0, {"source_tasks": ["cifar100"]}, nb201_table, "ImageNet16-120",
                      "test_acc")
    assert s.name == "source-rank"


def test_checkpoint_tasks_may_not_hold_the_target(nb201_table, nb201_ckpt):
    for task in ("cifar10", "cifar100"):  # meta-training tasks
        with pytest.raises(TargetLeakError, match=f"target task '{task}'"):
            make_searcher("guided", "nb201", 0, {}, nb201_table, task, "test_acc", nb201_ckpt)
    # a meta-validation task counts as well
    validated = dataclasses.replace(nb201_ckpt, info={**nb201_ckpt.info, "val_tasks": ["ImageNet16-120"]})
    with pytest.raises(TargetLeakError, match="target task 'ImageNet16-120'"):
        make_searcher("hierarchical", "nb201", 0, {}, nb201_table, "ImageNet16-120", "test_acc", validated)
    # and a source-feature task
    sourced = dataclasses.replace(nb201_ckpt, sources={**nb201_ckpt.sources, "tasks": ["ImageNet16-120"]})
    with pytest.raises(TargetLeakError, match="target task 'ImageNet16-120'"):
        make_searcher("guided", "nb201", 0, {}, nb201_table, "ImageNet16-120", "test_acc", sourced)


# ---------------------------------------------------------------------- nothing written before all is checked
def test_refused_search_leaves_the_run_untouched(tmp_path):
    first = run_search(cfg(tmp_path))
    before = {f: (first.out / f).read_bytes() for f in ("config.yaml", "journal.sqlite", "trajectory.csv")}
    with pytest.raises(SearchError, match=r"seed: 1 in the journal, 7 now"):
        run_search(cfg(tmp_path, seed=7))
    assert {f: (first.out / f).read_bytes() for f in before} == before
    assert SearchConfig.from_yaml((first.out / "config.yaml").read_text()).seed == 1


def test_a_running_search_holds_its_directory(tmp_path):
    run_search(cfg(tmp_path))
    out = tmp_path / "run"
    config = (out / "config.yaml").read_bytes()
    fd = os.open(out, os.O_RDONLY)  # what a concurrent `search --out run` holds while it runs
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SearchError, match="another search is running in"):
            run_search(cfg(tmp_path, seed=7))
        with pytest.raises(SearchError, match="another search is running in"):
            run_search(cfg(tmp_path))
    finally:
        os.close(fd)
    assert (out / "config.yaml").read_bytes() == config
    assert run_search(cfg(tmp_path)).replayed == 6  # the lock went with its holder


@pytest.mark.parametrize("field,value,message", [
    ("batch_size", 0, "search config: batch_size: input should be greater than or equal to 1, got 0"),
    ("batch_size", 1.5, "batch_size: input should be a valid integer, got 1.5"),
    ("seed", -1, "seed: input should be greater than or equal to 0, got -1"),
    ("seed", True, "seed: must be an integer, not true/false, got True"),
    ("budget", "10", "budget: input should be a valid integer, got '10'"),
    ("options", ["population=5"], "options: input should be a valid dictionary, got ['population=5']"),
    ("options", {1: 2}, "options.1.[key]: input should be a valid string, got 1"),
    ("train", "epochs=1", "train: input should be a valid dictionary, got 'epochs=1'"),
    ("maximize", "yes", "maximize: input should be a valid boolean, got 'yes'"),
    ("constraint", "latency<<3", "cannot parse constraint 'latency<<3'"),
    ("constraint_mode", "soft", "constraint_mode: input should be 'filter' or 'penalty', got 'soft'"),
    ("predictor", "xgb", "unknown predictor 'xgb'; choose one of"),
    ("metric", "flops", "task 'ImageNet16-120' of benchmark 'nb201' has no metric 'flops'"),
    ("test_metric", "train_acc", "has no metric 'train_acc'"),
    ("options", {"population": "many"}, "population must be an int >= 2"),
    ("options", {"cv_until": -1}, "option cv_until must be an int >= 0"),
    ("options", {"source_tasks": ["cifar1000"]}, "source_tasks: unknown task 'cifar1000'"),
])
def test_bad_input_writes_nothing_and_the_corrected_rerun_runs(tmp_path, field, value, message):
    strategy = "guided" if field == "predictor" else "evolution"
    with pytest.raises(SearchError, match=re.escape(message)):
        run_search(cfg(tmp_path, strategy=strategy, **{field: value}))
    assert not (tmp_path / "run").exists()
    assert run_search(cfg(tmp_path)).evaluations == 6


@pytest.mark.parametrize("options, message", [
    ({"n_estimators": -5}, "predictor 'rf': rf: n_estimators must be an integer in 1..100000, got -5"),
    ({"n_estimators": 10**9}, "n_estimators must be an integer in 1..100000"),
    ({"depth": 3}, "predictor 'rf': unknown option(s) 'depth'; it takes n_estimators"),
])
def test_bad_predictor_options_are_refused_before_any_evaluation(tmp_path, options, message):
    with pytest.raises(SearchError, match=re.escape(message)):
        run_search(cfg(tmp_path, strategy="guided", predictor="rf", options={"predictor_options": options}))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("strategy, options, message", [
    ("guided", {"n_support": 1000}, "option n_support=1000 is above the budget of 6 evaluations"),
    ("guided", {"beta": float("nan")}, "guided: beta must be a finite number >= 0, got nan"),
    ("guided", {"n_candidates": -1}, "guided: n_candidates must be an integer in 1..1000000"),
    ("guided", {"top_k": 0}, "guided: top_k must be an integer in 1..1000000, got 0"),
    ("hierarchical", {"pool": "mutants"}, "hierarchical: option 'pool' is guided search's candidate generation"),
    ("hierarchical", {"n_candidates": 50}, "hierarchical: option 'n_candidates' is guided search's"),
])
def test_guided_options_are_checked_not_dropped(tmp_path, strategy, options, message):
    with pytest.raises(SearchError, match=re.escape(message)):
        run_search(cfg(tmp_path, strategy=strategy, predictor="rf", options=options))
    assert not (tmp_path / "run").exists()


def test_nas_bench_graph_proteins_searches_its_one_obvious_metric(tmp_path):
    res = run_search(cfg(tmp_path, space="nas-bench-graph-proteins", task="proteins", strategy="random", options={}))
    assert res.evaluations == 6 and res.config.metric == "valid_perf" and res.config.test_metric == "test_perf"


def test_train_evaluator_without_data_writes_nothing(tmp_path):
    import surrogate_nas.training  # noqa: F401  (registers the "train" evaluator)
    from surrogate_nas.errors import SurrogateNASError

    with pytest.raises(SurrogateNASError, match=r"dataset 'cifar10' needs a data root \(--data-root DIR\)"):
        run_search(cfg(tmp_path, task="cifar10", evaluator="train"))
    with pytest.raises(SurrogateNASError, match=r"train config: epochs: .*got 0"):
        run_search(cfg(tmp_path, task="digits", evaluator="train", train={"epochs": 0}))
    with pytest.raises(SurrogateNASError, match="train config: unknown field 'epoch'"):
        run_search(cfg(tmp_path, task="digits", evaluator="train", train={"epoch": 1}))
    assert not (tmp_path / "run").exists()


def test_search_never_imports_training():
    """The train evaluator is an entry point (tests/test_plugins.py): listed and validated without training, which
    is imported only when the evaluator is built."""
    code = ("import sys; from surrogate_nas.search import EVALUATORS, SearchConfig, SearchError, run_search\n"
            "assert EVALUATORS.names() == ['table', 'train'] and 'train' in EVALUATORS\n"
            "SearchConfig(evaluator='train', task='digits', strategy='random').resolved()\n"
            "assert 'surrogate_nas.training' not in sys.modules\n"
            "EVALUATORS.factory('train')\nassert 'surrogate_nas.training' in sys.modules\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]


# ---------------------------------------------------------------------- budget: not part of the identity
def test_finished_search_extends_with_a_larger_budget(tmp_path):
    run_search(cfg(tmp_path, budget=5, batch_size=2))  # batches of 2, 2, 1
    longer = run_search(cfg(tmp_path, budget=9, batch_size=2))
    assert longer.evaluations == 9 and longer.replayed == 5
    assert SearchConfig.from_yaml((tmp_path / "run" / "config.yaml").read_text()).budget == 9
    assert pd.read_csv(tmp_path / "run" / "trajectory.csv")["key"].is_unique
    # the journaled batch sizes are replayed: resuming the extended run changes nothing
    again = run_search(cfg(tmp_path, budget=9, batch_size=2))
    assert again.replayed == 9 and again.trajectory["arch"].tolist() == longer.trajectory["arch"].tolist()
    with pytest.raises(SearchError, match="already has 9 evaluations, more than the budget 4"):
        run_search(cfg(tmp_path, budget=4, batch_size=2))
    with pytest.raises(SearchError, match="batch_size: 2 in the journal, 3 now"):
        run_search(cfg(tmp_path, budget=12, batch_size=3))
    assert SearchConfig.from_yaml((tmp_path / "run" / "config.yaml").read_text()).budget == 9


# ---------------------------------------------------------------------- imported tables, small spaces
@pytest.fixture
def imported(data_dir, nb201_table, tmp_path):
    """A user's table: 12 NB-201 archs (distinct cells), task 'mine', metrics 'score' and 'score_test'."""
    archs = []
    for a in nb201_table.archs("cifar10", "test_acc"):
        if all(nb201_table.space.canonical(a) != nb201_table.space.canonical(b) for b in archs):
            archs.append(a)
        if len(archs) == 12:
            break
    names = [nb201_table.space.format(a) for a in archs]
    score = nb201_table.vector("cifar10", "test_acc", archs)
    rows = [(n, "mine", "score", v) for n, v in zip(names, score)] + \
        [(n, "mine", "score_test", 100 - v) for n, v in zip(names, score)]
    path = tmp_path / "mine.csv"
    pd.DataFrame(rows, columns=["arch", "task", "metric", "value"]).to_csv(path, index=False)
    name = f"mine{os.getpid()}x{len(os.listdir(tmp_path))}"
    import_table(path, "nb201", name)
    return name, names, score


def test_imported_table_is_searchable(tmp_path, imported):
    name, names, score = imported
    r = run_search(cfg(tmp_path, benchmark=name, task="mine", metric="score", strategy="random", options={}))
    assert r.config.test_metric == "score"  # no per-benchmark default: the reported metric is the searched one
    assert len(r.trajectory) == 6 and (r.trajectory["status"] == "ok").all()  # only recorded archs are suggested
    reported = run_search(cfg(tmp_path, "rep", benchmark=name, task="mine", metric="score", test_metric="score_test",
                              strategy="random", options={}))
    assert reported.best_test == pytest.approx(100 - reported.best_value)
    with pytest.raises(SearchError, match=f"benchmark '{name}' has no default metric; .*one of score, score_test"):
        run_search(cfg(tmp_path, "nometric", benchmark=name, task="mine", strategy="random", options={}))


@pytest.mark.parametrize("strategy,options", [("random", {}), ("evolution", {"population": 5, "tournament": 2}),
                                              ("local", {})])
def test_budget_larger_than_the_space_evaluates_everything(tmp_path, imported, strategy, options):
    name, names, score = imported
    nb201_space = get_space("nb201")
    r = run_search(cfg(tmp_path, benchmark=name, task="mine", metric="score", strategy=strategy, options=options,
                       budget=50))
    keys = {nb201_space.canonical(nb201_space.parse(a)) for a in names}
    assert r.evaluations == 12 and set(r.trajectory["key"]) == keys
    assert r.best_value == pytest.approx(score.max())
    assert r.note and "all 12 architectures" in r.note and "stopped after 12 of the budget's 50" in r.note
    assert r.note in (r.out / "report.md").read_text() and (r.out / "best.json").is_file()


def test_unsatisfiable_constraint_says_so(tmp_path, nbg_table):
    with pytest.raises(SearchError, match=r"no architecture satisfies constraint 'latency<=1e-9': the 26206 records "
                                          r"of 'latency' on task 'cora' go down to "):
        run_search(SearchConfig(space="nas-bench-graph", task="cora", strategy="random", budget=5,
                                constraint="latency<=1e-9", progress=False, out=str(tmp_path / "c")))
    assert not (tmp_path / "c").exists()


def test_searcher_names_the_unsatisfiable_constraint(nb201_table):
    c = Constraint.parse("test_acc>=101", values=lambda a: nb201_table.vector("cifar10", "test_acc", a))
    s = get_searcher("random", space="nb201", seed=0, constraint=c)
    s._fresh_sample = lambda tries=50, _f=s._fresh_sample: _f(tries)  # the rejection sampler gives up sooner
    with pytest.raises(SpaceExhausted, match=r"no architecture of space 'nb201' satisfies constraint test_acc>=101"):
        s.suggest(1)


def test_loop_refuses_a_searcher_that_oversupplies(nb201_table):
    class Greedy(RandomSearch):
        def _suggest(self, n):
            return super()._suggest(n + 1)

    with pytest.raises(SearchError, match=r"searcher 'random' returned 3 suggestions for suggest\(2\)"):
        run_loop(Greedy("nb201", seed=0), TableEvaluator(nb201_table, "cifar10", "test_acc"), 4, batch_size=2)


# ---------------------------------------------------------------------- predictors from the registry
@pytest.mark.parametrize("predictor", ["rf", "tree", "ridge-source"])
def test_guided_search_with_a_registry_predictor(tmp_path, predictor):
    r = run_search(cfg(tmp_path, strategy="guided", predictor=predictor, budget=7, options={"n_support": 5}))
    assert r.evaluations == 7 and r.info["fallbacks"] == 0 and r.info["scored"] > 0


# ---------------------------------------------------------------------- the report
def test_report_tables_survive_arch_strings(tmp_path):
    r = run_search(cfg(tmp_path))
    text = (r.out / "report.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 6
    for line in table:  # every row has the header's cells: the arch strings' '|' are escaped
        assert len(re.split(r"(?<!\\)\|", line)) == len(re.split(r"(?<!\\)\|", table[0]))
    best = [line for line in text.splitlines() if line.startswith("**Best**")]
    # NB-201's default: reward = 12-epoch validation accuracy, report = 200-epoch test accuracy of the same arch
    assert best == [f"**Best**: `{r.best_arch}` (valid_acc@12={r.best_value:.4g}, test_acc@200={r.best_test:.4g})"]
    assert np.isclose(r.best_value, r.trajectory["value"].max())
    assert "noise-free" not in text


def test_constraint_on_an_imported_table_keeps_to_its_records(tmp_path, imported):
    name, names, score = imported
    r = run_search(cfg(tmp_path, benchmark=name, task="mine", metric="score", strategy="random", options={},
                       constraint="score>=90", budget=50))
    assert r.evaluations == int((score >= 90).sum()) and (r.trajectory["value"] >= 90).all()
    assert f"allowed by constraint score>=90 on the records of benchmark '{name}'" in r.note


def test_a_search_writes_its_top_ranked_by_the_search_metric(tmp_path):
    res = run_search(cfg(tmp_path, budget=12))
    top = pd.read_csv(tmp_path / "run" / "top.csv")
    assert list(top.columns) == ["rank", "arch", "valid_acc@12", "test_acc@200", "evaluation"]
    assert top["rank"].tolist() == list(range(1, 11))
    assert (top["valid_acc@12"].diff().dropna() <= 0).all() and top["arch"].iloc[0] == res.best_arch


def test_an_imported_table_with_one_metric_needs_no_metric(tmp_path, imported):
    _, archs, _ = imported
    src = tmp_path / "one.csv"
    pd.DataFrame({"arch": archs, "dev": range(12)}).to_csv(src, index=False)
    name = f"one{os.getpid()}"
    import_table(src, "nb201", name, metric="lat")
    res = run_search(cfg(tmp_path, benchmark=name, task="dev", strategy="random", options={}))
    assert res.config.metric == "lat" and res.config.test_metric == "lat" and res.evaluations == 6


def test_a_hierarchical_report_states_its_groups_and_the_candidates_scored(tmp_path):
    res = run_search(cfg(tmp_path, strategy="hierarchical", predictor="rf", budget=12, options={}))
    report = (tmp_path / "run" / "report.md").read_text()
    assert f"candidates scored: {res.info['scored']:,}" in report and res.info["scored"] > 0
    line = next(ln for ln in report.splitlines() if ln.startswith("- hierarchical: "))
    assert "4 group(s) probed (" in line and "committed to 3 (" in line
    assert "('" not in report and "op-" in line  # groups as text, never Python tuples
