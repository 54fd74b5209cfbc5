"""The grader: instructor solutions pass, a plausible wrong solution per task is caught, and whatever a
student's function does (wrong signature, type, shape, an exception, an endless loop, in-place edits,
stderr noise) ends as one clear line, never as an exception escaping the check."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from lottery_lab import grading
from lottery_lab.assignments import BEGIN
from lottery_lab.grading import check, get_task, tasks
from lottery_lab.grading._compare import mask_dict, numpy_close
from lottery_lab.grading._core import Mismatch, run_check

ASSIGNMENTS = Path(__file__).resolve().parents[1] / "notebooks" / "assignments"
SEEDS = (0, 1, 2)


def _solutions() -> dict[str, object]:
    """The instructor notebooks' setup and solution cells, run in one namespace (no kernel needed)."""
    ns: dict[str, object] = {}
    for path in sorted(ASSIGNMENTS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            src = cell.source
            if cell.cell_type == "code" and ("import" in src or BEGIN in src) and "check(" not in src:
                exec(compile(src, str(path), "exec"), ns)
    return ns


SOLUTIONS = _solutions()


@pytest.mark.parametrize("task", [t.id for t in tasks()])
def test_instructor_solution_passes_on_several_seeds(task):
    fn = SOLUTIONS[get_task(task).function]
    for seed in SEEDS:
        res = check(task, fn, seed=seed)
        assert res.passed, res.message
        assert res.points == res.max_points == get_task(task).points
        assert res.checks_passed == res.checks >= 3


# --- one plausible mistake per task: each must be caught on every seed ------------------------------
def _wrong_global(weights, density):  # per-layer instead of global
    out = {}
    for n, w in weights.items():
        k = max(1, round(density * w.numel()))
        thr = torch.topk(w.abs().flatten(), k).values.min()
        out[n] = w.abs() >= thr
    return out


def _wrong_imp(weights, mask, rate):  # ranks pruned weights too, so may "prune" already-pruned ones
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    alive = torch.cat([m.flatten().bool() for m in mask.values()])
    keep = alive.clone()
    keep[torch.argsort(flat)[:round(rate * int(alive.sum()))]] = False
    out, i = {}, 0
    for n, m in mask.items():
        out[n] = keep[i:i + m.numel()].view_as(m)
        i += m.numel()
    return out


def _wrong_subset_sum(samples, z):  # only contiguous prefixes
    sums = np.concatenate([[0.0], np.cumsum(samples)])
    return float(np.abs(z - sums).min())


def _wrong_loss(w, w_star, k):  # forgets the (k−1) cross-patch term
    r, s = np.linalg.norm(w), np.linalg.norm(w_star)
    th = np.arccos(np.clip(w @ w_star / (r * s), -1, 1))
    g = r * s * (np.sin(th) + (np.pi - th) * np.cos(th)) / (2 * np.pi)
    return float((r**2 / 2 - 2 * g + s**2 / 2) / k)


WRONG = {
    "convex.log_penalty": lambda m, eps: np.log1p(np.abs(m) / eps),                  # forgets the ε factor
    "convex.log_penalty_grad": lambda m, eps: np.sign(m) * eps / (eps + np.abs(m)),  # 0 at m = 0
    "convex.mask_gradient": lambda X, y, theta, m: -(X.T @ (y * (1 / (1 + np.exp(y * (X @ (m * theta))))))) / len(y),  # drops θ
    "convex.pgd_step": lambda m, grad, lam, eps, step: m - step * (grad + lam * eps / (eps + m)),  # no projection
    "lottery.global_magnitude_mask": _wrong_global,
    "lottery.imp_prune": _wrong_imp,
    "lottery.rewind": lambda init_state, mask: {k: v * mask[k] for k, v in init_state.items() if k in mask},  # drops biases
    "lottery.concave_mask_grad": lambda theta, m, grad_w, lam, eps: grad_w * theta + lam / (eps + m),  # slope off by ε
    "methods.hard_concrete_gate": lambda log_alpha, u, beta, gamma, zeta: torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / beta),  # no stretch
    "methods.expected_l0": lambda log_alpha, beta, gamma, zeta: torch.sigmoid(log_alpha).sum(),  # forgets the shift
    "methods.topk_mask": lambda scores, keep: (scores >= scores.flatten().topk(max(1, round(keep * scores.numel()))).values.min()).float(),  # signed, not |s|
    "methods.tl1_threshold": lambda tau, a: np.asarray(tau, dtype=float) * (a + 1) / a,  # small-τ regime only
    "methods.rvsm_u": lambda w, lam, beta, penalty: torch.sign(w) * (w.abs() - lam / beta).clamp_min(0),  # ℓ1 for both
    "theory.subset_sum_mitm": _wrong_subset_sum,
    "theory.binary_entropy": lambda p: -np.asarray(p) * np.log2(np.asarray(p)) - (1 - np.asarray(p)) * np.log2(1 - np.asarray(p)),  # nan at the edges
    "theory.no_overlap_network": lambda x, w: np.maximum(x @ w, 0.0).sum(axis=1),   # sum, not mean
    "theory.population_loss": _wrong_loss,
}


