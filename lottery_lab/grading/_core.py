"""The grader's machinery: tasks, cases, a guarded call of the student's function, and the result.

A :class:`Task` draws its :class:`Case` s from a seeded generator; every case holds the inputs and the
output the library's own implementation gives for them. The student's function is called on copies of
the inputs, under a time limit, with warnings and stderr captured, so that whatever it does (a wrong
signature, an exception, an endless loop, a wrong type or shape) ends as one line of text and never
as a traceback from inside the grader.

The time limit is hard where ``os.fork`` exists (Linux, macOS): all cases of one check run in a child
forked for it, which is killed when a call runs past the limit, so a student's bare ``except:`` or
``except BaseException`` cannot swallow it. Fork copies the function as it is (one defined in a
notebook cell is not picklable, so a spawned process could not receive it); only short verdicts come
back through a pipe. On Windows (or with ``LOTTERY_LAB_GRADER_FORK=0``) the cases run in this process
under SIGALRM or an asynchronous exception, a soft limit that such code can outlast.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import html
import inspect
import io
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterator

import numpy as np

#: status values of a :class:`CheckResult` (``NOT_RUN``: listed by a summary, its check never ran)
PASSED, FAILED, NOT_IMPLEMENTED, NOT_RUN = "passed", "failed", "not implemented", "not run"
_MARK = {PASSED: "✅", FAILED: "❌", NOT_IMPLEMENTED: "⏳", NOT_RUN: "⏳"}

#: run the student's function in a forked child killed at the time limit (where fork exists);
#: ``LOTTERY_LAB_GRADER_FORK=0`` keeps it in this process (should a platform's libraries not survive fork)
_USE_FORK = hasattr(os, "fork") and os.environ.get("LOTTERY_LAB_GRADER_FORK", "1") != "0"


class Mismatch(Exception):
    """Raised by a comparison: the student's output is not the expected one (the message says how)."""


@dataclass(frozen=True)
class Case:
    """One input for the student's function, with the reference output.

    ``describe`` says what the input is in a few words (shown when the case fails).
    """

    args: tuple
    expected: Any
    describe: str


