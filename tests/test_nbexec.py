"""lottery_lab._nbexec: a send on nbclient's asyncio shell channel no longer hides an arrived reply from
the pending poll; the patch is idempotent, gated on the versions that need it, active in this pytest
process (root conftest.py) and in the book build, not imported by ``import lottery_lab``, and keeps
Output-widget figures."""

from __future__ import annotations

import asyncio
import re
import select
import subprocess
import sys
from pathlib import Path

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel, ZMQSocketChannel
from jupyter_client.session import Session
from nbclient import NotebookClient

from lottery_lab import _nbexec


async def _reply_seen_after_a_send(wait_s: float) -> bool:
    """The scenario of benchmarks/repro_shadow_send_stall.py with a poll that has no timeout of its own:
    the reply is queued on the client socket, then the client sends (as nbclient's OutputWidget does)
    before the event loop runs. True if the pending ``get_msg`` returns within ``wait_s``."""
    actx, pctx = zmq.asyncio.Context(), zmq.Context()
    kernel = pctx.socket(zmq.ROUTER)
    port = kernel.bind_to_random_port("tcp://127.0.0.1")
    sock = actx.socket(zmq.DEALER)
    sock.connect(f"tcp://127.0.0.1:{port}")
    session = Session(key=b"")
    channel = AsyncZMQSocketChannel(sock, session)
    try:
        request = session.msg("execute_request", content={"code": "pass"})
        channel.send(request)
        ident = kernel.recv_multipart()[0]
        waiting = asyncio.ensure_future(channel.get_msg(timeout=None))
        await asyncio.sleep(0.1)
        session.send(kernel, "execute_reply", content={"status": "ok"}, parent=request["header"], ident=[ident])
        assert select.select([sock.FD], [], [], 10)[0], "the reply was never signalled on the client socket"
        channel.send(session.msg("comm_msg", content={"comm_id": "0", "data": {}}))
        done, _ = await asyncio.wait({waiting}, timeout=wait_s)
        if not done:
            waiting.cancel()
            return False
        return waiting.result()["parent_header"]["msg_id"] == request["header"]["msg_id"]
    finally:
        sock.close(linger=0)
        kernel.close(linger=0)
        actx.term()
        pctx.term()


def test_a_send_while_awaiting_the_reply_does_not_hide_it():
    # without the remedy the poll never wakes (it has no timeout here): the wait below gives up
    assert _nbexec.install()
    assert asyncio.run(_reply_seen_after_a_send(wait_s=10.0))


def test_active_in_this_pytest_process_and_idempotent():
    patched = vars(AsyncZMQSocketChannel)["send"]  # installed by the root conftest.py
    assert getattr(patched, _nbexec._MARK) and patched.__wrapped__ is ZMQSocketChannel.send
    assert _nbexec.install() and _nbexec.install()
    assert vars(AsyncZMQSocketChannel)["send"] is patched  # not wrapped twice


def test_uninstall_restores_jupyter_clients_send():
    try:
        _nbexec.uninstall()
        assert "send" not in vars(AsyncZMQSocketChannel)
        assert AsyncZMQSocketChannel.send is ZMQSocketChannel.send
    finally:
        assert _nbexec.install()


def test_needed_only_for_the_shadow_send_versions_and_the_inherited_send():
    class Base:
        def send(self, msg):
            pass

    class Inherits(Base):
        pass

    class OwnSend(Base):
        def send(self, msg):
            pass

    assert _nbexec.needed(Inherits, Base, "7.4.2") and _nbexec.needed(Inherits, Base, "8.10.0")
    assert not _nbexec.needed(Inherits, Base, "7.4.1")       # Session.send used the asyncio socket itself
    assert not _nbexec.needed(Inherits, Base, "6.1.12")
    assert not _nbexec.needed(OwnSend, Base, "8.10.0")       # an upstream fix in the asyncio channel
    assert _nbexec.needed(Inherits, Base, "9.0.0rc1")


def test_import_lottery_lab_does_not_import_it():
    code = ("import sys, lottery_lab, lottery_lab.widgets, lottery_lab.grading; "
            "print('lottery_lab._nbexec' in sys.modules, 'jupyter_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "False", out


def test_figures_drawn_inside_an_output_widget_are_saved_in_the_executed_notebook():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
        "import matplotlib.pyplot as plt, ipywidgets as widgets\n"
        "out = widgets.Output()\ndisplay(out)\n"
        "with out:\n    print('drawn inside')\n    plt.plot([0, 1], [1, 0])\n    plt.show()\n")])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    (output_model,) = [m for m in state.values() if m["model_name"] == "OutputModel"]
    outputs = output_model["state"]["outputs"]
    assert any(o["output_type"] == "stream" and "drawn inside" in o["text"] for o in outputs), outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs


def test_the_book_build_loads_it_as_a_sphinx_extension():
    config = (Path(__file__).resolve().parents[1] / "book" / "_config.yml").read_text()
    extensions = re.search(r"^  extra_extensions:\n((?:    - .*\n)+)", config, re.MULTILINE)
    assert extensions and "- lottery_lab._nbexec" in extensions.group(1), config
    assert _nbexec.setup(app=None)["parallel_read_safe"]
    assert getattr(vars(AsyncZMQSocketChannel)["send"], _nbexec._MARK)