def test_every_task_has_a_wrong_solution():
    assert set(WRONG) == {t.id for t in tasks()}


@pytest.mark.parametrize("task", sorted(WRONG))
def test_wrong_solution_is_caught(task):
    for seed in SEEDS:
        res = check(task, WRONG[task], seed=seed)
        assert res.status == "failed", (task, seed, res.message)
        assert res.points == 0
        assert "first failure: case" in res.message and "Hint:" in res.message
        assert "\n" not in res.message


# --- bad input to the grader ---------------------------------------------------------------------
def test_wrong_signature_is_one_line():
    res = check("convex.log_penalty", lambda m: m, seed=0)
    assert res.status == "failed" and res.checks_passed == 0
    assert "wrong signature: expected log_penalty(m, eps)" in res.message


def test_not_a_function():
    res = check("convex.log_penalty", 3.0, seed=0)
    assert res.status == "failed" and "expected a function log_penalty(m, eps), got float" in res.message


def test_wrong_type_and_shape():
    as_list = check("convex.log_penalty", lambda m, eps: (eps * np.log1p(np.abs(m) / eps)).tolist(), seed=0)
    assert as_list.status == "failed" and "expected a numpy array of shape" in as_list.message
    summed = check("convex.log_penalty", lambda m, eps: (eps * np.log1p(np.abs(m) / eps)).sum(), seed=0)
    assert summed.status == "failed" and "expected a numpy array of shape (7,)" in summed.message
    reshaped = check("methods.topk_mask", lambda scores, keep: SOLUTIONS["topk_mask"](scores, keep).flatten(), seed=0)
    assert "expected shape" in reshaped.message
    as_numpy = check("methods.expected_l0", lambda *a: SOLUTIONS["expected_l0"](*a).numpy(), seed=0)
    assert "expected a torch.Tensor of shape ()" in as_numpy.message
    as_float = check("methods.hard_concrete_gate", lambda *a: SOLUTIONS["hard_concrete_gate"](*a).double(), seed=0)
    assert "expected dtype torch.float32, got torch.float64" in as_float.message


def test_a_raising_function_is_reported_not_raised():
    def boom(m, eps):
        raise ZeroDivisionError("my bug")

    res = check("convex.log_penalty", boom, seed=0)
    assert res.status == "failed"
    assert "your function raised ZeroDivisionError: my bug" in res.message


def test_not_implemented():
    def stub(weights, density):
        raise NotImplementedError("your code here")

    res = check("lottery.global_magnitude_mask", stub, seed=0)
    assert res.status == "not implemented" and res.points == 0 and not res
    assert res.message.startswith("⏳ lottery.global_magnitude_mask: not implemented yet")


def _spin(m, eps):
    while True:
        pass


def _short(task_id: str, seconds: float):
    return dataclasses.replace(get_task(task_id), time_limit=seconds)


