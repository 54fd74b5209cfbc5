"""Model registry: the networks of the lottery-ticket literature, shaped by the dataset.

``get(name, input_shape=..., num_classes=...)`` builds a freshly initialised model (Kaiming-normal
weights, zero biases, BatchNorm at 1/0); seed it by seeding torch before the call.

- ``mlp``: LeNet-300-100 (flatten → 300 → 100 → classes, ReLU).
- ``conv2``/``conv4``/``conv6``: Frankle & Carbin (2019): blocks of two 3x3 convs (64 | 128 | 256
  channels) each followed by 2x2 max-pool, then FC 256 → 256 → classes.
- ``resnet20``: He et al. (2016) CIFAR ResNet-20, 16/32/64 channels, BatchNorm, option-A shortcuts
  (identity; stride-2 subsampling and zero-padded channels where the shape changes: no parameters).
- ``vgg11``/``vgg16``: CIFAR VGG with BatchNorm after every conv, global average pool, one FC layer.

Small inputs (e.g. 8x8 digits) keep as many 2x2 pools as fit: a pool is skipped once the feature map
is 1 pixel wide. ``width`` multiplies every hidden size (channels, or units for ``mlp``).
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable

from lottery_lab._registry import Registry
from lottery_lab._validation import Interval, ListOf, check_keywords, invalid, validate
import torch
from torch import nn
import torch.nn.functional as F


def register(name: str, builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Make ``builder(input_shape, num_classes, **options)`` available as ``models.get(name, ...)``."""
    return _REGISTRY.register(name, builder)


def unregister(name: str) -> Callable[..., nn.Module]:
    """Remove model ``name``; returns its builder."""
    return _REGISTRY.unregister(name)


def names() -> list[str]:
    """Registered model names."""
    return list(_REGISTRY)


def get(name: str, *, input_shape: tuple[int, ...], num_classes: int, **kw) -> nn.Module:
    """Build model ``name`` for inputs of ``input_shape`` ((C, H, W) or flat (D,)) and ``num_classes``.

    Unknown options raise TypeError (as the builder's call would), bad values ValueError."""
    check_options(name, kw)
    validate("input_shape", input_shape, _SHAPE)
    if not input_shape:
        raise invalid("input_shape", input_shape, "a non-empty tuple of integers >= 1")
    validate("num_classes", num_classes, Interval(numbers.Integral, 2))
    model = _REGISTRY.get(name)(tuple(int(s) for s in input_shape), int(num_classes), **kw)
    _kaiming_init(model)
    return model


#: a non-empty tuple (or list) of positive sizes
_SHAPE = ListOf(Interval(numbers.Integral, 1))


def check_options(name: str, kw: dict) -> None:
    """Check model ``name``'s options ``kw`` before any data is loaded: ValueError for an unknown
    model or a bad ``width``, TypeError for an option the builder does not take."""
    builder = _REGISTRY.get(name)
    allowed = [p for p in inspect.signature(builder).parameters if p not in ("input_shape", "num_classes")]
    check_keywords(f"model {name!r}", kw, allowed, noun="option")
    if "width" in kw:
        validate("width", kw["width"], Interval(float, 0, None, closed="neither"))


def _kaiming_init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _scaled(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


def _image_shape(name: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"model {name!r} needs image input_shape (C, H, W), got input_shape={input_shape!r}; "
                         f"use 'mlp' for flat features")
    return input_shape  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------- MLP

def _mlp(input_shape, num_classes, width: float = 1.0, hidden: tuple[int, ...] = (300, 100)) -> nn.Module:
    dims = [math.prod(input_shape)] + [_scaled(h, width) for h in hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(dims[-1], num_classes))
    return nn.Sequential(*layers)


# -------------------------------------------------------------------------------- Conv-2/4/6 and VGG

def _conv_stack(name: str, input_shape, plan: list, batch_norm: bool) -> tuple[nn.Sequential, int, int]:
    """Convs (int = out channels) and pools ("M"); pools stop once the map is 1 pixel wide."""
    c, h, w = _image_shape(name, input_shape)
    layers: list[nn.Module] = []
    for item in plan:
        if item == "M":
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            continue
        layers.append(nn.Conv2d(c, item, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        c = item
    return nn.Sequential(*layers), c, h * w


def _convnet(blocks: int) -> Callable[..., nn.Module]:
    def build(input_shape, num_classes, width: float = 1.0) -> nn.Module:
        plan: list = []
        for b in range(blocks):
            ch = _scaled(64 * 2 ** b, width)
            plan += [ch, ch, "M"]
        features, c, hw = _conv_stack(f"conv{2 * blocks}", input_shape, plan, batch_norm=False)
        fc = _scaled(256, width)
        return nn.Sequential(features, nn.Flatten(),
                             nn.Linear(c * hw, fc), nn.ReLU(inplace=True),
                             nn.Linear(fc, fc), nn.ReLU(inplace=True),
                             nn.Linear(fc, num_classes))
    return build


_VGG_PLANS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
}


def _vgg(name: str) -> Callable[..., nn.Module]:
    def build(input_shape, num_classes, width: float = 1.0) -> nn.Module:
        plan = [p if p == "M" else _scaled(p, width) for p in _VGG_PLANS[name]]
        features, c, _ = _conv_stack(name, input_shape, plan, batch_norm=True)
        return nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
    return build


# ---------------------------------------------------------------------------------------- ResNet-20

class _Block(nn.Module):
    """Basic residual block with an option-A shortcut (subsample + zero-pad channels, no parameters)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride, self.extra = stride, c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.extra:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return F.relu(out + shortcut)


class ResNetCifar(nn.Module):
    """CIFAR ResNet-(6n+2): a 3x3 stem, three stages of n blocks, global average pool, one FC."""

    def __init__(self, input_shape, num_classes: int, depth: int = 20, width: float = 1.0):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth={depth!r} must be 6n + 2 (20, 32, 44, 56, 110)")
        c, _, _ = _image_shape("resnet20", input_shape)
        n = (depth - 2) // 6
        chans = [_scaled(16 * 2 ** s, width) for s in range(3)]
        self.conv = nn.Conv2d(c, chans[0], 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(chans[0])
        blocks, c_in = [], chans[0]
        for s, c_out in enumerate(chans):
            for i in range(n):
                blocks.append(_Block(c_in, c_out, stride=2 if s > 0 and i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


_REGISTRY: Registry[Callable[..., nn.Module]] = Registry("model", group="lottery_lab.models")
for _name, _builder in {
    "mlp": _mlp,
    "conv2": _convnet(1),
    "conv4": _convnet(2),
    "conv6": _convnet(3),
    "resnet20": lambda input_shape, num_classes, width=1.0: ResNetCifar(input_shape, num_classes, 20, width),
    "vgg11": _vgg("vgg11"),
    "vgg16": _vgg("vgg16"),
}.items():
    _REGISTRY.register(_name, _builder)
