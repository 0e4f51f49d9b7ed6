"""Real training of candidates: the faithful NB-201 network, its trainer, and top-k verification
locally or on Ray.

Entry points: :func:`verify` (``surrogate-nas verify``), :class:`TrainingEvaluator`
(``search --evaluator train``), :func:`train` (one run), :func:`build_network`.
Nothing here imports Ray or torchvision until it is used.
"""

from ..networks import NB201Network, build_network, count_flops, count_parameters
from .backends import BACKENDS, Backend, LocalBackend, RayBackend, TrainJob, get_backend, make_job, run_job
from .config import TrainConfig, VerifyConfig
from .data import DATASETS, ImageData, check_dataset, dataset_names, load_dataset
from .errors import TrainingError, TrainingOOMError
from .trainer import TrainResult, resolve_device, train
from .verify import TrainingEvaluator, read_candidates, verify

__all__ = [
    "BACKENDS",
    "Backend",
    "LocalBackend",
    "RayBackend",
    "TrainJob",
    "get_backend",
    "make_job",
    "run_job",
    "DATASETS",
    "ImageData",
    "check_dataset",
    "dataset_names",
    "load_dataset",
    "NB201Network",
    "build_network",
    "count_flops",
    "count_parameters",
    "TrainConfig",
    "TrainingError",
    "TrainingOOMError",
    "TrainResult",
    "resolve_device",
    "train",
    "TrainingEvaluator",
    "VerifyConfig",
    "read_candidates",
    "verify",
]


# ``search --evaluator train``: the search finds this evaluator through its registry (it never imports training).
from ..errors import SurrogateNASError as _Error  # noqa: E402
from ..search.evaluators import EVALUATORS as _EVALUATORS  # noqa: E402
from ..search.evaluators import TrainEvaluator as _SearchView


@_EVALUATORS.register("train")
def search_evaluator(config, table=None, work_dir="runs/train-evals") -> _SearchView:
    """Real training of every suggestion (NB-201 space); everything is checked before the search writes."""
    if config.space != "nb201":
        raise _Error(f"evaluator 'train' trains NB-201 networks; space {config.space!r} has no trainer")
    tc = TrainConfig(**config.train).validate()
    if config.metric not in ("test_acc", "valid_acc"):
        raise _Error(f"evaluator 'train' measures test_acc or valid_acc, not {config.metric!r}")
    if config.metric == "valid_acc" and tc.valid_fraction <= 0:
        raise _Error("evaluator 'train' with metric 'valid_acc' needs the train option valid_fraction > 0")
    dataset = check_dataset(config.task, config.data_root)
    return _SearchView(
        TrainingEvaluator(
            dataset,
            data_root=config.data_root,
            train_config=tc,
            work_dir=work_dir,
            space=config.space,
            metric=config.metric,
            backend=config.train_backend,
            backend_options={"progress": config.progress},
        ),
        epochs=tc.resolved(dataset).epochs,
    )
