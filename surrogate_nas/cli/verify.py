"""`verify`: train candidates for real and record the measurements."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..typed import Int, TypedConfig
from .common import print_frame
from .options import Given, Group, add_options, command

#: The VerifyConfig fields that are verify flags (generated from the model; ``out_dir`` is ``--out``).
VERIFY_FLAGS = ("space", "dataset", "data_root", "seeds", "backend", "top_k", "append_to", "out_dir")
#: The TrainConfig fields that are verify flags.
TRAIN_FLAGS = ("epochs", "batch_size", "lr", "C", "N", "device", "precision", "channels_last", "compile")


class VerifyRun(TypedConfig):
    """The candidates and where the runs execute (``address``, ``workers``: the backend's options)."""

    what: ClassVar[str] = "verify"

    archs: str = Field(description="CSV with an arch column (and optionally predicted, rank)")
    address: str | None = Field(None, description="Ray cluster address (e.g. auto)")
    workers: Int | None = Field(None, ge=1, le=4096, description="local process-pool workers")


def _cmd_verify(given: Given) -> int:
    from ..training import verify

    args = given.build("run")
    opts = given.values["verify"].get("backend_options", {})
    opts = {
        **(opts if isinstance(opts, dict) else {}),
        **({"address": args.address} if args.address else {}),
        **({"workers": args.workers} if args.workers is not None else {}),
    }
    cfg = given.build("verify", train=given.build("train"), backend_options=opts)
    res = verify(args.archs, cfg)
    ok = int((res["status"] == "ok").sum()) if "status" in res else len(res)
    print(f"verified {len(res)} run(s), {ok} ok -> {cfg.out_dir}")
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
    r = command(sub, "verify", ABOUT, _cmd_verify)
    if not full:
        return
    from ..training.config import TrainConfig, VerifyConfig

    groups = [
        Group("run", VerifyRun, ("archs", "address", "workers"), required=("archs",)),
        Group("verify", VerifyConfig, VERIFY_FLAGS, rename={"out_dir": "--out"}),
        Group("train", TrainConfig, TRAIN_FLAGS, section="train", defaults={"device": "auto"}),
    ]
    add_options(r, groups, "VerifyConfig fields with a train: section (TrainConfig fields), and archs")


ABOUT = (
    "train candidates for real and record the measurements",
    "Train candidates for real (NB-201 network and recipe) and record the measurements.",
)
