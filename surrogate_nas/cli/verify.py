"""`verify`: train candidates for real and record the measurements."""

from __future__ import annotations

from ..errors import SurrogateNASError
from .common import config_mapping, config_option, model_options, print_frame, require

#: The VerifyConfig fields that are verify flags (generated from the model; ``out_dir`` is ``--out``).
VERIFY_FLAGS = ("space", "dataset", "data_root", "seeds", "backend", "top_k", "append_to", "out_dir")
#: The TrainConfig fields that are verify flags.
TRAIN_FLAGS = ("epochs", "batch_size", "lr", "C", "N", "device", "precision", "channels_last", "compile")
#: dest -> VerifyConfig field, dest -> TrainConfig field.
VERIFY_FIELDS = {("out" if name == "out_dir" else name): name for name in VERIFY_FLAGS}
VERIFY_TRAIN = {name: name for name in TRAIN_FLAGS}


def _cmd_verify(args) -> int:
    require(args, "archs")

    from ..training import TrainConfig, VerifyConfig, verify

    train_fields = {**args.extra.get("train", {}), **{f: getattr(args, d) for d, f in VERIFY_TRAIN.items()}}
    train_fields.setdefault("seed", args.seeds[0])
    opts = dict(config_mapping(args, "backend_options"))
    if args.address:
        opts["address"] = args.address
    if args.workers is not None:
        opts["workers"] = args.workers
    fields = {
        **{k: v for k, v in args.extra.items() if k not in ("train", "backend_options")},
        **{f: getattr(args, d) for d, f in VERIFY_FIELDS.items()},
    }
    fields["seeds"] = tuple(fields["seeds"])
    try:
        cfg = VerifyConfig(train=TrainConfig(**train_fields), backend_options=opts, **fields)
    except TypeError as e:  # the key names were checked against the dataclasses; this is a value's type
        raise SurrogateNASError(f"verify: {e}") from None
    res = verify(args.archs, cfg)
    ok = int((res["status"] == "ok").sum()) if "status" in res else len(res)
    print(f"verified {len(res)} run(s), {ok} ok -> {args.out}")
    if res.attrs.get("kendall_tau") is not None:
        print(
            f"predicted vs measured: Kendall tau {res.attrs['kendall_tau']:.3f}, Spearman {res.attrs['spearman']:.3f}"
        )
    print_frame(
        res[[c for c in ("arch", "seed", "status", "predicted", "test_acc", "params_m", "train_seconds") if c in res]]
    )
    return 0


def register(sub, full: bool = True) -> None:
    """Add the `verify` command to the subparsers ``sub`` (``full=False``: its name and help only)."""
    r = sub.add_parser(
        "verify",
        help="train candidates for real and record the measurements",
        description="Train candidates for real (NB-201 network and recipe) and record the measurements.",
    )
    r.set_defaults(func=_cmd_verify)
    config_option(r, "VerifyConfig fields with a train: section (TrainConfig fields), plus archs")
    if not full:
        return
    from ..training.config import TrainConfig, VerifyConfig

    r.add_argument("--archs", help="CSV with an arch column (and optionally predicted); required")
    model_options(r, VerifyConfig, VERIFY_FLAGS, flags={"out_dir": "--out"})
    model_options(r, TrainConfig, TRAIN_FLAGS, defaults={"device": "auto"})
    r.add_argument("--address", help="Ray cluster address (e.g. auto)")
    r.add_argument("--workers", type=int, help="local process-pool workers")
