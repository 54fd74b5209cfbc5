"""The method contract on every registered model: a search's masks sit on the layers they name, and
the mask a method returns covers the given layers with their shapes (small widths: seconds)."""

import pytest
import torch

from lottery_lab import data as data_lib
from lottery_lab import masks, methods, models

SHAPE = (3, 8, 8)
WIDTHS = {"mlp": 0.1, "resnet20": 0.25}
CASES = [(name, {}) for name in methods.names()] + [
    ("cs", {"carry": "reset", "layers": "all"}),   # the supports of this project's earlier variant
    ("cs", {"layers": "all"}),
]


def _layer(key: str, mask) -> str | None:
    """The layer a search-mask entry names: its name after the first component, '/' read as '.'."""
    rest = key.split(".", 1)[1] if "." in key else key
    for candidate in (rest, rest.replace("/", ".")):
        if candidate in mask:
            return candidate
    return None


@pytest.mark.parametrize("model_name", models.names())
@pytest.mark.parametrize("method_name, kw", CASES, ids=[f"{n}-{'-'.join(kw.values()) or 'default'}" for n, kw in CASES])
def test_search_masks_sit_on_the_layers_they_name(model_name, method_name, kw):
    torch.manual_seed(0)
    model = models.get(model_name, input_shape=SHAPE, num_classes=3, width=WIDTHS.get(model_name, 0.125))
    g = torch.Generator().manual_seed(1)
    # a different random mask on every layer, so an entry paired with the wrong layer shows
    mask = {n: torch.rand(m.shape, generator=g) < 0.7 for n, m in masks.ones_like(model).items()}
    masks.apply(model, mask)
    X, y = torch.randn(16, *SHAPE, generator=g), torch.randint(0, 3, (16,), generator=g)
    ds = data_lib.from_tensors(X, y, X, y, name="contract")
    ctx = methods.Context(1, torch.Generator().manual_seed(0), rewind_state=dict(model.state_dict()), data=ds)
    method = methods.get(method_name, **kw)
    search = method.search(model, mask, ctx)
    if search is not None:
        params = dict(search.module.named_parameters())
        for key, m in search.masks.items():
            assert key in params and params[key].shape == m.shape, key
            layer = _layer(key, mask)
            assert layer is not None, f"{key} names no layer of the mask"
            assert torch.equal(m.bool(), mask[layer]), f"{key} carries another layer's mask"
        masks.apply(search.module, search.masks)
        assert search.module(X).shape == (16, 3)
    new = method.prune(model, mask, ctx, search)
    assert set(new) == set(mask)
    for n, m in new.items():
        assert m.dtype == torch.bool and m.shape == mask[n].shape, n
        if not method.revives:
            assert not (m & ~mask[n]).any(), n
    scores = method.scores(search)
    for n, s in (scores or {}).items():
        assert n in mask and s.shape == mask[n].shape, n