def test_an_endless_loop_is_stopped_in_the_main_thread():
    res = run_check(_short("convex.log_penalty", 0.2), _spin, seed=0)
    assert res.status == "failed" and "took longer than the 0.2 s limit" in res.message
    assert res.seconds < 5  # it stopped after the first endless case, not one per case


def test_an_endless_loop_is_stopped_outside_the_main_thread():
    box = {}
    worker = threading.Thread(target=lambda: box.update(res=run_check(_short("convex.log_penalty", 0.2), _spin, seed=0)))
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    assert "took longer than the 0.2 s limit" in box["res"].message


def _log_penalty_swallowing_every_timeout(m, eps):
    """A loop whose bare ``except:`` swallows whatever interrupts it, for ~3 s, then the right answer."""
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        try:
            while time.monotonic() < deadline:
                pass
        except:  # noqa: E722 - the student's pattern under test
            pass
    return eps * np.log1p(np.abs(m) / eps)


def _log_penalty_slow_and_catching(m, eps):
    """Takes 3 s per call and catches BaseException around the wait (the limit's exception included)."""
    try:
        time.sleep(3.0)
    except BaseException:
        pass
    return eps * np.log1p(np.abs(m) / eps)


@pytest.mark.parametrize("fn", [_log_penalty_swallowing_every_timeout, _log_penalty_slow_and_catching])
def test_the_time_limit_holds_whatever_the_function_catches(fn):
    # in-process, the first loop went on until its own deadline and the second was marked passed
    res = run_check(_short("convex.log_penalty", 0.2), fn, seed=0)
    assert res.status == "failed", res.message
    assert "case 1/" in res.message and "took longer than the 0.2 s limit" in res.message
    assert res.checks_passed == 0


def test_a_function_that_ends_the_process_is_one_line():
    res = run_check(_short("convex.log_penalty", 5.0), lambda m, eps: os._exit(3), seed=0)
    assert res.status == "failed" and "your function ended the process (exit code 3)" in res.message


def test_a_keyboard_interrupt_raised_by_the_function_is_a_failure_line():
    def interrupt(m, eps):
        raise KeyboardInterrupt

    res = check("convex.log_penalty", interrupt, seed=0)
    assert res.status == "failed" and "your function raised KeyboardInterrupt" in res.message


def test_student_prints_reach_stdout(capsys):
    def chatty(m, eps):
        print("shape", m.shape)
        return eps * np.log1p(np.abs(m) / eps)

    assert check("convex.log_penalty", chatty, seed=0).passed
    assert "shape (" in capsys.readouterr().out


def test_without_fork_the_soft_limit_still_gives_the_verdicts(monkeypatch):
    """Where os.fork is missing (Windows), the cases run in this process under SIGALRM / a thread."""
    from lottery_lab.grading import _core

    monkeypatch.setattr(_core, "_USE_FORK", False)
    assert check("convex.log_penalty", SOLUTIONS["log_penalty"], seed=0).passed
    assert "took longer than the 0.2 s limit" in run_check(_short("convex.log_penalty", 0.2), _spin, seed=0).message
    assert "changed its argument 'm' in place" in check("convex.log_penalty", _inplace, seed=0).message


def test_a_realistic_brute_force_hits_the_time_limit():
    def brute(samples, z):  # lists all 2^n subsets
        best = abs(z)
        for mask in range(1, 2 ** len(samples)):
            best = min(best, abs(z - sum(s for i, s in enumerate(samples) if mask >> i & 1)))
        return best

    res = run_check(_short("theory.subset_sum_mitm", 0.5), brute, seed=0)
    assert res.status == "failed" and "took longer than the 0.5 s limit" in res.message
    assert res.checks_passed >= 2  # the small cases passed before the limit hit


def _inplace(m, eps):
    np.abs(m, out=m)
    m /= eps
    return eps * np.log1p(m)


def test_in_place_edit_is_caught():
    res = check("convex.log_penalty", _inplace, seed=0)
    assert "changed its argument 'm' in place" in res.message


