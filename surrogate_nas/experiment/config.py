"""Typed, validated configurations of the two experiments (``experiments/configs/*.yaml``).

A file names its experiment (``experiment: predictor-quality`` or ``search-efficiency``) and holds
that dataclass's fields; ``benchmarks`` is a list of per-benchmark sections, and ``meta:`` /
``model:`` sections hold :class:`~surrogate_nas.meta.maml.MetaConfig` /
:class:`~surrogate_nas.predictors.gnn.ModelConfig` fields. An unknown key or a bad value is one
:class:`ExperimentError` naming it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, overload

import yaml

from ..errors import SurrogateNASError, first_line
from ..io import load_yaml

KINDS = ("predictor-quality", "search-efficiency")
MODES = ("full", "quick")
#: ``purpose: report`` (default): a grid whose headlines average the held-out targets; ``purpose: tuning``: a
#: round that chooses defaults, and may name validation targets only.
PURPOSES = ("report", "tuning")

#: The targets every default (predictor, search) is chosen on, declared up front; every other target is held out
#: and only reported. Headline means and win counts are over held-out targets only.
VALIDATION_TARGETS = {"nb201": ("cifar100",), "nas-bench-graph": ("cora", "photo")}


def is_validation_target(benchmark: str, target: str) -> bool:
    return target in VALIDATION_TARGETS.get(benchmark, ())


def held_out_mask(benchmarks, targets) -> list[bool]:
    """Per (benchmark, target) pair: True where the target is held out (not a validation target)."""
    return [not is_validation_target(b, t) for b, t in zip(benchmarks, targets)]


def _check_purpose(cfg) -> None:
    """A tuning config declares itself and names validation targets only (a held-out target is never tuned on)."""
    if cfg.purpose not in PURPOSES:
        raise ExperimentError(f"purpose must be one of {', '.join(PURPOSES)}, got {cfg.purpose!r}")
    if cfg.purpose != "tuning":
        return
    for b in cfg.benchmarks:
        bad = [t for t in b.targets if not is_validation_target(b.name, t)]
        if bad:
            allowed = ", ".join(VALIDATION_TARGETS.get(b.name, ())) or "none"
            raise ExperimentError(
                f"purpose: tuning: target {bad[0]!r} of {b.name} is held out; a tuning round may "
                f"name only the validation targets ({allowed})"
            )


class ExperimentError(SurrogateNASError):
    """A bad experiment configuration, or a run directory that belongs to another configuration."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(where: str, v, lo: int) -> int:
    if not _is_int(v) or v < lo:
        raise ExperimentError(f"{where} must be an integer >= {lo}, got {v!r}")
    return v


def _str(where: str, v) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ExperimentError(f"{where} must be a non-empty string, got {v!r}")
    return v


@overload
def _str_list(where: str, v, allow_none: Literal[False] = False) -> list[str]: ...
@overload
def _str_list(where: str, v, allow_none: bool) -> list[str] | None: ...
def _str_list(where: str, v, allow_none: bool = False) -> list[str] | None:
    if v is None and allow_none:
        return None
    if not isinstance(v, (list, tuple)) or not v:
        raise ExperimentError(f"{where} must be a non-empty list of names, got {v!r}")
    out = [_str(f"{where}[{i}]", x) for i, x in enumerate(v)]
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ExperimentError(f"{where}: {dup[0]!r} is listed twice")
    return out


def _keys(where: str, d, cls) -> dict:
    if not isinstance(d, dict):
        raise ExperimentError(f"{where} must be a mapping of {cls.__name__} fields, got {d!r}")
    names = set(cls.field_names()) if hasattr(cls, "field_names") else {f.name for f in fields(cls)}
    bad = sorted(str(k) for k in d if k not in names)
    if bad:
        raise ExperimentError(f"{where}: unknown key {bad[0]!r}; {cls.__name__} fields: {', '.join(sorted(names))}")
    return dict(d)


def _section(where: str, d, cls) -> dict:
    """``meta:`` / ``model:``: the fields are checked by constructing the typed model once."""
    d = _keys(where, d, cls)
    if "support_range" in d and isinstance(d["support_range"], list):
        d["support_range"] = tuple(d["support_range"])
    try:
        cls(**d)
    except (SurrogateNASError, TypeError) as e:
        raise ExperimentError(f"{where}: {str(e).splitlines()[0]}") from None
    return d


def meta_config(d: dict, **override):
    from ..meta.maml import MetaConfig

    return MetaConfig(**{**d, **override})


def model_config(d: dict):
    from ..predictors.gnn import ModelConfig

    return ModelConfig(**d)


