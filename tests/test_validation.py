"""lottery_lab._validation: each constraint kind against a membership rule written out here, the one
message format, and which exception (TypeError for the wrong kind, ValueError for a bad value)."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field

import numpy as np
import pytest

from lottery_lab._validation import (InstanceOf, Interval, ListOf, Options, check_flag, check_int, check_keywords,
                                     check_lam, check_mask, check_real, describe_value, validate, validate_fields)

NUMBERS = [-math.inf, -2, -1.5, -1, 0, 0.0, 1e-12, 0.5, 1, 1.0, 2, 3.5, math.inf, math.nan]
NOT_NUMBERS = [True, False, np.bool_(True), "1", None, [1], (0.5,), {"a": 1}]


def _inside(x: float, left, right, closed: str) -> bool:
    """Membership written from the definition: NaN is nowhere, an open (None) end excludes ±inf."""
    if x != x:
        return False
    lo = -math.inf if left is None else left
    hi = math.inf if right is None else right
    lo_ok = x >= lo if (closed in ("both", "left") and left is not None) else x > lo
    hi_ok = x <= hi if (closed in ("both", "right") and right is not None) else x < hi
    return lo_ok and hi_ok


@pytest.mark.parametrize("left, right", [(0, 1), (0, None), (None, 0), (None, None), (-1, 2), (1, 1),
                                         (0, math.inf)])
@pytest.mark.parametrize("closed", ["both", "left", "right", "neither"])
def test_interval_membership_matches_the_definition(left, right, closed):
    c = Interval(float, left, right, closed=closed)
    for x in NUMBERS:
        expected = _inside(x, left, right, closed)
        assert c.value_ok(x) is expected, (x, left, right, closed)
        if expected:
            assert validate("x", x, c) is x
        else:
            with pytest.raises(ValueError, match=rf"^x={re.escape(repr(x))} must be "):
                validate("x", x, c)
    for x in NOT_NUMBERS:
        shown = repr(x.item() if isinstance(x, np.generic) else x)  # a numpy scalar shows as its value
        with pytest.raises(TypeError, match=rf"^x={re.escape(shown)} must be .*, got {type(x).__name__}$"):
            validate("x", x, c)


def test_interval_types():
    assert validate("n", 3, Interval(int, 1)) == 3
    with pytest.raises(TypeError, match="n=3.0 must be an integer >= 1, got float"):
        validate("n", 3.0, Interval(int, 1))
    with pytest.raises(TypeError, match="got int64"):  # configs are JSON: plain Python numbers only
        validate("n", np.int64(3), Interval(int, 1))
    assert validate("n", np.int64(3), Interval(numbers.Integral, 1)) == 3
    assert validate("x", np.float32(0.5), Interval(numbers.Real, 0, 1)) == np.float32(0.5)
    with pytest.raises(TypeError, match="got float32"):
        validate("x", np.float32(0.5), Interval(float, 0, 1))
    with pytest.raises(TypeError, match="type="):
        Interval(str, 0, 1)
    with pytest.raises(ValueError, match="closed='open'"):
        Interval(float, 0, 1, closed="open")
    with pytest.raises(ValueError, match="left=2"):
        Interval(float, 2, 1)


@pytest.mark.parametrize("constraint, words", [
    (Interval(int, 1), "an integer >= 1"),
    (Interval(float, 0, None, closed="neither"), "a finite number > 0"),
    (Interval(float, None, 0, closed="right"), "a finite number <= 0"),
    (Interval(float, 0, 1, closed="left"), "a number in [0, 1)"),
    (Interval(float, 0, 1, closed="neither"), "a number in (0, 1)"),
    (Interval(float, 0, 1, closed="right"), "a number in (0, 1]"),
    (Interval(float), "a finite number"),
    (Interval(int), "an integer"),
    (Options(("sgd", "adam")), "one of sgd, adam"),
    (Options({"b", "a"}), "one of a, b"),
    (Options((1, 2), type=int), "one of 1, 2"),
    (InstanceOf(bool), "True or False"),
    (InstanceOf(str, None), "a string or None"),
    (ListOf(Interval(float, 0, 1, closed="neither")), "a list of numbers in (0, 1)"),
    (ListOf(Interval(int, 1)), "a list of integers >= 1"),
])
def test_descriptions(constraint, words):
    assert constraint.describe() == words


def test_options():
    c = Options(("sgd", "adam"))
    assert validate("optimizer", "adam", c) == "adam"
    with pytest.raises(ValueError, match=r"^optimizer='lbfgs' must be one of sgd, adam$"):
        validate("optimizer", "lbfgs", c)
    with pytest.raises(TypeError, match=r"^optimizer=None must be one of sgd, adam, got NoneType$"):
        validate("optimizer", None, c)
    with pytest.raises(TypeError, match="got bool"):  # True == 1, but a flag is not an option of ints
        validate("k", True, Options((1, 2), type=int))
    assert Options((), label="one of the registered widgets: none").describe() == "one of the registered widgets: none"


def test_instance_of_and_flags():
    for v in (True, False):
        assert check_flag("amp", v) is v
    for v in ("false", 0, 1, None, "True"):
        with pytest.raises(TypeError, match=rf"^amp={re.escape(repr(v))} must be True or False, got "):
            check_flag("amp", v)
    assert validate("root", None, [str, None]) is None
    with pytest.raises(TypeError, match=r"^root=3 must be a string or None, got int$"):
        validate("root", 3, [str, None])


def test_list_of():
    c = ListOf(Interval(float, 0, 1, closed="neither"))
    assert validate("milestones", [0.5, 0.75], c) == [0.5, 0.75] and validate("milestones", (), c) == ()
    with pytest.raises(ValueError, match=r"^milestones=\(0.5, 1.5\) must be a list of numbers in \(0, 1\)$"):
        validate("milestones", (0.5, 1.5), c)
    with pytest.raises(ValueError, match="milestones="):
        validate("milestones", (math.nan,), c)
    for bad in (0.5, "0.5", (0.5, "x"), (True,), {0.5}):
        with pytest.raises(TypeError, match="^milestones="):
            validate("milestones", bad, c)


def test_several_constraints_value_error_when_one_takes_the_kind():
    spec = [Interval(int, 1), None]
    assert validate("iterations", None, spec) is None and validate("iterations", 5, spec) == 5
    with pytest.raises(ValueError, match=r"^iterations=0 must be an integer >= 1 or None$"):
        validate("iterations", 0, spec)
    with pytest.raises(TypeError, match=r"^iterations='5' must be an integer >= 1 or None, got str$"):
        validate("iterations", "5", spec)


def test_the_named_checks_convert_and_keep_the_format():
    assert check_int("epochs", 3, 1) == 3 and check_int("iterations", None, 1, none_ok=True) is None
    with pytest.raises(TypeError, match=r"^epochs=True must be an integer >= 1, got bool$"):
        check_int("epochs", True, 1)
    assert type(check_real("lr", 1, 0, None, closed="neither")) is float
    with pytest.raises(ValueError, match=r"^lr=inf must be a finite number > 0$"):
        check_real("lr", math.inf, 0, None, closed="neither")


def test_unknown_keywords_are_type_errors_naming_all_of_them():
    check_keywords("method 'imp'", {"prune_fraction": 0.2}, ["prune_fraction", "scheme"])
    with pytest.raises(TypeError, match=r"^method 'imp' got unknown argument\(s\) a, b; it accepts: prune_fraction$"):
        check_keywords("method 'imp'", {"b": 1, "a": 2, "prune_fraction": 0.2}, ["prune_fraction"])
    with pytest.raises(TypeError, match=r"got unknown option\(s\) x; it accepts: none$"):
        check_keywords("model 'tiny'", ["x"], [], noun="option")


def test_validate_fields_checks_in_declaration_order():
    @dataclass
    class Cfg:
        a: int = field(default=1, metadata={"constraints": Interval(int, 1)})
        b: str = field(default="x", metadata={"constraints": Options(("x", "y"))})
        c: float = 0.0  # no constraints: not checked

        def __post_init__(self):
            validate_fields(self)

    Cfg(c="anything")
    with pytest.raises(ValueError, match="^a=0 "):
        Cfg(a=0, b="z")  # both are wrong: the first field is named
    with pytest.raises(TypeError, match="^b=3 "):
        Cfg(b=3)


def test_arrays_are_shown_short():
    assert describe_value(np.array([0.1, -1.0])) == "[0.1, -1.0]"
    assert describe_value(np.arange(20.0)) == "<array of shape (20,), values in [0, 19]>"
    assert describe_value("x" * 200).endswith("...") and len(describe_value("x" * 200)) == 80


def test_convex_lam_and_mask_checks():
    lams, scalar = check_lam(0.5)
    assert scalar and lams.tolist() == [0.5]
    lams, scalar = check_lam([0.1, 0.2])
    assert not scalar and lams.tolist() == [0.1, 0.2]
    for bad in (-0.1, math.nan, math.inf, [], [[1.0]], [0.1, -1.0]):
        with pytest.raises(ValueError, match="^lam=.* must be a finite number >= 0 or a non-empty 1-d array"):
            check_lam(bad)
    with pytest.raises(TypeError, match="^lam='a' .*, got str$"):
        check_lam("a")
    with pytest.raises(ValueError, match=r"^lam=\[0.1, 0.2\] must be a single finite number >= 0 for solve_cvxpy$"):
        check_lam([0.1, 0.2], single_for="solve_cvxpy")
    assert check_mask([0, 0.5, 1], 3, "m0").tolist() == [0, 0.5, 1]
    for bad in ([0, 2, 1], [0, 1], [-0.1, 0, 0]):
        with pytest.raises(ValueError, match=r"^m0=.* must be an array of shape \(d,\) = \(3,\) with values in \[0, 1\]$"):
            check_mask(bad, 3, "m0")


def test_the_registries_use_the_format():
    from lottery_lab import data, methods, models, penalties

    with pytest.raises(ValueError, match=r"^method='lth' must be one of the registered methods: imp, "):
        methods.get("lth")
    with pytest.raises(ValueError, match=r"^penalty='nope' must be one of the registered penalties: l1, "):
        penalties.get("nope")
    with pytest.raises(TypeError, match=r"^penalty=3 must be one of the registered penalties \(a str\), got int$"):
        penalties.get(3)
    with pytest.raises(ValueError, match=r"^model='alexnet' must be one of the registered models: mlp, "):
        models.get("alexnet", input_shape=(3,), num_classes=2)
    with pytest.raises(ValueError, match=r"^data='nope' must be one of the registered datasets: "):
        data.get("nope")


@pytest.mark.parametrize("call", [
    lambda: __import__("lottery_lab").methods.get("imp", frac=0.3),
    lambda: __import__("lottery_lab").models.get("mlp", input_shape=(3,), num_classes=2, depth=3),
    lambda: __import__("lottery_lab").penalties.get("log", epsilon=0.1),
    lambda: __import__("lottery_lab.lottery").lottery.LotteryConfig(data_kw={"foo": 1}, out_dir=None),
    lambda: __import__("lottery_lab.lottery").lottery.LotteryConfig(model_kw={"depth": 3}, out_dir=None),
    lambda: __import__("lottery_lab.lottery").lottery.LotteryConfig(method_kw={"frac": 0.3}, out_dir=None),
])
def test_unknown_keyword_arguments_are_type_errors_everywhere(call):
    with pytest.raises(TypeError, match=r"got unknown (argument|option|parameter|key)\(s\) .*; it accepts: "):
        call()


def test_the_config_checks_the_dataset_name_where_the_registry_is_used():
    from lottery_lab import sweep
    from lottery_lab.lottery import LotteryConfig

    cfg = LotteryConfig(data="my tensors", out_dir=None)  # a label for tensors given to play: accepted
    with pytest.raises(ValueError, match=r"^data='my tensors' must be one of the registered datasets: .*mnist5k"):
        cfg.check_data()
    with pytest.raises(ValueError, match="^data='my tensors'"):
        sweep.run([LotteryConfig(out_dir=None, progress=False), cfg])  # before any run starts
    LotteryConfig(data="digits", out_dir=None).check_data()