def test_student_noise_stays_inside(capsys):
    def noisy(m, eps):
        warnings.warn("student warning")
        print("student stderr", file=sys.stderr)
        return eps * np.log1p(np.abs(m) / eps)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the check would raise here
        res = check("convex.log_penalty", noisy, seed=0)
    assert res.passed
    assert capsys.readouterr().err == ""


def test_bad_task_and_seed():
    with pytest.raises(ValueError, match="the convex tasks are: convex.log_penalty"):
        check("convex.nope", lambda: None)
    with pytest.raises(ValueError, match="chapter must be one of convex, lottery, methods, theory"):
        check("physics.f", lambda: None)
    with pytest.raises(TypeError, match="task_id must be a str"):
        check(3, lambda: None)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        check("convex.log_penalty", SOLUTIONS["log_penalty"], seed=-1)
    with pytest.raises(ValueError, match="chapter must be one of"):
        tasks("nope")


def test_random_seed_is_reported_and_repeats():
    res = check("convex.log_penalty", WRONG["convex.log_penalty"])
    assert f"(seed {res.seed})" in res.message
    again = check("convex.log_penalty", WRONG["convex.log_penalty"], seed=res.seed)
    assert again.message == res.message


def test_score_object_for_a_grader():
    grading.reset()
    good = check("theory.binary_entropy", SOLUTIONS["binary_entropy"], seed=0)
    bad = check("theory.no_overlap_network", WRONG["theory.no_overlap_network"], seed=0)
    total = grading.summary()
    # every theory task counts; the two not checked are "not run"
    assert total.points == good.max_points and total.max_points == sum(t.points for t in tasks("theory"))
    assert not total.all_passed
    data = json.loads(json.dumps(total.to_dict()))
    status = {r["task"]: r["status"] for r in data["results"]}
    assert (status[good.task], status[bad.task]) == ("passed", "failed")
    assert sorted(status.values()).count("not run") == len(tasks("theory")) - 2
    # nbgrader reads a grade cell's text/plain output as partial credit: the points earned
    assert float(good._repr_mimebundle_()["text/plain"]) == good.max_points
    assert float(bad._repr_mimebundle_()["text/plain"]) == 0.0
    assert "✅ theory.binary_entropy" in good._repr_mimebundle_()["text/html"]
    assert "theory.no_overlap_network" in str(total) and "total" in str(total)
    grading.reset()
    assert grading.summary().results == []


