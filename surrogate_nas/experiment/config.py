"""Typed configurations of the two experiments (``experiments/configs/*.yaml``): one pydantic model per config.

A file names its experiment (``experiment: predictor-quality`` or ``search-efficiency``) and holds that model's
fields; ``benchmarks`` is a list of per-benchmark sections (:class:`PQBenchmark` / :class:`SEBenchmark`), and
``meta:`` / ``model:`` sections hold :class:`~surrogate_nas.meta.maml.MetaConfig` /
:class:`~surrogate_nas.predictors.gnn.ModelConfig` fields (checked by those models, kept as written). The models
validate on construction, on assignment and on load; an unknown key or a bad value is one :class:`ExperimentError`
line naming where it is (``benchmarks[1] (nas-bench-graph).seeds``) and the value.
"""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Required, Self, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from ..errors import SurrogateNASError, first_line
from ..io import load_yaml
from ..typed import Int, Name, TypedConfig

Kind = Literal["predictor-quality", "search-efficiency"]
Mode = Literal["full", "quick"]  # reports are named / titled quick or full
#: ``purpose: report`` (default): a grid whose headlines average the held-out targets; ``purpose: tuning``: a
#: round that chooses defaults, and may name validation targets only.
Purpose = Literal["report", "tuning"]
KINDS: tuple[str, ...] = get_args(Kind)
MODES: tuple[str, ...] = get_args(Mode)
PURPOSES: tuple[str, ...] = get_args(Purpose)

#: The targets every default (predictor, search) is chosen on, declared up front; every other target is held out
#: and only reported. Headline means and win counts are over held-out targets only.
VALIDATION_TARGETS = {"nb201": ("cifar100",), "nas-bench-graph": ("cora", "photo")}


def is_validation_target(benchmark: str, target: str) -> bool:
    return target in VALIDATION_TARGETS.get(benchmark, ())


def held_out_mask(benchmarks, targets) -> list[bool]:
    """Per (benchmark, target) pair: True where the target is held out (not a validation target)."""
    return [not is_validation_target(b, t) for b, t in zip(benchmarks, targets)]


class ExperimentError(SurrogateNASError):
    """A bad experiment configuration, or a run directory that belongs to another configuration."""


# ---------------------------------------------------------------------- field types
#: The error type of this module's own checks: their message says it all (no ", got value" is added).
_SAID = "experiment_config"


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError(_SAID, "{message}", {"message": message})


def _unique(v: list) -> list:
    dup = next((x for i, x in enumerate(v) if x in v[:i]), None)
    if dup is not None:
        raise _problem(f"{dup!r} is listed twice")
    return v


def _typed_section(model: Literal["meta", "model"]) -> AfterValidator:
    """A ``meta:`` / ``model:`` section: the keys a MetaConfig / ModelConfig takes, checked by constructing it once;
    kept as written (only the keys given, a pair as a list) so that the saved config says what the file said."""

    def check(v: dict[str, Any]) -> dict[str, Any]:
        if model == "meta":
            from ..meta.maml import MetaConfig as cls
        else:
            from ..predictors.gnn import ModelConfig as cls  # type: ignore[assignment]
        names = sorted(cls.model_fields)
        bad = sorted(k for k in v if k not in names)
        if bad:
            raise _problem(f"unknown key {bad[0]!r}; {cls.__name__} fields: {', '.join(names)}")
        try:
            cls(**v)
        except SurrogateNASError as e:
            raise _problem(first_line(e)) from None
        return {k: list(x) if isinstance(x, tuple) else x for k, x in v.items()}

    return AfterValidator(check)


#: A non-empty list of distinct names; an integer >= 1.
Names = Annotated[list[Name], Field(min_length=1), AfterValidator(_unique)]
Count = Annotated[Int, Field(ge=1)]
MetaSection = Annotated[dict[str, Any], _typed_section("meta")]
ModelSection = Annotated[dict[str, Any], _typed_section("model")]


