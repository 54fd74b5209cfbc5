"""Atomic file writes (torch-free, so the convex lab and the plots can use them too).

A file is written to a temp file in the destination folder and renamed over the destination with
``os.replace``: a reader, or a rerun after a killed process, sees the old file or the new one, never
a part of one. Files get the mode an ``open()`` would give them (``0o666`` less the umask), not the
``0o600`` of :func:`tempfile.mkstemp`, so a group can share a run folder when its umask says so.
"""

from __future__ import annotations

import io
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "save_figure"]


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux ``/proc``)."""
    with suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and set it back at once
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def save_figure(fig: Any, path: str | os.PathLike, **savefig_kw: Any) -> Path:
    """Save a matplotlib figure atomically (``savefig`` into memory, then :func:`atomic_write`).

    The format follows ``path``'s suffix unless ``format=`` is given; returns the path.
    """
    path = Path(path)
    buf = io.BytesIO()
    savefig_kw.setdefault("format", path.suffix.lstrip(".").lower() or "png")
    fig.savefig(buf, **savefig_kw)
    atomic_write(path, buf.getvalue())
    return path
