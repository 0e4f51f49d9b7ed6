"""Image datasets for real training, held in memory as tensors.

Registered names (``DATASETS``): ``digits`` (scikit-learn's built-in 8x8 handwritten digits: a small
real dataset that trains on CPU in seconds), ``cifar10``, ``cifar100`` and ``ImageNet16-120``.
Nothing is ever downloaded here: a missing data root raises :class:`DataError` naming the path
and saying how to get the files.

On-disk layouts read from ``data_root``:

- CIFAR-10: ``cifar-10-batches-bin/`` (the official *binary* version: read directly, no pickle, no
  extra dependency) or ``cifar-10-batches-py/`` (the python version, read through torchvision when
  it is installed: ``pip install 'surrogate-nas[vision]'``).
- CIFAR-100: ``cifar-100-binary/`` or ``cifar-100-python/`` (same rule).
- ImageNet16-120: ``ImageNet16-120/train.npz`` + ``ImageNet16-120/val.npz`` (arrays ``x``: N x 16 x 16 x 3
  uint8 and ``y``: N labels 0..119, loaded with ``allow_pickle=False``) or class folders
  ``ImageNet16-120/{train,val}/<class>/*.png`` (read with Pillow, classes in sorted order).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

import numpy as np
import torch

from ..errors import DataError, SurrogateNASError
from ..registry import Registry

__all__ = ["ImageData", "DATASETS", "load_dataset", "check_dataset", "dataset_names", "iterate_batches"]


@dataclass(frozen=True, eq=False)
class ImageData:
    """Train and held-out test split of an image classification dataset, NCHW tensors.

    Images are stored raw (uint8 0-255, or float with maximum ``scale``); batches come out as
    float32 in [0, 1], augmented (train only, when ``augment``) and normalised with ``mean``/``std``.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale: float = 255.0
    augment: bool = False
    crop_padding: int = 4

    @property
    def in_channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.train_x.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self.train_x.shape[0])

    def split_valid(self, fraction: float, seed: int) -> ImageData:
        """Carve a held-out validation split of ``fraction`` of train (stratified, seeded).

        The returned data's *test* split is that validation split; the original test set is untouched.
        """
        if not 0.0 < fraction < 1.0:
            raise SurrogateNASError(f"valid fraction must be in (0, 1), got {fraction!r}")
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(self))
        tr, va = train_test_split(idx, test_size=fraction, random_state=int(seed), stratify=self.train_y.numpy())
        tr, va = torch.as_tensor(np.sort(tr)), torch.as_tensor(np.sort(va))
        return replace(
            self,
            name=f"{self.name}-valid",
            train_x=self.train_x[tr],
            train_y=self.train_y[tr],
            test_x=self.train_x[va],
            test_y=self.train_y[va],
        )

    # ------------------------------------------------------------------ batches
    def prepare(self, x: torch.Tensor, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Raw images -> normalised float32 on ``device``; augmented when ``generator`` is given."""
        x = x.to(device=device, dtype=torch.float32, non_blocking=True) / self.scale
        if generator is not None and self.augment:
            x = _random_crop_flip(x, self.crop_padding, generator)
        mean = torch.tensor(self.mean, device=device, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=device, dtype=torch.float32).view(1, -1, 1, 1)
        return (x - mean) / std


def _random_crop_flip(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """torchvision's RandomCrop(size, padding) + RandomHorizontalFlip on a batch (zero padding).

    Random draws come from the CPU ``generator``; the crop itself is one gather on ``x``'s device.
    """
    n, c, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator).to(x.device)
    flips = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, 0:1] + torch.arange(h, device=x.device)  # n x h
    cols = offsets[:, 1:2] + torch.arange(w, device=x.device)  # n x w
    cols = torch.where(flips[:, None], cols.flip(-1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def iterate_batches(
    n: int, batch_size: int, generator: torch.Generator | None = None, drop_last: bool = False
) -> Iterator[torch.Tensor]:
    """Index batches over ``range(n)``: shuffled with ``generator``, in order without it."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


# ---------------------------------------------------------------------- registry
DATASETS: Registry[ImageData] = Registry("dataset", ImageData)


def dataset_names() -> list[str]:
    return DATASETS.names()


def load_dataset(name: str | ImageData, data_root: str | os.PathLike | None = None, **kwargs) -> ImageData:
    """Load a registered dataset (an :class:`ImageData` passes straight through).

    Raises SurrogateNASError for an unknown name and DataError for a missing/malformed data root.
    """
    if isinstance(name, ImageData):
        return name
    if isinstance(name, str) and name not in DATASETS:
        # case-insensitive convenience: "imagenet16-120", "CIFAR10"
        lowered = {n.lower(): n for n in DATASETS.names()}
        name = lowered.get(name.lower(), name)
    return DATASETS.get(name, data_root=data_root, **kwargs)


def check_dataset(name: str, data_root: str | os.PathLike | None = None) -> str:
    """Cheap check (no loading) that ``name`` is a registered dataset whose files are under ``data_root``.

    Returns the registered name; raises like :func:`load_dataset` would.
    """
    if isinstance(name, str) and name not in DATASETS:
        name = {n.lower(): n for n in DATASETS.names()}.get(name.lower(), name)
    if not isinstance(name, str) or name not in DATASETS:
        DATASETS.get(name)  # raises the registry's "unknown dataset ...; choose one of ..." error
    if name in _CIFAR:
        spec = _CIFAR[name]
        root = _need_root(data_root, name, _cifar_how(spec))
        has_bin = (root / spec["bin_dir"]).is_dir() or all((root / f).is_file() for f in spec["train"] + spec["test"])
        if not has_bin and not (root / spec["py_dir"]).is_dir():
            raise DataError(f"{name} not found under data root {str(root)!r}: {_cifar_how(spec)}")
        if has_bin:
            base = root / spec["bin_dir"] if (root / spec["bin_dir"]).is_dir() else root
            record = spec["label_bytes"] + 3 * 32 * 32
            for f in spec["train"] + spec["test"]:
                _check_cifar_file(base / f, record)
        if not has_bin and _torchvision() is None:
            raise DataError(
                f"found {str(root / spec['py_dir'])!r} (the python/pickle version) but torchvision is not "
                f"importable; install 'surrogate-nas[vision]' or use the binary version: {_cifar_how(spec)}"
            )
    elif name == "ImageNet16-120":
        root = _need_root(data_root, name, _IN16_HOW)
        base = root / "ImageNet16-120" if (root / "ImageNet16-120").is_dir() else root
        if not ((base / "train.npz").is_file() or (base / "train").is_dir()):
            raise DataError(f"ImageNet16-120 not found under data root {str(root)!r}; {_IN16_HOW}")
        if (base / "train.npz").is_file():
            for split in ("train", "val"):
                with _open_npz(base / f"{split}.npz"):  # reads the archive's directory only
                    pass
    return name


def _check_cifar_file(f: Path, record: int) -> None:
    """Cheap check (size only) that ``f`` can be a CIFAR binary batch of ``record``-byte records."""
    if not f.is_file():
        raise DataError(f"CIFAR binary batch {str(f)!r} is missing")
    size = f.stat().st_size
    if size == 0 or size % record:
        raise DataError(f"{str(f)!r} is not a CIFAR binary batch ({size} bytes, records of {record})")


def _open_npz(path: Path):
    """``np.load`` of an ImageNet16-120 split (no pickles), checked to hold arrays ``x`` and ``y``."""
    import zipfile

    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{str(path)!r} is missing; {_IN16_HOW}") from None
    except ValueError:  # numpy would have to unpickle it: never done here
        raise DataError(
            f"{str(path)!r} is not a .npz archive of arrays (it is not even a zip file); {_IN16_HOW}"
        ) from None
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{str(path)!r} is not a readable .npz archive ({e}); {_IN16_HOW}") from None
    if not hasattr(z, "files") or "x" not in z.files or "y" not in z.files:
        if hasattr(z, "close"):
            z.close()
        raise DataError(f"{str(path)!r} lacks arrays 'x' and 'y'; {_IN16_HOW}")
    return z


def _need_root(data_root, dataset: str, how: str) -> Path:
    if data_root is None:
        raise DataError(f"dataset {dataset!r} needs a data root (--data-root DIR); {how}")
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DataError(f"data root {str(root)!r} for dataset {dataset!r} does not exist or is not a directory; {how}")
    return root


def _torchvision():
    try:
        import torchvision  # noqa: F401
        from torchvision import datasets
    except Exception:  # not installed, or built against another torch
        return None
    return datasets


# ---------------------------------------------------------------------- digits
@DATASETS.register("digits")
def _digits(data_root=None, test_fraction: float = 0.25, seed: int = 0, upsample: int = 1) -> ImageData:
    """scikit-learn's 1,797 8x8 grey digits (10 classes), stratified split with an explicit seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.float32)[:, None]  # N x 1 x 8 x 8, values 0..16
    y = d.target.astype(np.int64)
    if upsample > 1:
        x = x.repeat(upsample, axis=2).repeat(upsample, axis=3)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=int(seed), stratify=y)
    mean = float(xtr.mean() / 16.0)
    std = float(xtr.std() / 16.0)
    return ImageData(
        "digits",
        torch.from_numpy(xtr),
        torch.from_numpy(ytr),
        torch.from_numpy(xte),
        torch.from_numpy(yte),
        num_classes=10,
        mean=(mean,),
        std=(std,),
        scale=16.0,
        augment=False,
    )


# ---------------------------------------------------------------------- CIFAR
class _CifarSpec(TypedDict):
    classes: int
    bin_dir: str
    py_dir: str
    label_bytes: int
    train: list[str]
    test: list[str]
    url: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    tv: str  # the torchvision dataset class


_CIFAR: dict[str, _CifarSpec] = {
    "cifar10": _CifarSpec(
        classes=10,
        bin_dir="cifar-10-batches-bin",
        py_dir="cifar-10-batches-py",
        label_bytes=1,
        train=[f"data_batch_{i}.bin" for i in range(1, 6)],
        test=["test_batch.bin"],
        url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        mean=(125.3, 123.0, 113.9),
        std=(63.0, 62.1, 66.7),
        tv="CIFAR10",
    ),
    "cifar100": _CifarSpec(
        classes=100,
        bin_dir="cifar-100-binary",
        py_dir="cifar-100-python",
        label_bytes=2,
        train=["train.bin"],
        test=["test.bin"],
        url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        mean=(129.3, 124.1, 112.4),
        std=(68.2, 65.4, 70.4),
        tv="CIFAR100",
    ),
}


def _cifar_how(spec) -> str:
    return (
        f"download the binary version from {spec['url']} and extract it so that "
        f"DIR/{spec['bin_dir']}/ exists (or put torchvision's DIR/{spec['py_dir']}/ there and install "
        f"'surrogate-nas[vision]')"
    )


def _read_cifar_bin(files: list[Path], label_bytes: int) -> tuple[torch.Tensor, torch.Tensor]:
    record = label_bytes + 3 * 32 * 32
    xs, ys = [], []
    for f in files:
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise DataError(f"{str(f)!r} is not a CIFAR binary batch ({raw.size} bytes, records of {record})")
        raw = raw.reshape(-1, record)
        ys.append(raw[:, label_bytes - 1].astype(np.int64))  # CIFAR-100: (coarse, fine) -> fine
        xs.append(raw[:, label_bytes:].reshape(-1, 3, 32, 32))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def _cifar(name: str, data_root) -> ImageData:
    spec = _CIFAR[name]
    how = _cifar_how(spec)
    root = _need_root(data_root, name, how)
    for cand in (root / spec["bin_dir"], root):
        if all((cand / f).is_file() for f in spec["train"] + spec["test"]):
            xtr, ytr = _read_cifar_bin([cand / f for f in spec["train"]], spec["label_bytes"])
            xte, yte = _read_cifar_bin([cand / f for f in spec["test"]], spec["label_bytes"])
            break
    else:
        if (root / spec["py_dir"]).is_dir():
            tv = _torchvision()
            if tv is None:
                raise DataError(
                    f"found {str(root / spec['py_dir'])!r} (the python/pickle version) but torchvision is not "
                    f"importable; install 'surrogate-nas[vision]' or use the binary version: {how}"
                )
            cls = getattr(tv, spec["tv"])
            tr, te = cls(str(root), train=True, download=False), cls(str(root), train=False, download=False)
            xtr, ytr = torch.from_numpy(tr.data).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(tr.targets)
            xte, yte = torch.from_numpy(te.data).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(te.targets)
        else:
            raise DataError(f"{name} not found under data root {str(root)!r}: {how}")
    return ImageData(
        name,
        xtr,
        ytr.long(),
        xte,
        yte.long(),
        num_classes=spec["classes"],
        mean=tuple(m / 255 for m in spec["mean"]),
        std=tuple(s / 255 for s in spec["std"]),
        scale=255.0,
        augment=True,
        crop_padding=4,
    )


@DATASETS.register("cifar10")
def _cifar10(data_root=None) -> ImageData:
    return _cifar("cifar10", data_root)


@DATASETS.register("cifar100")
def _cifar100(data_root=None) -> ImageData:
    return _cifar("cifar100", data_root)


# ---------------------------------------------------------------------- ImageNet16-120
_IN16_HOW = (
    "create DIR/ImageNet16-120/ with train.npz and val.npz (arrays x: N x 16 x 16 x 3 uint8, y: labels 0..119) "
    "or class folders train/<class>/*.png and val/<class>/*.png (convert the NB-201 ImageNet16 release, "
    "https://github.com/D-X-Y/NAS-Bench-201, keeping labels 1..120 as classes 0..119)"
)


def _read_folder(split_dir: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    xs, ys = [], []
    for label, cls in enumerate(classes):
        for f in sorted((split_dir / cls).iterdir()):
            if f.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"}:
                with Image.open(f) as im:
                    xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
                ys.append(label)
    if not xs:
        raise DataError(f"no images under {str(split_dir)!r}; {_IN16_HOW}")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


@DATASETS.register("ImageNet16-120")
def _imagenet16(data_root=None) -> ImageData:
    root = _need_root(data_root, "ImageNet16-120", _IN16_HOW)
    base = root / "ImageNet16-120" if (root / "ImageNet16-120").is_dir() else root
    arrays = {}
    if (base / "train.npz").is_file() and (base / "val.npz").is_file():
        for split in ("train", "val"):
            with _open_npz(base / f"{split}.npz") as z:
                try:
                    arrays[split] = (np.asarray(z["x"], dtype=np.uint8), np.asarray(z["y"], dtype=np.int64))
                except (ValueError, OSError) as e:  # object arrays (pickles are refused), corrupt members
                    raise DataError(
                        f"{str(base / f'{split}.npz')!r}: cannot read arrays 'x'/'y' ({e}); {_IN16_HOW}"
                    ) from None
    elif (base / "train").is_dir() and (base / "val").is_dir():
        classes = sorted(p.name for p in (base / "train").iterdir() if p.is_dir())
        for split in ("train", "val"):
            arrays[split] = _read_folder(base / split, classes)
    else:
        raise DataError(f"ImageNet16-120 not found under data root {str(root)!r}; {_IN16_HOW}")
    out = []
    for split in ("train", "val"):
        x, y = arrays[split]
        if x.ndim != 4 or x.shape[1:] != (16, 16, 3):
            raise DataError(f"ImageNet16-120 {split} images have shape {x.shape[1:]}, expected (16, 16, 3)")
        if y.min() < 0 or y.max() >= 120:
            raise DataError(f"ImageNet16-120 {split} labels span {y.min()}..{y.max()}, expected 0..119")
        out += [torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)]
    train_x, train_y, test_x, test_y = out
    return ImageData(
        "ImageNet16-120",
        train_x,
        train_y,
        test_x,
        test_y,
        num_classes=120,
        mean=tuple(m / 255 for m in (122.68, 116.66, 104.01)),
        std=tuple(s / 255 for s in (63.22, 61.26, 65.09)),
        scale=255.0,
        augment=True,
        crop_padding=2,
    )
