"""The throughput benchmark script runs (tiny settings) and reports ratios against fp32 eager."""

from __future__ import annotations

from ..conftest import load_experiment


def test_throughput_script_quick_smoke(capsys):
    mod = load_experiment("training_throughput")
    rows = mod.main(["--quick", "--device", "cpu", "--C", "4", "--N", "1", "--batch-size", "4",
                     "--steps", "1", "--repeats", "1", "--warmup", "0"])
    names = [r["config"] for r in rows]
    assert names[0] == "fp32 eager" and "bf16 autocast + channels_last" in names
    assert rows[0]["ratio_vs_fp32"] == 1.0 and all(r["median_images_per_s"] > 0 for r in rows)
    assert "ratio vs fp32 eager" in capsys.readouterr().out
