"""Count the aten ops a piece of code dispatches and the ones that would stall a GPU (host–device syncs).

On the CPU nothing waits for a device, but the same calls are made: every ``.item()``, ``float()``,
``int()`` or ``bool()`` of a tensor dispatches ``aten._local_scalar_dense``; an op whose output size
depends on the data (``nonzero``, boolean-mask indexing, ``masked_select``, ``unique``) must read it
back; a tensor made from Python data (``torch.tensor``, ``torch.as_tensor`` of numbers) is a
host-to-device copy once the run is on a GPU; and a copy between two devices is a transfer. Counting
them on the CPU is therefore a faithful stand-in for ``torch.cuda.set_sync_debug_mode`` (which needs
CUDA), and :class:`CountingMode` is what the benchmarks and the no-sync test both use. Count on the
CPU: ``torch.tensor(data, device=...)`` builds its tensor below the dispatcher, so with a device
other than the CPU the copy it makes is not seen (on the CPU it shows as ``lift_fresh``).

Example
-------
>>> import torch
>>> with CountingMode() as c:
...     x = torch.ones(3).sum()
...     _ = float(x)
>>> c.syncs["item"], c.n_ops
(1, 3)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["CountingMode", "sync_kind"]

_aten = torch.ops.aten

#: ops whose output shape depends on the values: the host must read the result back
_DATA_DEPENDENT = {
    _aten.nonzero.default, _aten.masked_select.default, _aten._unique2.default, _aten.unique_dim.default,
    _aten.unique_consecutive.default, _aten.nonzero_static.default,
}
_COPIES = {_aten._to_copy.default, _aten.copy_.default}


def _device(x: Any) -> torch.device | None:
    return x.device if isinstance(x, torch.Tensor) else None


def sync_kind(func: Any, args: tuple, kwargs: dict) -> str | None:
    """The kind of host–device synchronisation ``func(*args, **kwargs)`` makes on a GPU, or ``None``."""
    if func is _aten._local_scalar_dense.default:
        return "item"
    if func in _DATA_DEPENDENT:
        return "data-dependent shape"
    if func is _aten.repeat_interleave.Tensor and kwargs.get("output_size") is None:
        return "data-dependent shape"
    if func in (_aten.index.Tensor, _aten.index_put.default, _aten.index_put_.default):
        indices = args[1] if len(args) > 1 else ()
        if any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices):
            return "boolean mask"
    if func is _aten.lift_fresh.default:
        return "tensor from host data"
    if func in _COPIES:
        if func is _aten._to_copy.default:
            src, dst = _device(args[0]), kwargs.get("device")
        else:
            dst, src = _device(args[0]), _device(args[1])
        if src is not None and dst is not None and torch.device(dst).type != src.type:
            return f"copy {src.type}->{torch.device(dst).type}"
    return None


class CountingMode(TorchDispatchMode):
    """Counts every dispatched aten op (``ops``, by name) and every syncing one (``syncs``, by kind).

    Ops are counted below autograd, so a backward pass's ops are included; Python scalars folded
    into an op's arguments are not tensors and cost nothing here. ``tolist()``/``numpy()`` of a CPU
    tensor count as ``"item"`` read-backs (they dispatch nothing).
    """

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()
        self.syncs: Counter[str] = Counter()
        self.sync_ops: Counter[str] = Counter()

    @property
    def n_ops(self) -> int:
        """All dispatched aten ops."""
        return sum(self.ops.values())

    @property
    def n_syncs(self) -> int:
        """All syncing ops."""
        return sum(self.syncs.values())

    def __enter__(self) -> "CountingMode":
        # ``tolist()`` and ``numpy()`` read a CPU tensor's memory without dispatching any op (on a GPU
        # they dispatch a device-to-host copy): count them by wrapping them while the mode is active
        self._patched = {}
        for attr in ("tolist", "numpy"):
            original = getattr(torch.Tensor, attr)
            self._patched[attr] = original

            def counted(t: torch.Tensor, *a: Any, _original: Any = original, _attr: str = attr, **kw: Any) -> Any:
                if t.device.type == "cpu":
                    self.syncs["item"] += 1
                    self.sync_ops[_attr] += 1
                return _original(t, *a, **kw)

            setattr(torch.Tensor, attr, counted)
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        for attr, original in self._patched.items():
            setattr(torch.Tensor, attr, original)
        super().__exit__(*exc)

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = str(func.overloadpacket.__name__)
        self.ops[name] += 1
        kind = sync_kind(func, args, kwargs)
        if kind is not None:
            self.syncs[kind] += 1
            self.sync_ops[name] += 1
        return func(*args, **kwargs)
