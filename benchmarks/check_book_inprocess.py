"""Check that jupyter-book 1 executes notebooks inside the Sphinx process, through the patched channel.

Builds a one-notebook book in a temporary folder with the book's execution settings
(``execute_notebooks: force``) and the ``lottery_lab._nbexec`` extension, plus a probe extension that
counts the messages sent through ``AsyncZMQSocketChannel.send`` in the Sphinx process. The notebook
prints into an ``Output`` widget, so nbclient's ``OutputWidget`` sends a ``comm_msg``. Expected output:
one line ``PROBE ... remedy active True, sends in the Sphinx process: N (comm_msg, execute_request, ...)``
with N > 0: the notebook was executed by nbclient in that process, with the remedy active.

    python benchmarks/check_book_inprocess.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import nbformat

CONFIG = """title: probe
execute:
  execute_notebooks: force
  timeout: 60
sphinx:
  extra_extensions:
    - lottery_lab._nbexec
  local_extensions:
    probe: _ext
"""

PROBE = '''"""Counts the sends on nbclient's asyncio shell channel in the Sphinx process."""
from jupyter_client.channels import AsyncZMQSocketChannel
from lottery_lab import _nbexec

sent = []


def setup(app):
    patched = AsyncZMQSocketChannel.send

    def counting(self, msg):
        sent.append(msg["header"]["msg_type"])
        return patched(self, msg)

    AsyncZMQSocketChannel.send = counting

    def report(app, exc):
        print(f"PROBE remedy active {getattr(patched, _nbexec._MARK, False)}, sends in the Sphinx process: "
              f"{len(sent)} ({', '.join(sorted(set(sent)))})")

    app.connect("build-finished", report)
    return {"parallel_read_safe": True}
'''


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp)
        (book / "_ext").mkdir()
        (book / "_ext" / "probe.py").write_text(PROBE)
        (book / "_config.yml").write_text(CONFIG)
        (book / "_toc.yml").write_text("format: jb-book\nroot: nb\n")
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell("# probe"),
            nbformat.v4.new_code_cell("import ipywidgets as widgets\nout = widgets.Output()\ndisplay(out)\n"
                                      "with out:\n    print('inside')\n")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, book / "nb.ipynb")
        done = subprocess.run(["jupyter-book", "build", str(book)], capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE")]
        print("\n".join(lines) if lines else f"no probe line; jupyter-book exit code {done.returncode}\n{done.stderr}")


if __name__ == "__main__":
    main()
