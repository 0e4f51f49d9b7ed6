"""Experiment configs: typed, validated on load (one clear error naming the bad key or value); the
shipped configs are exactly the old scripts' grids; a run directory refuses a different config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from surrogate_nas.experiment import ExperimentError, load_config, plan
from surrogate_nas.experiment.runner import check_run_dir

from .conftest import tiny_pq

CONFIGS = Path(__file__).resolve().parents[2] / "experiments" / "configs"


def _write(tmp_path, d) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def _pq(**kw):
    d = {"experiment": "predictor-quality", "benchmarks": [{"name": "nb201", "metric": "test_acc",
                                                           "targets": ["cifar10"]}]}
    d.update(kw)
    return d


@pytest.mark.parametrize("change, message", [
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"meta": {"iterations": 10, "inner_stepz": 3}}, "meta: unknown key 'inner_stepz'"),
    ({"meta": {"algorithm": "magic"}}, "meta: meta config: algorithm: input should be 'maml', 'reptile', 'multitask' or 'dkt', got 'magic'"),
    ({"seeds": 0}, "seeds: input should be greater than or equal to 1, got 0"),
    ({"ks": [5, "ten"]}, "ks[1]: input should be a valid integer, got 'ten'"),
    ({"ks": [5, 5]}, "ks: 5 is listed twice"),
    ({"methods": ["meta-gnn", "oracle"]}, "methods: unknown method 'oracle'"),
    ({"mode": "fast"}, "mode: input should be 'full' or 'quick', got 'fast'"),
    ({"seeds": True}, "seeds: must be an integer, not true/false, got True"),
    ({"ks": [True, 5]}, "ks[0]: must be an integer, not true/false, got True"),
    ({"ks": 20}, "ks: input should be a valid list, got 20"),
    ({"benchmarks": {"name": "nb201"}}, "benchmarks: input should be a valid list, got {'name': 'nb201'}"),
    ({"benchmarks": ["nb201"]},
     "benchmarks[0]: input should be a valid dictionary or instance of PQBenchmark, got 'nb201'"),
    ({"meta": {"iterations": True}}, "meta: meta config: iterations: must be an integer, not true/false, got True"),
    ({"benchmarks": [{"name": "nb201", "targets": ["cifar10"]}]}, "benchmarks[0] (nb201): missing key 'metric'"),
    ({"benchmarks": [{"name": "nb201", "metric": "test_acc", "targets": ["a"], "seed": 1}]},
     "benchmarks[0] (nb201): unknown key 'seed'; PQBenchmark fields: metric, name, targets"),
])
def test_a_bad_key_or_value_is_one_error_naming_it(tmp_path, change, message):
    p = _write(tmp_path, _pq(**change))
    with pytest.raises(ExperimentError) as e:
        load_config(p)
    assert message in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)


def test_a_search_efficiency_key_is_checked_per_benchmark(tmp_path):
    d = yaml.safe_load((CONFIGS / "search-efficiency-quick.yaml").read_text())
    d["benchmarks"][1]["guided_budget"] = -3
    with pytest.raises(ExperimentError, match=r"benchmarks\[1\] \(nas-bench-graph\).guided_budget: input should be "
                                              r"greater than or equal to 1, got -3"):
        load_config(_write(tmp_path, d))
    with pytest.raises(ExperimentError, match="is a search-efficiency config, not predictor-quality"):
        load_config(CONFIGS / "search-efficiency-quick.yaml", kind="predictor-quality")


@pytest.mark.parametrize("variants,message", [
    ({"v": {"base": "nope"}}, "variants.v.base: unknown method 'nope'"),
    ({"evolution": {"base": "random"}}, "variants: 'evolution' must be a new method name"),
    ({"v": {"base": "guided-meta", "opts": {}}},
     "variants.v: unknown key 'opts'; VariantSpec fields: base, batch_size, options"),
    ({"v": {"options": {}}}, "variants.v: missing key 'base'"),
    ({"v": {"base": "guided-meta", "batch_size": 0}},
     "variants.v.batch_size: input should be greater than or equal to 1, got 0"),
    ({"v": {"base": "guided-meta", "batch_size": True}},
     "variants.v.batch_size: must be an integer, not true/false, got True"),
    ({"v": {"base": "guided-meta", "options": [1]}}, "variants.v.options: input should be a valid dictionary, got [1]"),
])
def test_search_variants_are_checked(tmp_path, variants, message):
    d = yaml.safe_load((CONFIGS / "search-efficiency-quick.yaml").read_text())
    d["variants"] = variants
    with pytest.raises(ExperimentError, match=re.escape(message)) as e:
        load_config(_write(tmp_path, d))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("i, change, message", [
    # an unknown key in a benchmark section: the section, its benchmark, the key and the keys it takes
    (1, {"seedz": 3}, "benchmarks[1] (nas-bench-graph): unknown key 'seedz'; SEBenchmark fields: budget, "),
    (0, {"meta": {"iterationz": 3}}, "benchmarks[0] (nb201).meta: unknown key 'iterationz'; MetaConfig fields: "),
    # a wrong type
    (1, {"targets": "cora"}, "benchmarks[1] (nas-bench-graph).targets: input should be a valid list, got 'cora'"),
    (1, {"targets": ["cora", 5]}, "benchmarks[1] (nas-bench-graph).targets[1]: input should be a valid string, got 5"),
    (0, {"budget": "30"}, "benchmarks[0] (nb201).budget: input should be a valid integer, got '30'"),
    (0, {"budget": 2.5}, "benchmarks[0] (nb201).budget: input should be a valid integer, got 2.5"),
    (1, {"model": [32]}, "benchmarks[1] (nas-bench-graph).model: input should be a valid dictionary, got [32]"),
    # a bool where an integer is wanted (YAML's true is not 1)
    (1, {"seeds": True}, "benchmarks[1] (nas-bench-graph).seeds: must be an integer, not true/false, got True"),
    (0, {"guided_seeds": False}, "benchmarks[0] (nb201).guided_seeds: must be an integer, not true/false, got False"),
    (1, {"model": {"hidden": True}},
     "benchmarks[1] (nas-bench-graph).model: model config: hidden: must be an integer, not true/false, got True"),
    # a missing key, a blank name, a target listed twice
    (0, {"metric": None}, "benchmarks[0] (nb201).metric: input should be a valid string, got None"),
    (1, {"name": " "}, "benchmarks[1].name: must be a non-empty string, got ' '"),
    (1, {"targets": ["cora", "cora"]}, "benchmarks[1] (nas-bench-graph).targets: 'cora' is listed twice"),
])
def test_a_bad_benchmark_section_is_one_line_naming_the_benchmark(tmp_path, i, change, message):
    d = yaml.safe_load((CONFIGS / "search-efficiency-quick.yaml").read_text())
    d["benchmarks"][i].update(change)
    p = _write(tmp_path, d)
    with pytest.raises(ExperimentError) as e:
        load_config(p)
    msg = str(e.value)
    assert msg.startswith(f"config file {p}: ") and message in msg and "\n" not in msg, msg


def test_an_unknown_key_is_named_first_then_a_missing_one_then_a_bad_value(tmp_path):
    """A misspelt key is often why another is missing, so it is the one named (as the checks before the models)."""
    d = yaml.safe_load((CONFIGS / "search-efficiency-quick.yaml").read_text())
    d["seeds"] = 3  # a search-efficiency config has no seeds: its benchmarks have
    d["benchmarks"] = []
    b = yaml.safe_load((CONFIGS / "search-efficiency-quick.yaml").read_text())["benchmarks"][1]
    b["seeds"], b["test_metrik"] = 0, b.pop("test_metric")
    for fix, message in [
        (lambda: d.pop("seeds"), "config file {p}: unknown key 'seeds'; SearchEfficiencyConfig fields: experiment, "),
        (lambda: d.update(benchmarks=[b]), "config file {p}: benchmarks: list should have at least 1 item"),
        (lambda: b.pop("test_metrik"), "config file {p}: benchmarks[0] (nas-bench-graph): unknown key 'test_metrik'"),
        (lambda: b.update(test_metric="test_perf"), "benchmarks[0] (nas-bench-graph): missing key 'test_metric'"),
        (lambda: b.update(seeds=2), "benchmarks[0] (nas-bench-graph).seeds: input should be greater than or equal"),
    ]:
        p = _write(tmp_path, d)
        with pytest.raises(ExperimentError) as e:
            load_config(p)
        assert message.format(p=p) in str(e.value), str(e.value)
        fix()
    assert load_config(_write(tmp_path, d)).benchmarks[0].seeds == 2


def test_a_yaml_alias_is_one_line_naming_the_file(tmp_path):
    p = tmp_path / "alias.yaml"
    p.write_text("experiment: predictor-quality\nbenchmarks:\n"
                 "  - &b {name: nb201, metric: test_acc, targets: [cifar10]}\n  - *b\n")
    with pytest.raises(ExperimentError) as e:
        load_config(p)
    assert str(e.value) == (f"config file {p} is not valid YAML (YAML aliases (*name) are not accepted in a "
                            "configuration)")


def test_the_models_check_python_construction_and_assignment():
    """Constructed in Python, positionally as the dataclasses were, or edited in place, a config is checked too:
    each assignment checks its field (one line naming the model and the value, the old value kept), and
    validate() checks the whole config again after its benchmarks were edited."""
    from surrogate_nas.experiment import PQBenchmark, PredictorQualityConfig, SEBenchmark
    from surrogate_nas.experiment.predictor_quality import METHODS

    b = PQBenchmark("nb201", "test_acc", ["cifar100"])
    cfg = PredictorQualityConfig(benchmarks=[b], ks=[5], seeds=2, purpose="tuning")
    assert (cfg.benchmarks[0].targets, cfg.methods) == (["cifar100"], list(METHODS))
    assert cfg.meta == {"iterations": 400, "seed": 0}
    with pytest.raises(ExperimentError, match=r"^search-efficiency benchmark: seeds: must be an integer, not "
                                              r"true/false, got True$"):
        SEBenchmark("nb201", ["cifar10"], "test_acc", "test_acc", seeds=True)
    with pytest.raises(ExperimentError, match=r"^predictor-quality benchmark: missing key 'targets'$"):
        PQBenchmark("nb201", "test_acc")
    with pytest.raises(ExperimentError, match=r"^predictor-quality config: seeds: input should be a valid integer, "
                                              r"got '3'$"):
        cfg.seeds = "3"
    with pytest.raises(ExperimentError, match=r"^predictor-quality config: meta: unknown key 'iters'"):
        cfg.meta = {"iters": 3}
    with pytest.raises(ExperimentError, match=r"^predictor-quality benchmark nb201: targets: 'cifar10' is listed "
                                              r"twice$"):
        cfg.benchmarks[0].targets = ["cifar10", "cifar10"]
    assert (cfg.seeds, cfg.meta, cfg.benchmarks[0].targets) == (2, {"iterations": 400, "seed": 0}, ["cifar100"])
    cfg.benchmarks[0].targets = ["cifar10"]  # a valid benchmark, but a held-out target in a tuning round
    with pytest.raises(ExperimentError, match=r"^predictor-quality config: purpose: tuning: target 'cifar10' of "
                                              r"nb201 is held out"):
        cfg.validate()


#: config.yaml of this config as the run directory got it from the dataclass configs (before the typed models):
#: unset fields as null, an unset source_metric left out, meta/model as written, support_range as a list.
SAVED_BEFORE = """experiment: search-efficiency
benchmarks:
- name: nas-bench-graph
  targets:
  - cora
  metric: valid_perf
  test_metric: test_perf
  train_tasks: null
  seeds: 2
  guided_seeds: null
  budget: 100
  guided_budget: 100
  checkpoints: 1
  meta:
    algorithm: dkt
    iterations: 30
    support_range:
    - 5
    - 20
  model: {}