@dataclass(frozen=True)
class Task:
    """A task of an assignment: what to implement, how to draw its cases, how to compare outputs.

    Parameters
    ----------
    id : "chapter.name", as passed to :func:`lottery_lab.grading.check`.
    title : one line, what the function computes.
    params : the names of the function's parameters, in order.
    points : what passing is worth (all or nothing).
    hint : one sentence shown with every failure.
    cases : draws the cases from a numpy Generator; called once per check.
    compare : raises :class:`Mismatch` when ``got`` is not ``expected`` for that case.
    time_limit : seconds one call of the student's function may take.
    """

    id: str
    title: str
    params: tuple[str, ...]
    points: int
    hint: str
    cases: Callable[[np.random.Generator], list[Case]]
    compare: Callable[[Any, Any], None]
    time_limit: float = 2.0

    @property
    def chapter(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def function(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def signature(self) -> str:
        return f"{self.function}({', '.join(self.params)})"


@dataclass
class CheckResult:
    """The outcome of one check, for a student (its ``str`` is the one-line verdict) and a grader.

    Attributes
    ----------
    task, title : the task's id and title.
    status : ``"passed"``, ``"failed"``, ``"not implemented"``, or ``"not run"`` (only in a
        :class:`Summary`: a task of the chapter whose check cell never ran, e.g. after an error above it).
    points, max_points : points earned (all or nothing) and possible.
    checks_passed, checks : how many of the drawn cases the function got right, of how many.
    message : the one-line verdict (which input failed, what was expected, a hint).
    seed : the seed the cases were drawn from (``check(..., seed=seed)`` repeats them).
    seconds : wall time the check took.
    """

    task: str
    title: str
    status: str
    points: float
    max_points: float
    checks_passed: int
    checks: int
    message: str
    seed: int
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    __repr__ = __str__

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """In a notebook: the verdict line as HTML, and the points earned as the plain-text value.

        nbgrader's autograder reads a grade cell's numeric plain-text output as its partial credit,
        so in a kernel a check cell is scored by its own result and HTML front ends show the line.
        A text-only front end (terminal IPython, whose display shows text/plain alone) gets the
        line as its plain text instead: there is no grader reading it, and "0"/"1" says nothing.
        """
        if _text_only_frontend():
            return {"text/plain": self.message}
        line = html.escape(self.message)
        return {"text/html": f'<pre class="lottery-lab-check">{line}</pre>', "text/plain": f"{self.points:g}"}

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (JSON-ready), e.g. for a course's gradebook."""
        return {"task": self.task, "title": self.title, "status": self.status, "points": self.points,
                "max_points": self.max_points, "checks_passed": self.checks_passed, "checks": self.checks,
                "message": self.message, "seed": self.seed, "seconds": round(self.seconds, 4)}


def _text_only_frontend() -> bool:
    """Whether the running IPython shows only text/plain (the terminal), not HTML (a kernel).

    Without a running shell the answer is no: whatever asks for the bundle then gets nbgrader's form.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "text/html" not in shell.display_formatter.active_types


@dataclass
class Summary:
    """All checks run in this session (the latest per task): totals, a table, plain data."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.results)

    @property
    def all_passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def __str__(self) -> str:
        if not self.results:
            return "no checks run yet"
        width = max(len(r.task) for r in self.results)
        lines = [f"{'task':<{width}}  {'status':<16}{'checks':>8}{'points':>9}"]
        for r in self.results:
            counts = "—" if r.status == NOT_RUN else f"{r.checks_passed}/{r.checks}"
            lines.append(f"{r.task:<{width}}  {r.status:<16}{counts:>8}"
                         f"{f'{r.points:g}/{r.max_points:g}':>9}")
        lines.append(f"{'total':<{width}}  {'':<16}{'':>8}{f'{self.points:g}/{self.max_points:g}':>9}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "max_points": self.max_points,
                "results": [r.to_dict() for r in self.results]}


def not_run(task: Task) -> CheckResult:
    """The summary's entry for a task whose check never ran: 0 of its points."""
    return CheckResult(task.id, task.title, NOT_RUN, 0.0, float(task.points), 0, 0,
                       f"{_MARK[NOT_RUN]} {task.id}: not run — its check cell has not run "
                       f"(an error above it?); run it ({_points(task.points)}).", seed=-1)


# --- calling the student's function ---------------------------------------------------------------
class TimeLimitExceeded(BaseException):
    """Raised inside the student's function when it runs past the task's time limit.

    A BaseException, so that a student's ``except Exception`` does not swallow it.
    """


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise :class:`TimeLimitExceeded` in this (main) thread after ``seconds``, by SIGALRM."""
    def on_alarm(signum, frame):
        raise TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call_in_thread(fn: Callable, args: tuple, seconds: float) -> Any:
    """Where SIGALRM is not available: run ``fn`` in a thread, and stop it by an asynchronous exception."""
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as err:  # handed back to the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(TimeLimitExceeded))
        worker.join(1.0)
        raise TimeLimitExceeded
    if "error" in box:
        raise box["error"]
    return box["value"]


def guarded_call(fn: Callable, args: tuple, seconds: float) -> Any:
    """``fn(*args)`` under a time limit, with its warnings and stderr output swallowed."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
        if use_alarm:
            with _alarm(seconds):
                return fn(*args)
        return _call_in_thread(fn, args, seconds)


def signature_problem(fn: Any, task: Task) -> str | None:
    """Why ``fn`` cannot be called as the task's function, or None when it can."""
    if not callable(fn):
        return f"expected a function {task.signature}, got {type(fn).__name__} {short(fn)}"
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: let the call tell
    try:
        sig.bind(*task.params)
    except TypeError:
        name = getattr(fn, "__name__", "your function")
        return f"wrong signature: expected {task.signature}, your function is {name}{sig}"
    return None


# --- describing values in one line ----------------------------------------------------------------
def short(value: Any, limit: int = 60) -> str:
    """A one-line, length-limited description of a value (type, shape, dtype, a few entries)."""
    try:
        import torch
    except ImportError:  # the convex tasks work without torch
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, np.ndarray):
        return f"array{value.shape} {value.dtype}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {short(v, 30)}" for k, v in list(value.items())[:3]) + \
            (", …}" if len(value) > 3 else "}")
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clip_text(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def values(x: Any, n: int = 4, around: int | None = None) -> str:
    """``n`` entries of an array-like (flattened), rounded, in one line: the first ``n``, or a window
    holding the flat index ``around`` (so that a preview shows the element that matters)."""
    flat = np.asarray(x, dtype=float).reshape(-1)
    start = 0 if around is None else max(0, min(around - n // 2, flat.size - n))
    shown = ", ".join(f"{v:.4g}" for v in flat[start:start + n])
    return f"[{'…, ' if start > 0 else ''}{shown}{', …' if start + n < flat.size else ''}]"


def copy_args(args: tuple) -> tuple:
    """Deep copies of the inputs (the student's function gets these; the originals stay for comparison)."""
    return tuple(copy.deepcopy(a) for a in args)


def changed_argument(task: Task, before: tuple, after: tuple) -> str | None:
    """The name of the first argument the student's function modified in place, if any."""
    for name, a, b in zip(task.params, before, after):
        if not same_value(a, b):
            return name
    return None


def same_value(a: Any, b: Any) -> bool:
    """Exact equality of nested inputs (arrays, tensors, dicts, numbers, strings)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if hasattr(a, "shape") and hasattr(b, "shape"):
        na, nb = _to_numpy(a), _to_numpy(b)
        return na.shape == nb.shape and np.array_equal(na, nb, equal_nan=na.dtype.kind == "f")
    return bool(a == b) if type(a) is type(b) else False


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _points(n: int) -> str:
    return f"{n} point{'s' if n != 1 else ''}"


# --- running all cases of a check -----------------------------------------------------------------
#: the outcome kinds of one case, as the case runner reports them
_OK, _NOT_IMPLEMENTED, _LIMIT, _FAILURE = "ok", "not implemented", "time limit", "failure"

#: seconds the comparison of one output may take (it runs in the child too, after the student's call)
_COMPARE_LIMIT = 60.0


def _judge(task: Task, case: Case, where: str, call: Callable[[tuple], Any],
           interruptible: bool = True) -> tuple[str, str]:
    """(kind, text) for one case: the student's call on copies of the inputs, then the comparison.

    ``interruptible``: a KeyboardInterrupt stops the check (in this process, it is the user's Ctrl-C;
    in the child, the parent handles Ctrl-C, and one raised by the student's code is a failure).
    """
    given = copy_args(case.args)
    try:
        got = call(given)
    except NotImplementedError:
        return _NOT_IMPLEMENTED, ""
    except TimeLimitExceeded:
        return _LIMIT, ""
    except KeyboardInterrupt as err:
        if interruptible:
            raise
        return _FAILURE, f"{where}: your function raised {type(err).__name__}: {clip_text(err)}."
    except BaseException as err:  # whatever the student's code raises ends as a line of text
        return _FAILURE, f"{where}: your function raised {type(err).__name__}: {clip_text(err)}."
    name = changed_argument(task, case.args, given)
    if name is not None:
        return _FAILURE, f"{where}: your function changed its argument {name!r} in place; leave inputs unchanged."
    try:
        task.compare(got, case.expected)
    except Mismatch as err:
        return _FAILURE, f"{where}: {err}"
    except Exception as err:  # an output so odd that comparing it failed
        return _FAILURE, f"{where}: could not compare your output {short(got)} ({type(err).__name__}: {clip_text(err, 60)})."
    return _OK, ""


def _where(i: int, cases: list[Case]) -> str:
    return f"case {i}/{len(cases)} ({cases[i - 1].describe})"


def _cases_in_process(task: Task, fn: Callable, cases: list[Case]) -> Iterator[tuple[str, str]]:
    """The fallback where ``os.fork`` does not exist (Windows): each call under :func:`guarded_call`.

    That limit is soft: it raises an exception inside the student's code, which a bare ``except:``
    around the loop can swallow (the check then waits as long as the function runs).
    """
    for i, case in enumerate(cases, 1):
        yield _judge(task, case, _where(i, cases), lambda given: guarded_call(fn, given, task.time_limit))


def _child(task: Task, fn: Callable, cases: list[Case], conn: Connection) -> None:
    """In the forked child: run the cases in order, telling the parent when each call starts and ends.

    The child has one thread, so torch runs on one (an OpenMP pool inherited through fork would
    deadlock); stderr and warnings are swallowed, stdout is captured and sent back with each verdict.
    """
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    sys.stderr = io.StringIO()
    warnings.simplefilter("ignore")

    def call(given: tuple) -> Any:
        conn.send(("start",))
        try:
            return fn(*given)
        finally:
            conn.send(("returned",))

    for i, case in enumerate(cases, 1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            kind, text = _judge(task, case, _where(i, cases), call, interruptible=False)
        conn.send(("verdict", kind, text, out.getvalue()))
        if kind in (_NOT_IMPLEMENTED, _LIMIT):
            return


def _cases_in_child(task: Task, fn: Callable, cases: list[Case]) -> Iterator[tuple[str, str]]:
    """Every case of one check in one forked child process, which is killed when a call runs too long.

    Fork copies the student's function as it is (a function defined in a notebook need not be
    picklable); only the verdicts (short strings) come back through a pipe. A killed child cannot
    catch anything, so the time limit holds whatever the student's code does.
    """
    parent_end, child_end = multiprocessing.Pipe(duplex=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python ≥ 3.12 warns on fork with threads
        pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        code = 0
        try:
            parent_end.close()
            _child(task, fn, cases, child_end)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    child_end.close()
    try:
        for i in range(1, len(cases) + 1):
            kind, text, alive = _verdict_from_child(parent_end, task.time_limit, _where(i, cases), pid)
            yield kind, text
            if not alive:  # the student's code ended the child: the remaining cases cannot run
                return
    finally:
        parent_end.close()
        with contextlib.suppress(ProcessLookupError, ChildProcessError):  # already reaped by _exit_status
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _verdict_from_child(conn: Connection, limit: float, where: str, pid: int) -> tuple[str, str, bool]:
    """Wait for one case's messages: the start of the call, its end (within ``limit`` s), the verdict.

    Returns (kind, text, whether the child is still alive).
    """
    waits = {"start": _COMPARE_LIMIT, "returned": limit, "verdict": _COMPARE_LIMIT}
    expected = "start"
    while True:
        if not conn.poll(waits[expected]):
            if expected == "returned":
                return _LIMIT, "", True
            return _FAILURE, f"{where}: comparing your output took longer than {_COMPARE_LIMIT:g} s.", False
        try:
            message = conn.recv()
        except EOFError:
            return _FAILURE, f"{where}: your function ended the process ({_exit_status(pid)}).", False
        if message[0] == "verdict":
            _, kind, text, printed = message
            if printed:
                sys.stdout.write(printed)
            return kind, text, True
        expected = "returned" if message[0] == "start" else "verdict"


def _exit_status(pid: int) -> str:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.WEXITSTATUS(status)}"


def run_check(task: Task, fn: Any, seed: int) -> CheckResult:
    """Draw the task's cases from ``seed``, run ``fn`` on each, and sum it up in a :class:`CheckResult`.

    All cases run in one forked child process (the time limit is enforced by killing it); where
    ``os.fork`` does not exist, in this process under a soft limit (see :func:`_cases_in_process`).
    """
    start = time.perf_counter()
    cases = task.cases(np.random.default_rng(seed))

    def result(status: str, passed: int, detail: str) -> CheckResult:
        points = float(task.points) if status == PASSED else 0.0
        line = f"{_MARK[status]} {task.id}: {detail}"
        if status == FAILED:
            line += f" Hint: {task.hint} (seed {seed})"
        return CheckResult(task.id, task.title, status, points, float(task.points), passed, len(cases),
                           line, seed, time.perf_counter() - start)

    problem = signature_problem(fn, task)
    if problem is not None:
        return result(FAILED, 0, problem + ".")
    first_failure = None
    passed = 0
    outcomes = _cases_in_child(task, fn, cases) if _USE_FORK else _cases_in_process(task, fn, cases)
    try:
        for i, (kind, text) in enumerate(outcomes, 1):
            if kind == _NOT_IMPLEMENTED:
                return result(NOT_IMPLEMENTED, 0, f"not implemented yet — write {task.signature} above, "
                                                  f"then run this cell again ({_points(task.points)}).")
            if kind == _LIMIT:
                first_failure = first_failure or f"{_where(i, cases)}: took longer than the {task.time_limit:g} s limit."
                break  # a second endless loop would only cost more time
            if kind == _FAILURE:
                first_failure = first_failure or text
                continue
            passed += 1
    finally:
        outcomes.close()
    if first_failure is None:
        return result(PASSED, passed, f"passed {passed}/{len(cases)} checks ({_points(task.points)}).")
    return result(FAILED, passed, f"failed, {passed}/{len(cases)} checks passed; first failure: {first_failure}")