@with_config(ConfigDict(extra="forbid", strict=True))
class VariantSpec(TypedDict, total=False):
    """A search-efficiency variant: a grid method (``base``) with other ``options`` (merged into the base's)
    and/or another ``batch_size``; stays a plain mapping (``search_efficiency.method_specs`` reads it)."""

    base: Required[Name]
    options: dict[str, Any] | None
    batch_size: Count


# ---------------------------------------------------------------------- one-line errors
def _one_line(what: str, error: ValidationError, model: type, data: Any, top_keys: tuple[str, ...] = ()) -> str:
    """Pydantic's report as one line: the first unknown key, else the first missing key, else the first problem,
    named by where it is (``benchmarks[1] (nas-bench-graph).seeds``) and, unless the message says it all, the
    value."""
    errors = error.errors(include_url=False)
    rank = {"extra_forbidden": 0, "missing": 1}
    err = min(errors, key=lambda e: rank.get(e["type"], 2))  # the first of the most telling kind
    loc = tuple(err["loc"])
    if err["type"] in rank:
        head = ": ".join(x for x in (what, _where(loc[:-1], data)) if x)
        if err["type"] == "missing":
            return f"{head}: missing key {loc[-1]!r}"
        section = _section_at(model, loc[:-1])
        names = [*(top_keys if len(loc) == 1 else ()), *sorted(_fields(section))]
        listing = f"; {section.__name__} fields: {', '.join(names)}" if names else ""
        return f"{head}: unknown key {loc[-1]!r}{listing}"
    head = ": ".join(x for x in (what, _where(loc, data)) if x)
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == _SAID or not loc:
        return f"{head}: {msg}"
    return f"{head}: {msg[:1].lower() + msg[1:]}, got {repr(err['input'])[:80]}"


def _where(loc: tuple, data: Any) -> str:
    """``benchmarks[1] (nas-bench-graph).meta``: list positions in brackets, a benchmark followed by its name."""
    out = ""
    for i, part in enumerate(loc):
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
        if i == 1 and loc[0] == "benchmarks" and isinstance(part, int):
            try:
                b = data["benchmarks"][part]
                name = b.get("name") if isinstance(b, dict) else getattr(b, "name", None)
            except (KeyError, IndexError, TypeError):
                name = None
            out += f" ({name})" if isinstance(name, str) and name.strip() else ""
    return out


