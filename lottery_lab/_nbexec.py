"""Headless notebook execution without the intermittent wait for a cell's reply.

Why: nbclient (0.9-0.11 checked) executes a cell and awaits its ``execute_reply`` with
``await shell_socket.poll(timeout)`` on a ``zmq.asyncio`` socket. Meanwhile its stand-in for an
ipywidgets ``Output`` widget (``nbclient.output_widget.OutputWidget``, used by every explorer, since
``ipywidgets.interactive`` draws into an ``Output``) answers each output the kernel sends into the
widget with a ``comm_msg`` on the *same* shell socket, through ``AsyncZMQSocketChannel.send`` ->
``jupyter_client.Session.send``. Since jupyter_client 7.4.2 (PR #852) ``Session.send`` sends on an
asyncio socket through a plain ``zmq.Socket.shadow`` of it. A plain send processes the socket's
pending commands, among them the "a message arrived" signal of the reply if it is already there,
and that signal (the edge on the socket's ``FD``) is what the asyncio poll waits for: the poll then
wakes only when its timeout fires (it then finds the reply and the cell goes on without error).
Seen as cells that sit idle for exactly the cell timeout; ``benchmarks/repro_shadow_send_stall.py``
reproduces it with pyzmq and jupyter_client alone.

The remedy: after each send on an asyncio channel, read ``zmq.EVENTS`` through the asyncio socket.
pyzmq's asyncio socket answers that read by scheduling its pending ``poll``/``recv`` futures when a
message is waiting (``_AsyncSocket.get``), exactly what its own sends do after sending. It is one
getsockopt per message sent by the client (not per message received), and harmless when nothing waits.

:func:`install` applies it; it is active in the project's execution harnesses: the root
``conftest.py`` (every pytest and nbmake worker, ``tests/test_assignments.py``), the book build (this
module is a Sphinx extension, listed in ``book/_config.yml``; jupyter-book 1 / myst-nb execute the
notebooks with nbclient inside the Sphinx process) and ``benchmarks/bench_nb_stalls.py``.
``import lottery_lab`` does not import this module, and nothing here imports jupyter_client or
pyzmq until :func:`install` runs.
"""

from __future__ import annotations

from typing import Any

#: the first jupyter_client whose ``Session.send`` sends on asyncio sockets through a plain shadow
FIRST_AFFECTED_JUPYTER_CLIENT = (7, 4, 2)
_MARK = "_lottery_lab_wakes_poll"


def _version(text: str) -> tuple[int, ...]:
    """``"8.10.0"`` -> ``(8, 10, 0)``; stops at the first part that is not a number (``"8.0.0rc1"`` -> (8, 0))."""
    parts = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def needed(channel_cls: type, base_cls: type, jupyter_client_version: str) -> bool:
    """Whether the asyncio channel class still sends through ``Session.send``'s plain shadow socket.

    False for jupyter_client before 7.4.2 (``Session.send`` used the asyncio socket itself, whose
    sends keep the poll informed) and when the asyncio channel has its own ``send`` (the way an
    upstream fix would most likely go; then this patch stands aside rather than wrap unknown code).
    """
    if _version(jupyter_client_version) < FIRST_AFFECTED_JUPYTER_CLIENT:
        return False
    return "send" not in vars(channel_cls) and getattr(base_cls, "send", None) is not None


def install() -> bool:
    """Make ``AsyncZMQSocketChannel.send`` wake a pending ``poll`` on its socket; idempotent.

    Returns True when the patch is active after the call (now or from an earlier call), False
    when it is not needed for the installed versions or jupyter_client/pyzmq are not installed.
    """
    try:
        import jupyter_client
        import zmq
        import zmq.asyncio
        from jupyter_client.channels import AsyncZMQSocketChannel, ZMQSocketChannel
    except ImportError:
        return False
    current = vars(AsyncZMQSocketChannel).get("send")
    if current is not None and getattr(current, _MARK, False):
        return True
    if not needed(AsyncZMQSocketChannel, ZMQSocketChannel, jupyter_client.__version__):
        return False
    plain_send = ZMQSocketChannel.send

    def send(self: Any, msg: dict[str, Any]) -> None:
        """Send ``msg`` as jupyter_client does, then re-arm the asyncio socket's pending poll."""
        plain_send(self, msg)
        socket = self.socket
        if isinstance(socket, zmq.asyncio.Socket) and not socket.closed:
            socket.get(zmq.EVENTS)

    send.__wrapped__ = plain_send  # type: ignore[attr-defined]
    setattr(send, _MARK, True)
    AsyncZMQSocketChannel.send = send  # type: ignore[method-assign]
    return True


def uninstall() -> None:
    """Restore jupyter_client's own ``AsyncZMQSocketChannel.send`` (for the reproduction's stock runs)."""
    try:
        from jupyter_client.channels import AsyncZMQSocketChannel
    except ImportError:
        return
    current = vars(AsyncZMQSocketChannel).get("send")
    if current is not None and getattr(current, _MARK, False):
        del AsyncZMQSocketChannel.send


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point (``sphinx: extra_extensions: [lottery_lab._nbexec]`` in ``book/_config.yml``)."""
    install()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
