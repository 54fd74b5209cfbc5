"""lottery_lab.models: output shapes, parameter counts against published values, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lottery_lab import models

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", models.names())
@pytest.mark.parametrize("shape", SHAPES)
def test_output_shapes(name, shape):
    torch.manual_seed(0)
    model = models.get(name, input_shape=shape, num_classes=7, width=0.25).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_mlp_takes_flat_features():
    model = models.get("mlp", input_shape=(32,), num_classes=4)
    assert model(torch.randn(3, 32)).shape == (3, 4)


def test_lenet_300_100_parameter_count():
    # 784*300 + 300 + 300*100 + 100 + 100*10 + 10
    assert n_params(models.get("mlp", input_shape=(1, 28, 28), num_classes=10)) == 266_610
    assert n_params(models.get("mlp", input_shape=(784,), num_classes=10)) == 266_610


def test_resnet20_parameter_count():
    # He et al. (2016), Table 6: 0.27M; option-A shortcuts carry no parameters
    model = models.get("resnet20", input_shape=(3, 32, 32), num_classes=10)
    assert n_params(model) == 269_722
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 19


def test_frankle_carbin_conv_counts():
    # 3x3 convs with bias, FC 256-256-10 from the flattened map; Conv-2 and Conv-4 match Frankle &
    # Carbin's (2019) 4.3M and 2.4M on CIFAR-10
    counts = {n: n_params(models.get(n, input_shape=(3, 32, 32), num_classes=10)) for n in ("conv2", "conv4", "conv6")}
    assert counts == {"conv2": 4_301_642, "conv4": 2_425_930, "conv6": 2_262_602}


def test_vgg_has_batchnorm_and_one_fc():
    model = models.get("vgg16", input_shape=(3, 32, 32), num_classes=10)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 512
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 13
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 13
    assert sum(isinstance(m, nn.Conv2d) for m in models.get("vgg11", input_shape=(3, 32, 32),
                                                            num_classes=10).modules()) == 8


def test_small_inputs_keep_the_pools_that_fit():
    model = models.get("conv6", input_shape=(1, 8, 8), num_classes=10)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 3      # 8 -> 4 -> 2 -> 1
    vgg = models.get("vgg11", input_shape=(1, 8, 8), num_classes=10)
    assert sum(isinstance(m, nn.MaxPool2d) for m in vgg.modules()) == 3        # the last pool is skipped


def test_width_multiplier_and_seeded_init():
    wide = models.get("mlp", input_shape=(784,), num_classes=10, width=2.0)
    assert wide[1].out_features == 600 and wide[3].out_features == 200
    torch.manual_seed(1)
    a = models.get("resnet20", input_shape=(3, 32, 32), num_classes=10)
    torch.manual_seed(1)
    b = models.get("resnet20", input_shape=(3, 32, 32), num_classes=10)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    linear = models.get("mlp", input_shape=(784,), num_classes=10)[1]
    assert torch.all(linear.bias == 0) and abs(linear.weight.std().item() - (2 / 784) ** 0.5) < 0.005


@pytest.mark.parametrize("kw, match", [
    ({"name": "resnet50", "input_shape": (3, 32, 32), "num_classes": 10}, "mlp, conv2.*vgg16"),
    ({"name": "conv2", "input_shape": (784,), "num_classes": 10}, r"input_shape=\(784,\)"),
    ({"name": "resnet20", "input_shape": (32, 32), "num_classes": 10}, r"\(C, H, W\)"),
    ({"name": "mlp", "input_shape": (0,), "num_classes": 10}, "input_shape"),
    ({"name": "mlp", "input_shape": (4,), "num_classes": 1}, "num_classes"),
    ({"name": "mlp", "input_shape": (4,), "num_classes": 3, "width": -1}, "width"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        models.get(**kw)


def test_unknown_options_are_type_errors():
    with pytest.raises(TypeError, match=r"model 'vgg11' got unknown option\(s\) depth; it accepts: width"):
        models.get("vgg11", input_shape=(3, 32, 32), num_classes=10, depth=3)
