"""The assignment notebooks: instructor versions pass every check, built student versions run with every
check saying "not implemented", the build strips the solutions and nothing else, nbgrader metadata."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lottery_lab import assignments
from lottery_lab.assignments import BEGIN, END, STUB, build, nbgrader_metadata, strip_solutions, student_version
from lottery_lab.cli import main
from lottery_lab.grading import get_task, tasks

SOURCE = Path(__file__).resolve().parents[1] / "notebooks" / "assignments"
NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))
CHECK = re.compile(r"""check\("([\w.]+)", (\w+)\)""")


def _execute(path: Path) -> nbformat.NotebookNode:
    """Execute in this process with nbclient; the root conftest.py's ``lottery_lab._nbexec`` remedy is
    active here (asserted in test_nbexec.py), so a check cell's reply is never held to the timeout."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def _check_outputs(nb) -> dict[str, str]:
    """task id → the check cell's verdict line (its HTML output); fails on any error or stderr output."""
    verdicts = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            assert out.output_type != "error", f"{out.get('ename')}: {out.get('evalue')}"
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text
        found = CHECK.search(cell.source)
        if found:
            (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
            verdicts[found.group(1)] = result.data["text/html"]
    return verdicts


def test_four_chapters_three_to_five_tasks_each_covering_every_task():
    assert [p.name for p in NOTEBOOKS] == ["01_convex_mask_lab.ipynb", "02_lottery_imp.ipynb",
                                          "03_related_methods.ipynb", "04_theory.ipynb"]
    seen = []
    for path, chapter in zip(NOTEBOOKS, ["convex", "lottery", "methods", "theory"]):
        ids = [m.group(1) for c in nbformat.read(path, as_version=4).cells for m in CHECK.finditer(c.source)]
        assert 3 <= len(ids) <= 5 and all(i.startswith(chapter + ".") for i in ids), (path.name, ids)
        seen += ids
    assert sorted(seen) == sorted(t.id for t in tasks())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_instructor_notebook_passes_every_check(path):
    verdicts = _check_outputs(_execute(path))
    assert verdicts and all(v.startswith('<pre class="lottery-lab-check">✅') for v in verdicts.values()), verdicts


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    assert main(["assignments", "build", str(out), "--source", str(SOURCE)]) == 0
    return out


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_student_notebook_runs_and_reports_not_implemented(built, name):
    verdicts = _check_outputs(_execute(built / name))
    assert len(verdicts) >= 3
    for task_id, line in verdicts.items():
        assert f"⏳ {task_id}: not implemented yet" in line, line


def _regions(source: str) -> tuple[list[str], list[str], list[str]]:
    """(lines outside solution regions, lines inside, the indentation of each region's BEGIN)."""
    outside, inside, indents, in_region = [], [], [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            in_region = True
            indents.append(line[: len(line) - len(line.lstrip())])
        elif line.strip() == END:
            in_region = False
        else:
            (inside if in_region else outside).append(line)
    return outside, inside, indents


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_build_strips_every_solution_and_nothing_else(built, name):
    teacher = nbformat.read(SOURCE / name, as_version=4)
    student = nbformat.read(built / name, as_version=4)
    assert len(teacher.cells) == len(student.cells)
    n_regions = 0
    for t, s in zip(teacher.cells, student.cells):
        assert (t.cell_type, t.metadata) == (s.cell_type, s.metadata)
        if s.cell_type == "code":
            assert s.outputs == [] and s.execution_count is None
        if BEGIN not in t.source:
            assert s.source == t.source
            continue
        outside, inside, indents = _regions(t.source)
        n_regions += len(indents)
        lines = s.source.splitlines()
        assert [x for x in lines if x.strip() != STUB] == outside        # everything else kept, in order
        assert [x[: len(x) - len(x.lstrip())] for x in lines if x.strip() == STUB] == indents
        assert not any(x in lines for x in inside if x.strip())          # no solution line survives
        assert BEGIN not in s.source and END not in s.source
    assert n_regions >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbgrader_metadata(path):
    nb = nbformat.read(path, as_version=4)
    ids, points = set(), 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        assert meta == nbgrader_metadata(cell)  # tagged and up to date
        if meta is None:
            continue
        assert meta["schema_version"] == 3 and re.fullmatch(r"[\w-]+", meta["grade_id"])
        assert meta["grade_id"] not in ids
        ids.add(meta["grade_id"])
        if meta["solution"]:
            assert BEGIN in cell.source and not meta["grade"] and not meta["locked"]
        else:
            assert meta["grade"] and meta["locked"] and "check(" in cell.source
            points += meta["points"]
    chapter_tasks = [t for t in tasks() if path.name.split("_", 1)[1].startswith(
        {"convex": "convex", "lottery": "lottery", "methods": "related", "theory": "theory"}[t.chapter])]
    assert points == sum(t.points for t in chapter_tasks) > 0


def test_strip_solutions_by_hand():
    src = f"def f(x):\n    {BEGIN}\n    y = x + 1\n    return y\n    {END}\n\nprint(1)"
    assert strip_solutions(src) == f"def f(x):\n    {STUB}\n\nprint(1)"
    for bad, match in [(f"{END}\n", "without"), (f"{BEGIN}\n{BEGIN}\n{END}\n", "inside a solution region"),
                       (f"{BEGIN}\nx = 1\n", "not closed")]:
        with pytest.raises(ValueError, match=match):
            strip_solutions(bad)


def test_build_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        build(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="holds no .ipynb"):
        build(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="out_dir must differ from source"):
        build(SOURCE, SOURCE)
    stale = nbformat.read(NOTEBOOKS[0], as_version=4)
    for cell in stale.cells:
        cell.metadata.pop("nbgrader", None)
    with pytest.raises(ValueError, match="run `lottery-lab assignments tag`"):
        student_version(stale)
    assert assignments.tag(stale) and student_version(stale)  # tagging fixes it


def test_cli(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["assignments", "build", str(tmp_path / "out"), "--source", str(tmp_path / "nope")])
    assert exc.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["assignments", "list", "--chapter", "theory"]) == 0
    listing = capsys.readouterr().out
    assert all(t.id in listing for t in tasks("theory"))
    assert get_task("theory.subset_sum_mitm").signature in listing


def _two_notebooks_one_stale(folder, stale_index: int) -> None:
    """The first two assignment notebooks copied into ``folder``, one of them without nbgrader metadata."""
    for path in NOTEBOOKS[:2]:
        (folder / path.name).write_text(path.read_text())
    stale = nbformat.read(folder / NOTEBOOKS[stale_index].name, as_version=4)
    for cell in stale.cells:
        cell.metadata.pop("nbgrader", None)
    nbformat.write(stale, folder / NOTEBOOKS[stale_index].name)


def test_tag_folder_rewrites_only_stale_notebooks(tmp_path):
    _two_notebooks_one_stale(tmp_path, 0)
    with pytest.raises(ValueError, match=re.escape(NOTEBOOKS[0].name) + r": cell \d+: nbgrader metadata missing"):
        build(tmp_path, tmp_path / "out")  # the build names the stale notebook
    assert not (tmp_path / "out").exists()  # and writes nothing
    assert [changed for _, changed in assignments.tag_folder(tmp_path)] == [True, False]
    assert [changed for _, changed in assignments.tag_folder(tmp_path)] == [False, False]
    assert student_version(nbformat.read(tmp_path / NOTEBOOKS[0].name, as_version=4))


def test_cli_build_names_the_stale_notebook(tmp_path, capsys):
    """Stale metadata: exit code 2 and one line naming the notebook, no traceback, nothing written."""
    source = tmp_path / "src"
    source.mkdir()
    _two_notebooks_one_stale(source, 1)
    with pytest.raises(SystemExit) as exc:
        main(["assignments", "build", str(tmp_path / "out"), "--source", str(source)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lottery-lab assignments build: error: "), err
    assert str(source / NOTEBOOKS[1].name) in err[0] and "lottery-lab assignments tag" in err[0]
    assert "Traceback" not in "\n".join(err) and not (tmp_path / "out").exists()


def test_a_syntax_error_above_a_check_leaves_the_task_in_the_total(tmp_path):
    """A solution cell that does not compile: its check cell errors, the summary lists it as not run
    and still counts its points (the issue's 1/4 that should have read 1/6 had dropped it)."""
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    solutions = [c for c in nb.cells if c.cell_type == "code" and BEGIN in c.source]
    broken = solutions[1]
    broken.source = broken.source.replace(BEGIN, BEGIN + "\n    return (", 1)
    name = re.search(r"^def\s+(\w+)", broken.source, re.MULTILINE).group(1)
    (task_id,) = [m.group(1) for c in nb.cells for m in CHECK.finditer(c.source) if m.group(2) == name]
    path = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, path)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (summary_cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("summary(")]
    (out,) = [o for o in summary_cell.outputs if o.output_type == "execute_result"]
    table = out.data["text/plain"].splitlines()
    convex = tasks("convex")
    rows = {line.split()[0]: line for line in table[1:-1]}
    assert list(rows) == [t.id for t in convex]
    assert "not run" in rows[task_id] and all("passed" in rows[t.id] for t in convex if t.id != task_id)
    total = sum(t.points for t in convex)
    assert table[-1].split() == ["total", f"{total - get_task(task_id).points:g}/{total:g}"]