def _bare(tp: Any) -> Any:
    while get_origin(tp) in (Annotated, Union, UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    return tp


def _fields(tp: Any) -> dict[str, Any]:
    """A model's or TypedDict's keys and their types (none for anything else)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {k: f.annotation for k, f in tp.model_fields.items()}
    return get_type_hints(tp) if isinstance(tp, type) and issubclass(tp, dict) and tp is not dict else {}


def _section_at(model: type, loc: tuple) -> Any:
    """The model or TypedDict whose keys a location names (``benchmarks[1]``: SEBenchmark)."""
    tp: Any = model
    for part in loc:
        tp = _bare(tp)
        tp = get_args(tp)[-1] if get_origin(tp) in (list, dict) else _fields(tp).get(part)
    return _bare(tp)


class _Model(TypedConfig):
    """A TypedConfig whose errors are :class:`ExperimentError` lines, constructed like the dataclasses these
    models replace: positional values fill the fields in order (``PQBenchmark("nb201", "test_acc", [...])``)."""

    def __init__(self, *args: Any, **data: Any) -> None:
        names = list(type(self).model_fields)
        if len(args) > len(names) or set(names[: len(args)]) & set(data):
            raise ExperimentError(f"{self._label()}: {len(args)} positional values do not fit the fields {names}")
        data = {**dict(zip(names, args)), **data}
        try:
            BaseModel.__init__(self, **data)  # TypedConfig's __init__ raises the base error class
        except ValidationError as e:
            raise ExperimentError(_one_line(self._label(), e, type(self), data)) from None

    # pydantic's own marker (RootModel sets it too): this __init__ only arranges arguments, so validating a
    # mapping (a benchmark section, model_validate) need not call it and keeps each problem's full location.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            BaseModel.__setattr__(self, name, value)
        except ValidationError as e:
            raise ExperimentError(_one_line(self._label(), e, type(self), {name: value})) from None

    def _label(self) -> str:
        return self.what


def _check_purpose(cfg: PredictorQualityConfig | SearchEfficiencyConfig) -> None:
    """A tuning config declares itself and names validation targets only (a held-out target is never tuned on)."""
    if cfg.purpose != "tuning":
        return
    for b in cfg.benchmarks:
        bad = [t for t in b.targets if not is_validation_target(b.name, t)]
        if bad:
            allowed = ", ".join(VALIDATION_TARGETS.get(b.name, ())) or "none"
            raise _problem(
                f"purpose: tuning: target {bad[0]!r} of {b.name} is held out; a tuning round may "
                f"name only the validation targets ({allowed})"
            )


def _distinct_names(v: list[_Benchmark]) -> list[_Benchmark]:
    _unique([b.name for b in v])
    return v


class _Grid(_Model):
    """What both experiment configs share: the ``kind`` they are saved as, and :meth:`validate`."""

    #: The ``experiment:`` key of the config's file.
    kind: ClassVar[str]

    def validate(self) -> Self:  # type: ignore[override]
        """The whole config checked again, e.g. after its benchmarks were edited in place (an assignment checks
        only the field it sets); returns the config. Construction and loading check everything already."""
        _validated(type(self), self.model_dump(), self._label())
        return self

    def _label(self) -> str:
        return f"{self.kind} config"


class _Benchmark(_Model):
    """A benchmark section of a grid: its errors name it (``search-efficiency benchmark nb201: seeds: ...``)."""

    name: Name  # the benchmark's name (``surrogate-nas benchmarks``)

    def _label(self) -> str:
        name = getattr(self, "name", None)  # unset while its construction fails
        return f"{self.what} {name}" if name else self.what


# ---------------------------------------------------------------------- predictor quality
class PQBenchmark(_Benchmark):
    """One benchmark of the predictor-quality grid: every target is held out in turn."""

    what: ClassVar[str] = "predictor-quality benchmark"

    metric: Name
    targets: Names


def _pq_methods() -> tuple[str, ...]:
    from .predictor_quality import METHODS

    return tuple(METHODS)


class PredictorQualityConfig(_Grid):
    """Leave-one-task-out few-shot ranking: benchmark x target x method x K x seed.

    Each target gets one checkpoint per algorithm its methods need (``meta-gnn``: ``meta``'s
    algorithm, ``multitask-finetune``: multitask), meta seed ``meta.seed``, trained on the other tasks.
    """

    kind: ClassVar[str] = "predictor-quality"

    benchmarks: Annotated[list[PQBenchmark], Field(min_length=1), AfterValidator(_distinct_names)]
    ks: Annotated[list[Count], Field(min_length=1), AfterValidator(_unique)] = [5, 10, 20, 50, 100]
    seeds: Count = 5
    #: None: every method of predictor_quality.METHODS (saved as that list)
    methods: Names | None = Field(None, validate_default=True)
    meta: MetaSection = {"iterations": 400, "seed": 0}
    model: ModelSection = {}
    mode: Mode = "full"  # reports are named predictor_quality[_quick]
    purpose: Purpose = "report"  # "tuning": a defaults round on validation targets only

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v: list[str] | None) -> list[str]:
        known = _pq_methods()
        unknown = [m for m in v or () if m not in known]
        if unknown:
            raise _problem(f"unknown method {unknown[0]!r}; choose from {', '.join(known)}")
        return list(v or known)

    @model_validator(mode="after")
    def _tuning(self) -> Self:
        _check_purpose(self)
        return self


# ---------------------------------------------------------------------- search efficiency
class SEBenchmark(_Benchmark):
    """One benchmark of the search-efficiency grid (targets x methods x seeds)."""

    what: ClassVar[str] = "search-efficiency benchmark"

    targets: Names
    metric: Name
    test_metric: Name
    train_tasks: Names | None = None  # None: every other task of the benchmark
    seeds: Count = 5
    guided_seeds: Count | None = None  # seeds of the predictor-based methods (None: seeds)
    budget: Count = 100  # evaluations of the baselines
    guided_budget: Count = 100  # evaluations of the predictor-based methods
    checkpoints: Count = 1  # meta seeds meta.seed + i; search seed s uses s % checkpoints
    meta: MetaSection = {}
    model: ModelSection = {}
    #: What meta-training and the source tasks (source-rank, source-reading predictors) read; None: the
    #: benchmark's (NB-201: test_acc, the 200-epoch test accuracy, while ``metric`` is valid_acc@12), else metric.
    source_metric: Name | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        d = handler(self)
        if d.get("source_metric", "") is None:  # unset: saved as before the field existed
            del d["source_metric"]
        return d


def _grid_methods(variants: dict[str, VariantSpec] | None = None, benchmarks: list[SEBenchmark] | None = None):
    """The search methods of the grid (its benchmarks' and targets', or every benchmark's without variants)."""
    from .search_efficiency import method_specs

    if benchmarks is None:
        return {m.name for bench in ("nas-bench-graph", "nb201") for m in method_specs(bench, 1, 1)}
    return {m.name for b in benchmarks for t in b.targets for m in method_specs(b.name, 1, 1, t, dict(variants or {}))}


class SearchEfficiencyConfig(_Grid):
    """Evaluations each searcher needs on a held-out task: benchmark x target x method x seed."""

    kind: ClassVar[str] = "search-efficiency"

    benchmarks: Annotated[list[SEBenchmark], Field(min_length=1), AfterValidator(_distinct_names)]
    methods: Names | None = None  # None: every method of search_efficiency.method_specs()
    mode: Mode = "full"  # the report's title says quick or full
    #: {name: {base: a method's name, options: {...}, batch_size: q}}: a method with other options
    variants: dict[Name, VariantSpec] = {}
    purpose: Purpose = "report"  # "tuning": a defaults round on validation targets only

    @model_validator(mode="after")
    def _variants_extend_the_grid(self) -> Self:
        base = _grid_methods()
        for name, v in self.variants.items():
            if name in base:
                raise _problem(f"variants: {name!r} must be a new method name (not one of the grid's)")
            if v["base"] not in base:
                raise _problem(
                    f"variants.{name}.base: unknown method {v['base']!r}; choose from {', '.join(sorted(base))}"
                )
        return self

    @model_validator(mode="after")
    def _methods_and_purpose(self) -> Self:
        if self.methods is not None:
            known = _grid_methods(self.variants, self.benchmarks)
            unknown = [m for m in self.methods if m not in known]
            if unknown:
                raise _problem(f"methods: unknown method {unknown[0]!r}; choose from {', '.join(sorted(known))}")
        _check_purpose(self)
        return self


# ---------------------------------------------------------------------- loading / saving
CONFIGS: dict[str, type[PredictorQualityConfig] | type[SearchEfficiencyConfig]] = {
    "predictor-quality": PredictorQualityConfig,
    "search-efficiency": SearchEfficiencyConfig,
}


def _validated(cls: type[_Grid], d: dict, where: str) -> Any:
    try:
        return cls.model_validate(d)
    except ValidationError as e:
        raise ExperimentError(_one_line(where, e, cls, d, ("experiment",))) from None


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
    return _validated(CONFIGS[kind or named], d, where)


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


def config_dict(cfg: PredictorQualityConfig | SearchEfficiencyConfig) -> dict:
    """The config as plain data (what is saved in the run directory, ``experiment:`` first)."""
    return {"experiment": cfg.kind, **cfg.model_dump()}


def config_yaml(cfg: PredictorQualityConfig | SearchEfficiencyConfig) -> str:
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