def test_terminal_ipython_shows_the_verdict_line():
    """Terminal IPython displays text/plain alone: there the line, not nbgrader's bare points."""
    code = ("from lottery_lab.grading import check; import numpy as np; "
            "check('convex.log_penalty', lambda m, eps: eps * np.log1p(np.abs(m) / eps), seed=0)")
    run = subprocess.run([sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor",
                          "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert run.returncode == 0, run.stderr
    out = run.stdout.strip().splitlines()[-1]
    assert out.startswith("Out[") and "convex.log_penalty: passed 7/7 checks (1 point)." in out, run.stdout


def test_summary_lists_a_check_that_never_ran():
    """A check cell stopped by an error above it still counts: listed as not run, 0 of its points."""
    grading.reset()
    convex = tasks("convex")
    check("convex.log_penalty", SOLUTIONS["log_penalty"], seed=0)
    total = grading.summary()
    assert [r.task for r in total.results] == [t.id for t in convex]
    assert [r.status for r in total.results] == ["passed"] + ["not run"] * (len(convex) - 1)
    assert (total.points, total.max_points) == (1, 6)  # the case: 1/6, not 1/1
    assert str(total).splitlines()[-1].split()[-1] == "1/6"
    assert all("not run" in r.message for r in total.results[1:])
    assert [r.task for r in grading.summary("theory").results] == [t.id for t in tasks("theory")]
    grading.reset()
    nothing = grading.summary("convex")  # an error above every check: still the whole assignment, 0 of it
    assert [r.status for r in nothing.results] == ["not run"] * len(convex)
    assert (nothing.points, nothing.max_points) == (0, sum(t.points for t in convex))


def test_a_failure_preview_shows_the_mismatching_element():
    compare = numpy_close()
    expected = np.arange(12, dtype=float)
    got = expected.copy()
    got[9] = -5.0  # past the first four entries a preview used to show
    with pytest.raises(Mismatch) as err:
        compare(got, expected)
    message = str(err.value)
    assert message.startswith("expected 9 at index (9,), got -5")
    shown_expected, shown_got = re.findall(r"(\[[^\]]*\])", message)
    assert "9" in shown_expected and "-5" in shown_got and shown_expected != shown_got
    close = numpy_close(rtol=1e-12, atol=0)  # a difference that 6 digits would hide
    with pytest.raises(Mismatch, match=r"expected 1\.0, got 1\.000000001"):
        close(np.array(1.000000001), np.array(1.0))



def test_a_mask_preview_names_the_first_differing_entry():
    """Right count, wrong weights: the line names an entry where they differ, with both values."""
    expected = torch.zeros(4, 30)
    expected[3, 25] = 1.0  # far past what a 4-entry preview shows
    got = torch.zeros(4, 30, dtype=torch.bool)
    got[0, 0] = True
    with pytest.raises(Mismatch) as err:
        mask_dict()({"fc.weight": got}, {"fc.weight": expected})
    found = re.search(r"the first at index \((\d+), (\d+)\): expected (\d), got (\d)", str(err.value))
    assert found, str(err.value)
    i, j, shown_expected, shown_got = map(int, found.groups())
    assert (shown_expected, shown_got) == (int(expected[i, j]), int(got[i, j])) and shown_expected != shown_got


def test_a_preview_never_shows_two_identical_windows():
    """A difference in the 6th digit reads alike at the window's 4 digits: only the exact line is shown."""
    expected = np.linspace(1.0, 2.0, 12)
    got = expected.copy()
    got[10] += 1e-5
    with pytest.raises(Mismatch) as err:
        numpy_close(rtol=1e-9, atol=0)(got, expected)
    message = str(err.value)
    shown = re.findall(r"(\[[^\]]*\])", message)
    assert len(set(shown)) == len(shown), message
    head = re.match(r"expected (\S+) at index \(10,\), got (\S+)", message)
    assert head and head.group(1) != head.group(2), message


def test_every_verdict_says_its_status_in_words():
    """The marker (✅ ❌ ⏳) is never the only carrier: the words are in the line, and in a summary."""
    grading.reset()
    lines = {
        "passed": check("convex.log_penalty", SOLUTIONS["log_penalty"], seed=0),
        "failed": check("convex.log_penalty", WRONG["convex.log_penalty"], seed=0),
        "not implemented": check("convex.log_penalty", _raise_not_implemented, seed=0),
    }
    for word, res in lines.items():
        text = re.sub(r"[✅❌⏳]", "", str(res))
        assert res.status == word and re.search(rf"\b{word}\b", text), text
    grading.reset()
    check("convex.log_penalty", SOLUTIONS["log_penalty"], seed=0)
    total = grading.summary("convex")
    text = re.sub(r"[✅❌⏳]", "", str(total))
    assert "passed" in text and "not run" in text
    assert all("not run" in re.sub(r"[✅❌⏳]", "", r.message) for r in total.results[1:])
    grading.reset()


def _raise_not_implemented(m, eps):
    raise NotImplementedError("your code here")


def test_a_plain_python_repl_shows_the_verdict_and_hint():
    """Outside IPython, the REPL prints repr(): the one-line verdict with its hint, not the points."""
    res = check("convex.log_penalty", WRONG["convex.log_penalty"], seed=0)
    assert repr(res) == str(res) == res.message
    assert repr(res).startswith("❌ convex.log_penalty: failed") and f"Hint: {get_task(res.task).hint}" in repr(res)


def test_case_counts():
    for t in tasks():
        n = len(t.cases(np.random.default_rng(0)))
        assert 3 <= n <= 12, (t.id, n)
        assert math.isclose(t.points, round(t.points))
