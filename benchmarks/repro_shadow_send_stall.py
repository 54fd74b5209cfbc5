"""Minimal reproduction: a send through ``jupyter_client.Session.send`` on a ``zmq.asyncio`` socket
hides an already-arrived message from a pending ``await socket.poll(timeout)`` until the timeout.

No kernel. A plain ``ROUTER`` socket plays the kernel; the client is jupyter_client's
``AsyncZMQSocketChannel`` on a ``zmq.asyncio`` ``DEALER``, as nbclient's shell channel is:

1. the client sends a request; the "kernel" receives it;
2. the client starts waiting for the reply: ``await channel.get_msg(timeout=T)`` (an asyncio ``poll``),
   exactly as nbclient awaits a cell's ``execute_reply``;
3. the "kernel" sends the reply; the script blocks (without running the event loop) until the client
   socket's ``FD`` is readable, i.e. libzmq has queued the reply and signalled it;
4. before the event loop runs again, the client sends one more message on the same socket, as
   nbclient's ``OutputWidget.sync_state`` does from its IOPub task (a ``comm_msg``);
5. the event loop runs; we time how long the pending ``get_msg`` still takes.

Expected: the reply is already there, so the wait ends at once (milliseconds).
Observed with ``channel.send`` (``Session.send``, which since jupyter_client 7.4.2 sends through a plain
``zmq.Socket.shadow`` of the asyncio socket): the wait ends only when the poll times out (T). The plain
send processes the socket's command mailbox, which consumes the edge on ``FD`` that the asyncio poll
watches; the poll's final ``poll(0)`` at the timeout then finds the reply, so nothing fails, it is just
late. Controls: no send in step 4, or the asyncio socket's own ``await send_multipart`` (pyzmq re-checks
``EVENTS`` after its own sends): no wait. Reading ``socket.get(zmq.EVENTS)`` through the asyncio socket
right after ``channel.send`` (what ``lottery_lab._nbexec.install()`` adds): no wait.

Measured here (Python 3.11.7, pyzmq 27.3.0 / libzmq 4.3.5, jupyter_client 8.10.0, Linux x86_64), 5
trials each, T = 2 s: after the Session.send the wait lasted 1.9 s in every trial (the rest of T:
the poll had been waiting 0.1 s); the three others at most 1 ms.

    python benchmarks/repro_shadow_send_stall.py [--trials N] [--timeout T]

Upstream context: jupyter/nbclient #312 and PR #311, jupyter/jupyter_client PR #852 (the shadow send)
and PR #1059, zeromq/pyzmq #2173.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import select
import statistics
import sys
import time

import jupyter_client
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

VARIANTS = {
    "no send while waiting (control)": "none",
    "channel.send -> Session.send (plain shadow socket)": "shadow",
    "await asyncio_socket.send_multipart (pyzmq's own async send)": "async",
    "channel.send, then asyncio_socket.get(zmq.EVENTS) (the remedy)": "remedy",
}


async def wait_after_send(variant: str, timeout: float) -> float:
    """Seconds a pending ``get_msg(timeout)`` still waits for a reply that had already arrived."""
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
        waiting = asyncio.ensure_future(channel.get_msg(timeout=timeout))
        await asyncio.sleep(0.1)  # the poll is registered and idle
        session.send(kernel, "execute_reply", content={"status": "ok"}, parent=request["header"], ident=[ident])
        if not select.select([sock.FD], [], [], 10)[0]:
            raise RuntimeError("the reply was not signalled on the client socket within 10 s")
        comm = session.msg("comm_msg", content={"comm_id": "0", "data": {"method": "update", "state": {}}})
        if variant in ("shadow", "remedy"):
            channel.send(comm)
            if variant == "remedy":
                sock.get(zmq.EVENTS)
        elif variant == "async":
            await sock.send_multipart(session.serialize(comm))
        start = time.monotonic()
        reply = await waiting
        waited = time.monotonic() - start
        assert reply["msg_type"] == "execute_reply", reply["msg_type"]
        return waited
    finally:
        sock.close(linger=0)
        kernel.close(linger=0)
        actx.term()
        pctx.term()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=2.0, help="the pending poll's timeout T, seconds")
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()}), "
          f"jupyter_client {jupyter_client.__version__}, {sys.platform}; poll timeout T = {args.timeout} s")
    for label, variant in VARIANTS.items():
        waits = [asyncio.run(wait_after_send(variant, args.timeout)) for _ in range(args.trials)]
        print(f"  {label:66s} median {statistics.median(waits):6.3f} s, max {max(waits):6.3f} s "
              f"({args.trials} trials)")


if __name__ == "__main__":
    main()