methods:
- random
- guided-meta
- q2-ei
mode: quick
variants:
  q2-ei:
    base: guided-meta q=4
    options:
      acquisition: ei
    batch_size: 2
purpose: report
"""


def test_a_run_directory_saved_before_the_typed_models_takes_the_same_config(tmp_path):
    from surrogate_nas.experiment import config_from_dict
    from surrogate_nas.experiment.config import config_dict, config_yaml

    p = tmp_path / "c.yaml"
    p.write_text("experiment: search-efficiency\nmode: quick\nmethods: [random, guided-meta, q2-ei]\nvariants:\n"
                 "  q2-ei: {base: guided-meta q=4, options: {acquisition: ei}, batch_size: 2}\nbenchmarks:\n"
                 "  - {name: nas-bench-graph, targets: [cora], metric: valid_perf, test_metric: test_perf, seeds: 2,\n"
                 "     meta: {algorithm: dkt, iterations: 30, support_range: [5, 20]}}\n")
    cfg = load_config(p)
    assert config_yaml(cfg) == SAVED_BEFORE
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(SAVED_BEFORE)
    check_run_dir(tmp_path / "run", cfg)  # the same config: a rerun resumes
    assert config_from_dict(config_dict(cfg)) == cfg  # what is saved loads back to the same config


def test_a_variant_is_its_base_with_other_options(tmp_path):
    d = yaml.safe_load((CONFIGS / "search-efficiency-quick.yaml").read_text())
    d["variants"] = {"q2-ei": {"base": "guided-meta q=4", "options": {"acquisition": "ei"}, "batch_size": 2}}
    d["methods"] = ["random", "q2-ei"]
    cfg = load_config(_write(tmp_path, d))
    from surrogate_nas.experiment.search_efficiency import method_specs

    (m,) = [m for m in method_specs("nb201", 30, 20, "ImageNet16-120", cfg.variants) if m.name == "q2-ei"]
    assert (m.strategy, m.options["acquisition"], m.batch_size, m.predictor, m.budget) == \
        ("guided", "ei", 2, "meta", 20)
    _, cells = plan(cfg)
    assert {c.coords["method"] for c in cells} == {"random", "q2-ei"}


def test_shipped_configs_are_the_old_scripts_grids():
    pq = load_config(CONFIGS / "predictor-quality.yaml")
    specs, cells = plan(pq)
    assert pq.ks == [5, 10, 20, 50, 100] and pq.seeds == 5
    assert pq.meta == {"iterations": 400, "seed": 0, "meta_val": "archs"}  # meta-gnn: the previous default's checkpoints
    # per target: maml, dkt (3 meta seeds, the ensemble's members; seed 0 is also meta-dkt's), dkt with features, and
    # the ensemble before the top-weighted loss (3 more)
    assert len(specs) == 11 * 8 and len(cells) == 11 * 5 * 5 * 6  # (target, K, seed) x 6 method groups
    se = load_config(CONFIGS / "search-efficiency.yaml")
    specs, cells = plan(se)
    nb, nbg = se.benchmarks
    # the members as the HAS runs meta-train them (top-weighted ranking loss), so their checkpoints are reused
    dkt = {"algorithm": "dkt", "target_scale": "robust", "meta_val": "task", "top_weight": 1.0, "iterations": 400,
           "seed": 0}
    assert (nb.seeds, nb.checkpoints, nb.budget, nb.guided_budget, nb.meta, nb.train_tasks) == (25, 3, 100, 50, dkt, None)
    assert (nbg.seeds, nbg.guided_seeds, nbg.budget, nbg.guided_budget, nbg.meta, len(nbg.targets)) \
        == (25, None, 200, 50, dkt, 8)
    # NB-201 per target: 4 plain + guided, q=4, q=8, hierarchical (+ the CIFAR-100 order on ImageNet16-120 only);
    # NBG per target: the same 8 (this run leaves the latency-constrained pair out); 25 seeds each
    assert len(specs) == 11 * 3 and len(cells) == 25 * (3 * 8 + 1) + 25 * 8 * 8
    assert (nb.metric, nb.test_metric, nb.source_metric) == ("valid_acc@12", "test_acc@200", "test_acc")
    assert {c.coords["target"] for c in cells if c.coords["method"] == "source-rank (cifar100)"} == {"ImageNet16-120"}
    # the held-out HAS runs' checkpoints are this grid's own: same key, same settings
    by_key = {s.key: s for s in specs}
    for has in ("search-efficiency-has-100.yaml", "search-efficiency-has-nbg.yaml"):
        has_specs, _ = plan(load_config(CONFIGS / has))
        assert has_specs and all(by_key[s.key] == s for s in has_specs)
    # search seed s adapts the checkpoint of meta seed s % 3
    guided = [c for c in cells if c.coords["method"] == "guided-meta" and c.coords["target"] == "cifar10"]
    assert [c.checkpoints["model"].rsplit("seed", 1)[1] for c in guided[:5]] == ["0", "1", "2", "0", "1"]
    ff = load_config(CONFIGS / "predictor-quality-features.yaml")
    specs, cells = plan(ff)
    assert sorted({s.key.split("/")[-1] for s in specs}) == ["maml-ff-seed0", "maml-seed0"]
    assert all(s.features == s.key.endswith("-ff-seed0") for s in specs) and len(specs) == 11 * 2
    assert {c.coords["group"] for c in cells} == {"meta", "meta-ff", "baselines"}
    for name in ("predictor-quality-quick", "search-efficiency-quick"):
        assert load_config(CONFIGS / f"{name}.yaml").mode == "quick"


def test_a_run_directory_refuses_a_different_config(tmp_path):
    check_run_dir(tmp_path, tiny_pq())
    check_run_dir(tmp_path, tiny_pq())  # the same config: fine (resume)
    with pytest.raises(ExperimentError) as e:
        check_run_dir(tmp_path, tiny_pq(seeds=3, ks=[5]))
    msg = str(e.value)
    assert "was started with a different config" in msg and "seeds: 2 -> 3" in msg and "ks: [5, 10] -> [5]" in msg
    assert "\n" not in msg


def test_ensemble_and_variant_groups_plan_their_own_checkpoints(tmp_path):
    """An ensemble group meta-trains ENSEMBLE meta seeds and shares seed 0 with its single-member group; a
    variant with other meta overrides gets its own checkpoint; the old checkpoint names stay as they were."""
    from surrogate_nas.experiment.predictor_quality import ENSEMBLE

    cfg = load_config(_write(tmp_path, _pq(methods=["meta-gnn", "meta-dkt", "meta-dkt-ens", "meta-dkt-top",
                                                    "meta-dkt-ml", "ridge-source"], meta={"seed": 4})))
    specs, cells = plan(cfg)
    keys = [s.key for s in specs]
    assert keys == ["nb201/cifar10/maml-seed4", "nb201/cifar10/dkt-seed4"] + \
        [f"nb201/cifar10/dkt-seed{4 + i}" for i in range(1, ENSEMBLE)] + ["nb201/cifar10/dkt-top-seed4"]
    top = next(s for s in specs if s.variant == "dkt-top")
    assert dict(top.meta)["top_weight"] == 0.5 and dict(top.meta)["algorithm"] == "dkt"
    ens = next(c for c in cells if c.coords["group"] == "dkt-ens")
    assert sorted(ens.checkpoints.values()) == sorted(k for k in keys if "/dkt-seed" in k)
    assert next(c for c in cells if c.coords["group"] == "baselines").checkpoints == {}


def test_the_top_weighted_ensembles_plan_their_members(tmp_path):
    """meta-dkt-ens-top meta-trains ENSEMBLE members with top_weight 0.5, the first of them meta-dkt-top's checkpoint;
    meta-dkt-ens-top-1 is the default (top_weight 1: meta-dkt-ens's checkpoints); meta-dkt-ens-top-0, the default
    before, gets checkpoints of its own."""
    from surrogate_nas.experiment.predictor_quality import ENSEMBLE

    methods = ["meta-dkt-top", "meta-dkt-ens-top", "meta-dkt-ens-top-1", "meta-dkt-ens", "meta-dkt-ens-top-0"]
    specs, cells = plan(load_config(_write(tmp_path, _pq(methods=methods, meta={"seed": 2}))))
    keys = [s.key for s in specs]
    assert keys == [f"nb201/cifar10/dkt-{v}seed{2 + i}" for v in ("top-", "", "top-0-") for i in range(ENSEMBLE)]
    weights = [dict(s.meta)["top_weight"] for s in specs]
    assert weights == [0.5] * ENSEMBLE + [1.0] * ENSEMBLE + [0.0] * ENSEMBLE
    members = {c.coords["group"]: sorted(c.checkpoints.values()) for c in cells}
    assert members["dkt-ens-top"] == keys[:ENSEMBLE] and members["dkt-ens"] == keys[ENSEMBLE : 2 * ENSEMBLE]


def test_the_gp_rate_and_prior_ensembles_plan_their_members(tmp_path):
    """meta-dkt-ens-gplr-0.02 and the two meta-dkt-ens-gpprior arms meta-train members of their own over the default's
    settings (top_weight 1), each with its gp_lr and gp_prior_sd."""
    from surrogate_nas.experiment.predictor_quality import ENSEMBLE

    methods = ["meta-dkt-ens", "meta-dkt-ens-gplr-0.02", "meta-dkt-ens-gpprior-1", "meta-dkt-ens-gpprior-0.5"]
    specs, cells = plan(load_config(_write(tmp_path, _pq(methods=methods, meta={"seed": 2}))))
    variants = ("", "gplr-0.02-", "gpprior-1-", "gpprior-0.5-")
    assert [s.key for s in specs] == [f"nb201/cifar10/dkt-{v}seed{2 + i}" for v in variants for i in range(ENSEMBLE)]
    settings = [(dict(s.meta).get("gp_lr"), dict(s.meta).get("gp_prior_sd"), dict(s.meta)["top_weight"]) for s in specs]
    arms = [(None, None, 1.0), (0.02, None, 1.0), (0.03, 1.0, 1.0), (0.03, 0.5, 1.0)]
    assert settings == [a for a in arms for _ in range(ENSEMBLE)]
    members = {c.coords["group"]: sorted(c.checkpoints.values()) for c in cells}
    assert members["dkt-ens-gpprior-0.5"] == [s.key for s in specs[-ENSEMBLE:]]


def test_a_checkpoint_made_with_other_settings_is_not_reused(tmp_path, nb201_table):
    """A checkpoint found in the run directory (e.g. copied from another run) is reused only if it was
    meta-trained with exactly the spec's MetaConfig; otherwise it is trained again."""
    from surrogate_nas.meta.checkpoint import save_checkpoint
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig
    from surrogate_nas.experiment.runner import _ckpt_dir, _existing_checkpoint

    meta = {"iterations": 2, "val_every": 1, "meta_batch": 1, "val_episodes": 1, "seed": 0}
    cfg = load_config(_write(tmp_path, _pq(methods=["meta-gnn"], meta=meta, model={"hidden": 8, "layers": 1})))
    spec = plan(cfg)[0][0]
    ck = pretrain(nb201_table, ["ImageNet16-120", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                  MetaConfig(**meta), benchmark_name="nb201", progress=False, target="cifar10")
    save_checkpoint(ck, _ckpt_dir(tmp_path, spec.key))
    assert _existing_checkpoint(tmp_path, spec) is not None
    other = pretrain(nb201_table, ["ImageNet16-120", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                     MetaConfig(**meta, target_scale="robust"), benchmark_name="nb201", progress=False, target="cifar10")
    save_checkpoint(other, _ckpt_dir(tmp_path, spec.key))
    assert _existing_checkpoint(tmp_path, spec) is None


def test_a_tuning_round_declares_itself_and_names_validation_targets_only(tmp_path):
    from surrogate_nas.experiment.config import ExperimentError, load_config

    ok = tmp_path / "tune.yaml"
    ok.write_text("experiment: predictor-quality\npurpose: tuning\nbenchmarks:\n"
                  "  - {name: nb201, metric: test_acc, targets: [cifar100]}\n"
                  "  - {name: nas-bench-graph, metric: valid_perf, targets: [cora, photo]}\n")
    assert load_config(ok).purpose == "tuning"
    bad = tmp_path / "peek.yaml"
    bad.write_text("experiment: search-efficiency\npurpose: tuning\nbenchmarks:\n"
                   "  - {name: nb201, metric: valid_acc@12, test_metric: test_acc@200, targets: [cifar100, ImageNet16-120]}\n")
    with pytest.raises(ExperimentError, match="target 'ImageNet16-120' of nb201 is held out; a tuning round may name "
                                              r"only the validation targets \(cifar100\)"):
        load_config(bad)
    with pytest.raises(ExperimentError, match="purpose: input should be 'report' or 'tuning', got 'tune'"):
        load_config(ok.write_text(ok.read_text().replace("tuning", "tune")) and ok)


def test_the_shipped_tuning_rounds_declare_themselves():
    from pathlib import Path

    from surrogate_nas.experiment.config import load_config

    configs = sorted((Path(__file__).resolve().parents[2] / "experiments" / "configs").glob("*-defaults*.yaml"))
    assert len(configs) >= 5 and all(load_config(p).purpose == "tuning" for p in configs)


def _se(**bench):
    b = {"name": "nb201", "targets": ["cifar10"], "metric": "valid_acc@12", "test_metric": "test_acc@200"}
    b.update(bench)
    return {"experiment": "search-efficiency", "methods": ["random"], "benchmarks": [b]}


@pytest.mark.parametrize("d, message", [
    (_pq(benchmarks=[{"name": "nb202", "metric": "test_acc", "targets": ["cifar10"]}]), "benchmarks[0] (nb202): "),
    (_pq(benchmarks=[{"name": "nb201", "metric": "test_acc", "targets": ["mars"]}]),
     "benchmarks[0] (nb201).targets: 'mars' is not a task of it; tasks: ImageNet16-120, cifar10, cifar100"),
    (_pq(benchmarks=[{"name": "nb201", "metric": "bogus", "targets": ["cifar10"]}]),
     "benchmarks[0] (nb201).metric: task 'cifar10' has no 'bogus' records"),
    (_pq(ks=[100000]), "ks: K=100000 leaves no query architecture of target 'cifar10' (nb201 has 6466 distinct"),
    (_se(train_tasks=["cifar100", "cifar10"]), "target 'cifar10' is also a training task"),
    (_se(train_tasks=["mars"]), "benchmarks[0] (nb201).train_tasks: 'mars' is not a task of it"),
    (_se(test_metric="test_acc@13"), "benchmarks[0] (nb201).test_metric: task 'cifar10' has no 'test_acc@13'"),
    (_se(name="nas-bench-graph-proteins", targets=["proteins"], metric="valid_perf", test_metric="test_perf"),
     "target 'proteins' leaves no other task to meta-train on"),
])
def test_a_config_the_records_refuse_is_refused_before_anything_is_written(tmp_path, d, message):
    from surrogate_nas.experiment.config import check_records

    with pytest.raises(ExperimentError) as e:
        check_records(load_config(_write(tmp_path, d)))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_shipped_configs_pass_the_records_check():
    from surrogate_nas.experiment.config import check_records

    for p in sorted(CONFIGS.glob("*.yaml")):
        check_records(load_config(p))


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    p = tmp_path / "bomb.yaml"
    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]  # 9**12 strings if expanded
    p.write_text("experiment: search-efficiency\n" + "\n".join(levels) + "\nmethods: *a11\n")
    with pytest.raises(ExperimentError, match="YAML aliases \\(\\*name\\) are not accepted in a configuration"):
        load_config(p)


def test_reports_open_an_existing_store_only_and_refuse_junk(tmp_path):
    from surrogate_nas.experiment.store import DB_NAME, ResultStore

    with pytest.raises(ExperimentError, match="no results store"):
        ResultStore(tmp_path / "empty", create=False)
    assert not (tmp_path / "empty").exists()
    (tmp_path / DB_NAME).write_text("junk, not SQLite")
    with pytest.raises(ExperimentError, match=f"{DB_NAME} is not a usable SQLite results store"):
        ResultStore(tmp_path, create=False)


def test_a_run_the_records_refuse_leaves_no_file(tmp_path):
    from surrogate_nas.experiment import run_experiment

    cfg = load_config(_write(tmp_path, _pq(ks=[100000])))
    with pytest.raises(ExperimentError, match="ks: K=100000 leaves no query architecture"):
        run_experiment(cfg, tmp_path / "run", workers=0, progress=False)
    assert not (tmp_path / "run").exists()
