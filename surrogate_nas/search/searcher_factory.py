"""``make_searcher``: a registered searcher with what it needs (source scores, the predictor to re-fit),
after the target-isolation checks."""

from __future__ import annotations

from ..spaces import get_space
from .base import SEARCHERS, SearchError, get_searcher
from .checks import check_model, check_source_tasks
from .config import PREDICTOR_STRATEGIES
from .predictor_factory import needs_checkpoint, predictor_factory, source_scores


def other_tasks(table, task: str | None, metric: str) -> list[str]:
    """Every task of ``table`` with ``metric`` (a name or ``NAME@FIDELITY``) except ``task``."""
    return [t for t in table.tasks if t != task and table.has_metric(t, metric)]


def _int_option(opts: dict, name: str, default: int, low: int) -> int:
    v = opts.pop(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise SearchError(f"option {name} must be an int >= {low}, got {v!r}")
    return v


def make_searcher(
    strategy: str,
    space,
    seed: int,
    options: dict | None = None,
    table=None,
    task: str | None = None,
    metric: str | None = None,
    checkpoint=None,
    predictor: str = "meta",
    constraint=None,
    source_metric: str | None = None,
    maximize: bool = True,
):
    """Build a registered searcher with what it needs (source scores, predictor factory).

    Source tasks (option ``source_tasks``, default: every other task of ``table`` with the source metric) and
    the tasks a ``checkpoint`` read are checked against the target ``task`` (``TargetLeakError``). The source
    tasks are read with option ``source_metric``, else ``source_metric``, else ``metric`` (the search's):
    ``run_search`` passes the benchmark's (NB-201: ``test_acc``, the 200-epoch test accuracy, while the target
    is searched on ``valid_acc@12``). ``maximize``: whether the search maximises its metric (a minimising search's
    source scores rank the low values of the source tasks first, and its predictor is told its values are negated).
    """
    strategy = SEARCHERS.resolve(strategy)  # a former name gives its new one (and says so once)
    opts = dict(options or {})
    space = get_space(space)
    src_tasks = opts.pop("source_tasks", None)
    metric = opts.pop("source_metric", None) or source_metric or metric
    if not (metric is None or isinstance(metric, str) and metric.strip()):
        raise SearchError(f"option source_metric must be a metric name, got {metric!r}")
    fit = _predictor_fit_options(opts)
    tasks = _source_tasks(table, src_tasks, task, metric)
    scores = None
    if tasks:  # only with a table and a metric
        assert table is not None and metric is not None
        scores = source_scores(table, tasks, metric, maximize)
    if strategy == "source-rank":
        opts["scores"] = scores
    if strategy in PREDICTOR_STRATEGIES:
        sources = _predictor_sources(strategy, predictor, checkpoint, space, table, task, tasks, metric, maximize)
        inputs = {"space": space, "seed": seed, "checkpoint": checkpoint, "sources": sources, "task": task}
        opts["predictor"] = predictor_factory(predictor, maximize=maximize, **inputs, **fit)
        opts.setdefault("source_scores", scores)
        if scores is None:
            opts.setdefault("support", "random")
    try:
        return get_searcher(strategy, space=space, seed=seed, constraint=constraint, **opts)
    except TypeError as e:
        raise SearchError(f"strategy {strategy!r}: bad option ({e})") from None


def _predictor_fit_options(opts: dict) -> dict:
    """Pop and check the options that say how a search re-fits its predictor: ``cv_until``, ``scratch_steps``,
    ``targets``, ``predictor_options`` (as :func:`predictor_factory` keyword arguments)."""
    cv_until = _int_option(opts, "cv_until", 20, 0)
    scratch_steps = _int_option(opts, "scratch_steps", 150, 1)
    targets = opts.pop("targets", "anchored")
    if targets not in ("anchored", "support"):
        raise SearchError(f"option targets must be 'anchored' or 'support', got {targets!r}")
    predictor_options = opts.pop("predictor_options", None) or {}
    if not isinstance(predictor_options, dict):
        raise SearchError(f"option predictor_options must be a mapping, got {predictor_options!r}")
    return {"cv_until": cv_until, "targets": targets, "scratch_steps": scratch_steps, "options": predictor_options}


def _source_tasks(table, src_tasks, task: str | None, metric: str | None) -> list[str]:
    """The source tasks: option ``source_tasks`` (checked against the target), else every other task of
    ``table`` with ``metric``; none without a table and a metric."""
    if src_tasks is not None:
        if table is None or metric is None:
            raise SearchError("option source_tasks needs a benchmark and a metric")
        return check_source_tasks(table, src_tasks, task, metric, "search option source_tasks")
    if table is not None and metric is not None:
        return other_tasks(table, task, metric)
    return []


def _predictor_sources(
    strategy: str, predictor: str, checkpoint, space, table, task, tasks: list[str], metric, maximize: bool = True
):
    """What the predictor reads of the source tasks: a checkpoint's own (after checking each member was trained
    for this space and not on ``task``), else the source tasks for a source-reading predictor, ranked in the
    search's direction (``maximize``); None: nothing."""
    from ..predictors.inputs import SourceValues

    if needs_checkpoint(predictor):
        if checkpoint is None:
            raise SearchError(f"strategy {strategy!r} with predictor {predictor!r} needs a model checkpoint")
        members = checkpoint if isinstance(checkpoint, list) else [checkpoint]
        for member in members:
            check_model(member, space.name, task)
        ck = members[0].sources  # an ensemble's members agree on sources (checked when it was loaded)
        if table is not None and ck.get("tasks"):
            return SourceValues(table, tuple(ck["tasks"]), ck["metric"], ck.get("higher_is_better", True))
        return None
    if tasks:  # source-reading predictors (source-transfer, rf-source, ...) read the source tasks
        assert table is not None and metric is not None  # tasks come from a table and a metric
        return SourceValues(table, tuple(tasks), metric, maximize)
    return None
