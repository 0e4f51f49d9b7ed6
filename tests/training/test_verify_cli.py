"""``surrogate-nas verify`` on bad input: one ``surrogate-nas: error:`` line naming the bad value,
exit status 2, refused before any training, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from surrogate_nas.benchmarks.table import BenchmarkTable
from surrogate_nas.cli import main

from .conftest import ARCH_A, ARCH_B


@pytest.fixture
def archs_csv(tmp_path):
    p = tmp_path / "top.csv"
    pd.DataFrame({"arch": [ARCH_A, ARCH_B]}).to_csv(p, index=False)
    return p


def _refused(capsys, argv, *needles):
    rc = main(["verify", *map(str, argv)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("surrogate-nas: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _unwritable_dir(tmp_path) -> Path:
    """A directory nobody may create files in (root ignores mode bits, so root gets /sys)."""
    if os.geteuid() == 0:
        return Path("/sys")
    d = tmp_path / "read-only"
    d.mkdir()
    d.chmod(0o555)
    return d


def test_out_that_is_an_existing_file_or_unwritable_is_refused_before_training(tmp_path, capsys, archs_csv):
    base = ["--archs", archs_csv, "--dataset", "digits", "--epochs", "1"]
    existing = tmp_path / "results.txt"
    existing.write_text("keep me\n")
    _refused(capsys, [*base, "--out", existing], str(existing), "is an existing file, not a directory")
    assert existing.read_text() == "keep me\n"
    _refused(capsys, [*base, "--out", existing / "sub"], str(existing), "not a directory")
    ro = _unwritable_dir(tmp_path)
    _refused(capsys, [*base, "--out", ro / "verify-out"], str(ro / "verify-out"), "cannot write")
    assert not (ro / "verify-out").exists()


def test_bad_candidates_files(tmp_path, capsys):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    no_arch = tmp_path / "no-arch.csv"
    no_arch.write_text("architecture,predicted\n" + ARCH_A + ",0.9\n")
    header_only = tmp_path / "header.csv"
    header_only.write_text("arch,predicted\n")
    malformed = tmp_path / "malformed.csv"
    malformed.write_text('arch\n"' + ARCH_A + "\n")
    bad_pred = tmp_path / "fast.csv"
    pd.DataFrame({"arch": [ARCH_A], "predicted": ["fast"]}).to_csv(bad_pred, index=False)
    blank = tmp_path / "blank.csv"
    blank.write_text(f"arch,predicted\n{ARCH_A},0.9\n,0.5\n")
    other_space = tmp_path / "nbg.csv"
    other_space.write_text("arch\n0012:gcn-gat-skip-sage\n")
    out = tmp_path / "out"
    for path, needles in [
        (binary, [str(binary), "cannot read candidates CSV"]),
        (no_arch, [str(no_arch), "needs a column 'arch'", "'architecture'"]),
        (header_only, [str(header_only), "no candidate rows"]),
        (malformed, [str(malformed), "cannot read candidates CSV"]),
        (bad_pred, [str(bad_pred), "'predicted' is not numeric", "fast"]),
        (blank, ["candidate 1: empty architecture"]),
        (other_space, ["candidate 0", "0012:gcn-gat-skip-sage"]),
        (tmp_path, [str(tmp_path), "is a directory"]),
        (tmp_path / "missing.csv", [str(tmp_path / "missing.csv"), "does not exist"]),
    ]:
        _refused(capsys, ["--archs", path, "--dataset", "digits", "--out", out], *needles)
    assert not out.exists()


@pytest.mark.parametrize("flags, needles", [
    (["--C", "0"], ["C must be", "got 0"]),
    (["--C", "-16"], ["C must be", "got -16"]),
    (["--N", "-1"], ["N must be", "got -1"]),
    (["--epochs", "0"], ["epochs must be", "got 0"]),
    (["--epochs", "100000000000000000000"], ["epochs must be", "100000000000000000000"]),
    (["--batch-size", "0"], ["batch_size must be", "got 0"]),
    (["--batch-size", "-256"], ["batch_size must be", "got -256"]),
    (["--lr", "nan"], ["lr must be a finite number", "nan"]),
    (["--lr", "inf"], ["lr must be a finite number", "inf"]),
    (["--lr", "-0.1"], ["lr must be", "-0.1"]),
    (["--lr", "0"], ["lr must be > 0"]),
    (["--seeds", "-1"], ["seed must be an int in [0, 2**32)", "-1"]),
    (["--seeds", "3", "3"], ["seeds repeats a seed", "[3, 3]"]),
    (["--top-k", "0"], ["top_k must be a positive int", "0"]),
    (["--space", "nas-bench-graph"], ["space must be 'nb201'", "'nas-bench-graph'"]),
    (["--device", "cuda:99" if __import__("torch").cuda.is_available() else "cuda"], ["cuda"]),
    (["--address", "auto"], ["bad options", "'local'"]),
])
def test_bad_training_values_are_refused_before_anything_is_written(tmp_path, capsys, archs_csv, flags, needles):
    out = tmp_path / "out"
    _refused(capsys, ["--archs", archs_csv, "--dataset", "digits", "--out", out, *flags], *needles)
    assert not out.exists()


def test_bad_append_to_is_refused_before_training(tmp_path, capsys, archs_csv):
    out = tmp_path / "out"
    base = ["--archs", archs_csv, "--dataset", "digits", "--epochs", "1", "--out", out]
    not_parquet = tmp_path / "table.parquet"
    not_parquet.write_text("arch,value\nx,1\n")
    _refused(capsys, [*base, "--append-to", not_parquet], str(not_parquet), "not a readable parquet file")
    assert not_parquet.read_text() == "arch,value\nx,1\n"
    _refused(capsys, [*base, "--append-to", tmp_path], str(tmp_path), "is a directory")
    csv_name = tmp_path / "new-table.csv"
    _refused(capsys, [*base, "--append-to", csv_name], str(csv_name), "*.parquet")
    other = tmp_path / "nbg.parquet"
    BenchmarkTable.from_records("nas-bench-graph", pd.DataFrame(
        {"arch": ["0012:gcn-gat-skip-sage"], "task": ["cora"], "metric": ["valid_perf"], "value": [0.8]})).to_parquet(other)
    _refused(capsys, [*base, "--append-to", other], str(other), "'nas-bench-graph'", "not 'nb201'")
    ro = _unwritable_dir(tmp_path)
    _refused(capsys, [*base, "--append-to", ro / "t.parquet"], str(ro / "t.parquet"), "cannot write")
    assert not out.exists() and not csv_name.exists()
