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


def test_arms_of_several_run_directories_get_their_spread_and_the_difference_against_its_standard_error(tmp_path):
    """Two triples per arm: each directory's overall mean tau, each arm's sd and standard error, and the variant's
    difference with the two standard errors in quadrature; one directory per arm prints no such section."""
    mod = load_experiment("predictor_variant_compare")
    val = {("nb201", "cifar100"): 0.80, ("nas-bench-graph", "cora"): 0.40}  # overall mean 0.605 (+0.005 seeds 0/1)
    ref = [_run(tmp_path / f"ref{i}", _rows("meta-dkt", {key: v + 0.02 * i for key, v in val.items()})) for i in (0, 1)]
    var = [_run(tmp_path / f"var{i}", _rows("meta-dkt", {key: v + 0.04 * i for key, v in val.items()})) for i in (0, 1)]
    rows = mod.read_variants([f"v={var[0]},{var[1]}"], "meta-dkt", "meta-dkt", ref)
    text = "\n".join(mod.run_spread(rows, "meta-dkt"))
    assert "0.605" in text and "0.625" in text and "0.645" in text  # ref0 = var0, ref1, var1
    diff = text.split("Against `meta-dkt`:")[1]
    # means 0.615 (ref) and 0.625 (v); sds 0.02 * sqrt(2) / 2 and 0.04 * sqrt(2) / 2; se = sd / sqrt(2)
    se = ((0.01 ** 2) + (0.02 ** 2)) ** 0.5
    assert "0.01 " in diff and f"{se:.4f}" in diff and f"{0.01 / se:.4f}" in diff
    one = mod.read_variants([f"v={var[0]}"], "meta-dkt", "meta-dkt", ref[:1])
    assert mod.run_spread(one, "meta-dkt") == []


def test_paired_run_directories_give_each_pairs_difference_and_its_standard_error(tmp_path, capsys):
    """--paired LABEL: LABEL's i-th directory against the i-th reference directory (the same members), per benchmark
    the mean over K of each measure; the mean of the pairs' differences and sd / sqrt(n). A count mismatch is refused."""
    mod = load_experiment("predictor_variant_compare")
    val = {("nb201", "cifar100"): 0.80, ("nas-bench-graph", "cora"): 0.40}
    shift = {0: 0.00, 1: 0.05, 2: -0.03}  # each triple's own level: pairing removes it
    gain = {0: 0.010, 1: 0.020, 2: 0.030}  # the variant's paired gain per triple
    ref, var = [], []
    for i in (0, 1, 2):
        ref.append(_run(tmp_path / f"r{i}", _rows("meta-dkt", {k: v + shift[i] for k, v in val.items()})))
        var.append(_run(tmp_path / f"v{i}", _rows("meta-dkt", {k: v + shift[i] + gain[i] for k, v in val.items()})))
    assert mod.main(["--method", "meta-dkt", f"w={','.join(var)}", "--reference-runs", ",".join(ref),
                     "--targets", "validation", "--paired", "w", "--name", "p", "--dest", str(tmp_path)]) == 0
    section = (tmp_path / "p.md").read_text().split("paired run directories")[1]
    row = next(line for line in section.splitlines() if "'nb201', 'kendall_tau'" in line)
    cells = [float(c) for c in row.split("|")[2:-1]]
    assert cells[:3] == pytest.approx([0.01, 0.02, 0.03]) and cells[3] == pytest.approx(0.02)
    assert cells[4] == pytest.approx(0.01 / 3**0.5, abs=1e-4)  # sd 0.01 over 3 pairs
    capsys.readouterr()
    with pytest.raises(SystemExit):
        mod.main(["--method", "meta-dkt", f"w={var[0]}", "--reference-runs", ",".join(ref), "--paired", "w"])
    assert "as many directories as --reference-runs" in capsys.readouterr().err
