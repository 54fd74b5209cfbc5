"""A method, a model and a dataset written as one outside file each, found through entry points
(nothing in lottery_lab edited), played through ``lottery.play`` and ``compare.compare``."""

import sys
import textwrap

import pytest
import torch

from lottery_lab import compare, data, methods, models, penalties
from lottery_lab._registry import Registry
from lottery_lab.lottery import LotteryConfig, play

PLUGIN = '''
import torch
from torch import nn

from lottery_lab import methods
from lottery_lab.data import Dataset


@methods.register
class Halve(methods.Method):
    """Remove half of the surviving weights with the smallest magnitude, globally."""
    name = "plugin_halve"

    def __init__(self, fraction: float = 0.5):
        self.fraction = fraction

    def prune(self, model, mask, ctx, search=None):
        params = dict(model.named_parameters())
        return methods.base.prune_lowest({n: params[n].abs() for n in mask}, mask, self.fraction)


def tinynet(input_shape, num_classes, hidden: int = 16):
    d = 1
    for s in input_shape:
        d *= s
    return nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def blobs(root, download, seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 8, generator=g) * 3
    y = torch.randint(0, 3, (400,), generator=g)
    X = centres[y] + torch.randn(400, 8, generator=g)
    return Dataset("plugin_blobs", X[:300], y[:300], X[300:], y[300:], 3, (8,))
'''

ENTRY_POINTS = '''
[lottery_lab.methods]
halve = plugin_lottery_ext
[lottery_lab.models]
plugin_tinynet = plugin_lottery_ext:tinynet
[lottery_lab.datasets]
plugin_blobs = plugin_lottery_ext:blobs
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "plugin_lottery_ext.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "plugin_lottery_ext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-lottery-ext\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for registry, name in ((methods, "plugin_halve"), (models, "plugin_tinynet"), (data, "plugin_blobs")):
        if name in registry.names():
            registry.unregister(name)
    sys.modules.pop("plugin_lottery_ext", None)


def _n_weights():
    # the plug-in model's parameters, counted here: 8*16 + 16 + 16*3 + 3
    return 8 * 16 + 16 + 16 * 3 + 3


def test_an_outside_method_model_and_dataset_are_found_and_played(plugin):
    assert "plugin_halve" in methods.names()
    assert "plugin_tinynet" in models.names()
    assert "plugin_blobs" in data.names()
    ds = data.get("plugin_blobs")
    assert ds.X_train.shape == (300, 8) and ds.num_classes == 3
    net = models.get("plugin_tinynet", input_shape=(8,), num_classes=3, hidden=5)
    assert net(torch.zeros(2, 8)).shape == (2, 3)

    config = LotteryConfig(method="plugin_halve", model="plugin_tinynet", data="plugin_blobs", rounds=2,
                           epochs=1, batch_size=32, out_dir=None, progress=False, device="cpu")
    result = play(config)
    densities = [r["density"] for r in result.rows]
    assert densities[0] == 1.0
    # each round keeps half of the survivors (of the prunable weights); within one weight of 1/2, 1/4
    assert all(0 < b < a for a, b in zip(densities, densities[1:]))
    assert abs(densities[2] / densities[1] - 0.5) < 0.05


def test_compare_plays_an_outside_method_to_every_target(plugin):
    targets = (0.6, 0.3, 0.15)
    result = compare.compare(["plugin_halve"], targets=targets, seeds=(0,), out_dir=None, data="plugin_blobs",
                             model="plugin_tinynet", epochs=1, device="cpu", progress=False)
    densities = [r["density"] for r in result.runs[0]["rows"]]
    assert min(densities) <= min(targets)
    # every target is reached by some round (halving: 1, .5, .25, .125 land in every log-nearest bin)
    assert sorted({r["target"] for r in result.rows}, reverse=True) == list(targets)


def test_unknown_names_and_unregister():
    with pytest.raises(ValueError, match="nope"):
        methods.get("nope")
    reg = Registry("widget", group="lottery_lab.no_such_group")
    reg.register("a", 1)
    assert reg.names() == ["a"] and reg.get("a") == 1 and "a" in reg
    with pytest.raises(ValueError, match=r"^widget=.b. must be one of the registered widgets: a$"):
        reg.get("b")
    with pytest.raises(TypeError, match="widget=3"):
        reg.get(3)
    assert reg.unregister("a") == 1 and reg.names() == []
    with pytest.raises(ValueError, match="'a'"):
        reg.unregister("a")


def test_penalties_register_and_unregister():
    class Half(penalties.L1):
        name = "plugin_half"
    penalties.register(Half)
    try:
        assert "plugin_half" in penalties.names()
        assert isinstance(penalties.get("PLUGIN_HALF"), Half)
    finally:
        penalties.unregister("plugin_half")
    assert "plugin_half" not in penalties.names()
    with pytest.raises(TypeError, match="cls="):
        penalties.register(int)


def test_a_method_owns_its_recipe_and_compare_reads_it_from_the_registry():
    from lottery_lab.methods.recipe import Recipe

    class OneShot(methods.Method):
        name = "plugin_oneshot"
        recipes = (Recipe(knob="no_such_arg"), Recipe(knob="fraction", complement=True))

        def __init__(self, fraction: float = 0.5):
            self.fraction = fraction

        def prune(self, model, mask, ctx, search=None):
            return dict(mask)

    methods.register(OneShot)
    try:
        assert "plugin_oneshot" in compare.RECIPES
        chosen = compare.recipe_for("plugin_oneshot")  # the first candidate names no argument: skipped
        assert chosen.knob == "fraction" and chosen.kwargs(0.2) == {"fraction": 0.8}
    finally:
        methods.unregister("plugin_oneshot")
    assert "plugin_oneshot" not in compare.RECIPES
    assert set(compare.RECIPES) <= set(methods.names())