# ---------------------------------------------------------------------- predictor quality
@dataclass
class PQBenchmark:
    """One benchmark of the predictor-quality grid: every target is held out in turn."""

    name: str
    metric: str
    targets: list[str]


@dataclass
class PredictorQualityConfig:
    """Leave-one-task-out few-shot ranking: benchmark x target x method x K x seed.

    Each target gets one checkpoint per algorithm its methods need (``meta-gnn``: ``meta``'s
    algorithm, ``multitask-finetune``: multitask), meta seed ``meta.seed``, trained on the other tasks.
    """

    benchmarks: list[PQBenchmark]
    ks: list[int] = field(default_factory=lambda: [5, 10, 20, 50, 100])
    seeds: int = 5
    methods: list[str] | None = None  # None: every method of predictor_quality.METHODS
    meta: dict = field(default_factory=lambda: {"iterations": 400, "seed": 0})
    model: dict = field(default_factory=dict)
    mode: str = "full"  # reports are named predictor_quality[_quick]
    purpose: str = "report"  # "tuning": a defaults round on validation targets only

    kind = "predictor-quality"

    def validate(self) -> PredictorQualityConfig:
        from .predictor_quality import METHODS

        self.benchmarks = _benchmarks(self.benchmarks, PQBenchmark, self._bench)
        if not isinstance(self.ks, (list, tuple)) or not self.ks:
            raise ExperimentError(f"ks must be a non-empty list of integers >= 1, got {self.ks!r}")
        self.ks = [_int(f"ks[{i}]", k, 1) for i, k in enumerate(self.ks)]
        if len(set(self.ks)) != len(self.ks):
            raise ExperimentError(f"ks: {self.ks} lists a K twice")
        _int("seeds", self.seeds, 1)
        self.methods = _str_list("methods", self.methods, allow_none=True) or list(METHODS)
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ExperimentError(f"methods: unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
        from ..meta.maml import MetaConfig
        from ..predictors.gnn import ModelConfig

        self.meta = _section("meta", self.meta, MetaConfig)
        self.model = _section("model", self.model, ModelConfig)
        if self.mode not in MODES:
            raise ExperimentError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        _check_purpose(self)
        return self

    @staticmethod
    def _bench(where: str, b: PQBenchmark) -> None:
        _str(f"{where}.name", b.name)
        _str(f"{where}.metric", b.metric)
        b.targets = _str_list(f"{where}.targets", b.targets)


# ---------------------------------------------------------------------- search efficiency
@dataclass
class SEBenchmark:
    """One benchmark of the search-efficiency grid (targets x methods x seeds)."""

    name: str
    targets: list[str]
    metric: str
    test_metric: str
    train_tasks: list[str] | None = None  # None: every other task of the benchmark
    seeds: int = 5
    guided_seeds: int | None = None  # seeds of the predictor-based methods (None: seeds)
    budget: int = 100  # evaluations of the baselines
    guided_budget: int = 100  # evaluations of the predictor-based methods
    checkpoints: int = 1  # meta seeds meta.seed + i; search seed s uses s % checkpoints
    meta: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    #: What meta-training and the source tasks (source-rank, source-reading predictors) read; None: the
    #: benchmark's (NB-201: test_acc, the 200-epoch test accuracy, while ``metric`` is valid_acc@12), else metric.
    source_metric: str | None = None


@dataclass
class SearchEfficiencyConfig:
    """Evaluations each searcher needs on a held-out task: benchmark x target x method x seed."""

    benchmarks: list[SEBenchmark]
    methods: list[str] | None = None  # None: every method of search_efficiency.method_specs()
    mode: str = "full"  # the report's title says quick or full
    #: {name: {base: a method's name, options: {...}, batch_size: q}}: a method with other options
    variants: dict = field(default_factory=dict)
    purpose: str = "report"  # "tuning": a defaults round on validation targets only

    kind = "search-efficiency"

    def validate(self) -> SearchEfficiencyConfig:
        self.benchmarks = _benchmarks(self.benchmarks, SEBenchmark, self._bench)
        self.methods = _str_list("methods", self.methods, allow_none=True)
        self._check_variants()
        if self.methods is not None:
            from .search_efficiency import method_specs

            known = {
                m.name for b in self.benchmarks for t in b.targets for m in method_specs(b.name, 1, 1, t, self.variants)
            }
            unknown = [m for m in self.methods if m not in known]
            if unknown:
                raise ExperimentError(f"methods: unknown method {unknown[0]!r}; choose from {', '.join(sorted(known))}")
        if self.mode not in MODES:
            raise ExperimentError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        _check_purpose(self)
        return self

    def _check_variants(self) -> None:
        from .search_efficiency import method_specs

        if not isinstance(self.variants, dict):
            raise ExperimentError(
                f"variants must be a mapping of name: {{base, options, batch_size}}, got {self.variants!r}"
            )
        base = {m.name for m in method_specs("nas-bench-graph", 1, 1)} | {m.name for m in method_specs("nb201", 1, 1)}
        for name, v in self.variants.items():
            where = f"variants.{name}"
            if not isinstance(name, str) or not name.strip() or name in base:
                raise ExperimentError(f"variants: {name!r} must be a new method name (not one of the grid's)")
            if not isinstance(v, dict) or set(v) - {"base", "options", "batch_size"} or "base" not in v:
                raise ExperimentError(
                    f"{where} must be a mapping with base (a method's name) and optional options, batch_size; got {v!r}"
                )
            if v["base"] not in base:
                raise ExperimentError(
                    f"{where}.base: unknown method {v['base']!r}; choose from {', '.join(sorted(base))}"
                )
            if not isinstance(v.get("options", {}) or {}, dict):
                raise ExperimentError(f"{where}.options must be a mapping, got {v['options']!r}")
            if "batch_size" in v:
                _int(f"{where}.batch_size", v["batch_size"], 1)

    @staticmethod
    def _bench(where: str, b: SEBenchmark) -> None:
        from ..meta.maml import MetaConfig
        from ..predictors.gnn import ModelConfig

        for name in ("name", "metric", "test_metric"):
            _str(f"{where}.{name}", getattr(b, name))
        if b.source_metric is not None:
            _str(f"{where}.source_metric", b.source_metric)
        b.targets = _str_list(f"{where}.targets", b.targets)
        b.train_tasks = _str_list(f"{where}.train_tasks", b.train_tasks, allow_none=True)
        for name, lo in (("seeds", 1), ("budget", 1), ("guided_budget", 1), ("checkpoints", 1)):
            _int(f"{where}.{name}", getattr(b, name), lo)
        if b.guided_seeds is not None:
            _int(f"{where}.guided_seeds", b.guided_seeds, 1)
        b.meta = _section(f"{where}.meta", b.meta, MetaConfig)
        b.model = _section(f"{where}.model", b.model, ModelConfig)


# ---------------------------------------------------------------------- loading / saving
CONFIGS = {"predictor-quality": PredictorQualityConfig, "search-efficiency": SearchEfficiencyConfig}


def _benchmarks(items, cls, check) -> list:
    if not isinstance(items, (list, tuple)) or not items:
        raise ExperimentError(f"benchmarks must be a non-empty list of {cls.__name__} sections, got {items!r}")
    out = []
    for i, b in enumerate(items):
        where = f"benchmarks[{i}]"
        if isinstance(b, dict):
            d = _keys(where, b, cls)
            missing = [
                f.name
                for f in fields(cls)
                if f.name not in d and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ]
            if missing:
                raise ExperimentError(f"{where}: missing key {missing[0]!r}")
            b = cls(**d)
        elif not isinstance(b, cls):
            raise ExperimentError(f"{where} must be a mapping of {cls.__name__} fields, got {b!r}")
        else:
            b = dataclasses.replace(b)
        check(where, b)
        out.append(b)
    names = [b.name for b in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ExperimentError(f"benchmarks: {dup[0]!r} is listed twice")
    return out


def config_from_dict(d: Any, kind: str | None = None, where: str = "experiment config"):
    """A validated config from a mapping (``experiment:`` names the kind; ``kind`` must agree when given)."""
    if not isinstance(d, dict):
        raise ExperimentError(f"{where} must be a mapping of fields, got {type(d).__name__}")
    d = dict(d)
    named = d.pop("experiment", None)
    if named is None and kind is None:
        raise ExperimentError(f"{where}: key 'experiment' missing (one of {', '.join(KINDS)})")
    if named is not None and named not in KINDS:
        raise ExperimentError(f"{where}: experiment must be one of {', '.join(KINDS)}, got {named!r}")
    if kind is not None and named is not None and named != kind:
        raise ExperimentError(f"{where} is a {named} config, not {kind}")
    cls = CONFIGS[kind or named]
    names = {f.name for f in fields(cls)}
    bad = sorted(str(k) for k in d if k not in names)
    if bad:
        raise ExperimentError(
            f"{where}: unknown key {bad[0]!r}; {cls.__name__} fields: {', '.join(['experiment', *sorted(names)])}"
        )
    if "benchmarks" not in d:
        raise ExperimentError(f"{where}: missing key 'benchmarks'")
    try:
        cfg = cls(**d)
    except TypeError as e:
        raise ExperimentError(f"{where}: {e}") from None
    try:
        return cfg.validate()
    except ExperimentError as e:
        raise ExperimentError(f"{where}: {e}") from None


def check_records(cfg: PredictorQualityConfig | SearchEfficiencyConfig) -> None:
    """What only the records can confirm, checked before any file is written or any model trained: each
    benchmark exists, targets and training tasks are its tasks, a target is never a training task, the targets
    have every metric the grid reads (the source metric on the tasks it is read from), and predictor-quality's
    largest K leaves query architectures (K distinct canonical keys are drawn as the support)."""
    from ..search.benchmark_tables import cached_benchmark

    benchmarks: list[PQBenchmark | SEBenchmark] = list(cfg.benchmarks)
    for i, b in enumerate(benchmarks):
        where = f"benchmarks[{i}] ({b.name})"
        try:
            table = cached_benchmark(b.name)
        except SurrogateNASError as e:
            raise ExperimentError(f"{where}: {first_line(e)}") from None
        train = list(getattr(b, "train_tasks", None) or [])
        for what, names in (("targets", b.targets), ("train_tasks", train)):
            bad = [t for t in names if t not in table.tasks]
            if bad:
                raise ExperimentError(
                    f"{where}.{what}: {bad[0]!r} is not a task of it; tasks: {', '.join(table.tasks)}"
                )
        leak = sorted(set(train) & set(b.targets))
        if leak:
            raise ExperimentError(f"{where}: target {leak[0]!r} is also a training task; a target is held out")
        for t in b.targets:
            sources = train or [x for x in table.tasks if x != t]
            if not sources:
                raise ExperimentError(f"{where}: target {t!r} leaves no other task to meta-train on")
            _check_metrics(table, where, t, b, sources)
            if isinstance(cfg, PredictorQualityConfig):
                keys = table.frame.loc[table.frame["task"] == t, "key"].nunique()
                if max(cfg.ks) >= keys:
                    raise ExperimentError(
                        f"ks: K={max(cfg.ks)} leaves no query architecture of target {t!r} ({b.name} has "
                        f"{keys} distinct architectures for it); use K < {keys}"
                    )


def _check_metrics(table, where: str, target: str, b, sources: list[str]) -> None:
    from ..search.benchmark_tables import source_metric

    wanted = [("metric", b.metric, [target]), ("test_metric", getattr(b, "test_metric", None), [target])]
    if hasattr(b, "source_metric"):
        wanted.append(("source_metric", b.source_metric or source_metric(b.name, b.metric), sources))
    for what, metric, tasks in wanted:
        if metric is None:
            continue
        try:
            missing = [t for t in tasks if not table.has_metric(t, metric)]
        except SurrogateNASError as e:
            raise ExperimentError(f"{where}.{what}: {first_line(e)}") from None
        if missing:
            have = ", ".join(table.metrics(missing[0]))
            raise ExperimentError(f"{where}.{what}: task {missing[0]!r} has no {metric!r} records; it has {have}")


def load_config(path: str | Path, kind: str | None = None):
    """Read and validate a YAML experiment config; every problem is one ExperimentError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ExperimentError(f"config file {p} not found")
    try:
        d = load_yaml(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ExperimentError(f"config file {p} is not valid YAML ({str(e).splitlines()[0]})") from None
    return config_from_dict(d, kind, where=f"config file {p}")


def config_dict(cfg) -> dict:
    """The config as plain data (what is saved in the run directory, ``experiment:`` first)."""
    d = asdict(cfg)
    for b in d["benchmarks"]:
        if "source_metric" in b and b["source_metric"] is None:  # unset: as saved before the field existed
            del b["source_metric"]
        for sec in ("meta", "model"):
            if isinstance(b.get(sec), dict) and "support_range" in b[sec]:
                b[sec]["support_range"] = list(b[sec]["support_range"])
    if "support_range" in d.get("meta", {}):
        d["meta"]["support_range"] = list(d["meta"]["support_range"])
    return {"experiment": cfg.kind, **d}


def config_yaml(cfg) -> str:
    return yaml.safe_dump(config_dict(cfg), sort_keys=False)


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two config dicts (``seeds: 5 -> 2``)."""
    out = []
    for k in list(old) + [k for k in new if k not in old]:
        a, b = old.get(k, "<unset>"), new.get(k, "<unset>")
        name = f"{prefix}{k}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, name + ".")
        elif (
            isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(isinstance(x, dict) for x in a + b)
        ):
            for i, (x, y) in enumerate(zip(a, b)):
                out += differences(x, y, f"{name}[{i}].")
        elif a != b:
            out.append(f"{name}: {a!r} -> {b!r}")
    return out
