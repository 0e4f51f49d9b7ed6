"""The throughput benchmark script (tiny settings): every configuration measured, its table consistent."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from ..conftest import load_experiment

CONFIGS = ["fp32 eager", "fp32 + channels_last", "bf16 autocast", "bf16 autocast + channels_last"]
COLUMNS = ["config", "median_images_per_s", "min", "max", "ratio_vs_fp32"]


def test_throughput_script_reports_every_configuration_consistently(tmp_path, capsys):
    mod = load_experiment("training_throughput")
    out = tmp_path / "throughput"
    rows = mod.main(["--device", "cpu", "--C", "4", "--N", "1", "--batch-size", "4", "--steps", "1",
                     "--repeats", "3", "--warmup", "0", "--threads", "1", "--out", str(out)])
    assert [r["config"] for r in rows] == CONFIGS
    base = rows[0]["median_images_per_s"]
    for r in rows:
        assert list(r) == COLUMNS
        assert all(math.isfinite(r[k]) and r[k] > 0 for k in COLUMNS[1:]), r
        assert r["min"] <= r["median_images_per_s"] <= r["max"], r
        assert r["ratio_vs_fp32"] == pytest.approx(r["median_images_per_s"] / base, rel=1e-12)
    assert rows[0]["ratio_vs_fp32"] == 1.0

    # the printed markdown table: one row per configuration with the same numbers (as rounded there)
    printed = {}
    for line in capsys.readouterr().out.splitlines():
        m = re.match(r"\| (.+?) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|$", line)
        if m:
            printed[m.group(1)] = [float(x) for x in m.groups()[1:]]
    assert list(printed) == CONFIGS
    for r in rows:
        med, lo, hi, ratio = printed[r["config"]]
        assert med == pytest.approx(r["median_images_per_s"], abs=0.051) and ratio == pytest.approx(r["ratio_vs_fp32"], abs=0.0051)
        assert lo == pytest.approx(r["min"], abs=0.051) and hi == pytest.approx(r["max"], abs=0.051)

    # full mode writes the same rows as CSV (+ device and batch columns) and the markdown table
    csv = pd.read_csv(out.with_suffix(".csv"))
    assert list(csv.columns) == COLUMNS + ["device", "batch"]
    assert csv["config"].tolist() == CONFIGS and (csv["batch"] == 4).all()
    assert csv["median_images_per_s"].tolist() == pytest.approx([r["median_images_per_s"] for r in rows])
    assert "| config | images/s (median) |" in out.with_suffix(".md").read_text()
