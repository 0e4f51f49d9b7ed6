"""experiments/feature_correlation.py on a small features table (NB-201 part; NAS-Bench-Graph is run in full by
the script itself)."""

from __future__ import annotations

from tests.conftest import load_experiment
from surrogate_nas.features import NB201_FEATURES

from .test_table import small_nb201  # noqa: F401  (the fixture)


def test_script_reports_every_feature_and_task(small_nb201, tmp_path):  # noqa: F811
    path, reps, _ = small_nb201
    df = load_experiment("feature_correlation").main(["--features", str(path), "--no-nbg", "--out", str(tmp_path)])
    assert len(df) == 3 * len(NB201_FEATURES)
    assert set(df["n_classes"]) == {len(reps)} and (df["n_cells"] >= df["n_classes"]).all()
    md = (tmp_path / "feature_correlation.md").read_text()
    assert "| synflow |" in md and "0.740" in md  # the published value beside ours
    assert (tmp_path / "feature_correlation.csv").read_text().startswith("benchmark,task,metric,feature")
