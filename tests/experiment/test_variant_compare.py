"""experiments/predictor_variant_compare.py: a round's rule on the validation targets, the same figure on held-out
targets reported as a measurement."""

import pandas as pd
import pytest

from ..conftest import load_experiment


def _run(path, rows):
    path.mkdir()
    pd.DataFrame(rows).to_csv(path / "predictor_quality.csv", index=False)
    return str(path)


def _rows(method, tau_by_target):
    return [
        {"benchmark": b, "target_task": t, "k": k, "method": method, "seed": s, "kendall_tau": tau + 0.01 * s}
        for (b, t), tau in tau_by_target.items()
        for k in (5, 20)
        for s in (0, 1)
    ]


@pytest.fixture
def runs(tmp_path):
    # cifar100 and cora are validation targets, cifar10 and arxiv held out
    ref = {("nb201", "cifar100"): 0.85, ("nb201", "cifar10"): 0.86, ("nas-bench-graph", "cora"): 0.30,
           ("nas-bench-graph", "arxiv"): 0.40}
    var = {("nb201", "cifar100"): 0.84, ("nb201", "cifar10"): 0.87, ("nas-bench-graph", "cora"): 0.31,
           ("nas-bench-graph", "arxiv"): 0.38}
    return _run(tmp_path / "ref", _rows("meta-dkt", ref)), _run(tmp_path / "var", _rows("meta-dkt", var)), tmp_path


def test_the_rule_reads_the_validation_targets_and_held_out_ones_are_a_measurement(runs, capsys):
    mod = load_experiment("predictor_variant_compare")
    ref, var, tmp = runs
    assert mod.main(["--method", "meta-dkt", f"v={var}", "--reference-runs", ref, "--targets", "validation",
                     "--name", "val", "--dest", str(tmp)]) == 0
    text = (tmp / "val.md").read_text()
    assert "## The rule:" in text and "arxiv" not in text and "cifar10'" not in text
    assert pd.read_csv(tmp / "val.csv").target_task.isin(["cifar100", "cora"]).all()
    assert "-0.01" in text.split("## The rule:")[1]  # the worst (benchmark, K): cifar100, 0.84 against 0.85
    capsys.readouterr()
    assert mod.main(["--method", "meta-dkt", f"v={var}", "--reference-runs", ref, "--targets", "held-out",
                     "--name", "held", "--dest", str(tmp)]) == 0
    held = (tmp / "held.md").read_text()
    assert "## The rule:" not in held and "a measurement, not a choice" in held
    assert "cora" not in held and "arxiv" in held
    worst = held.split("a measurement, not a choice")[1]
    assert "-0.02" in worst  # arxiv: 0.38 against 0.40
