"""Calls in flight: sent to the local AWS and not yet answered.

A test that kills a client (SIGKILL, a second Ctrl-C) needs to know when what the client had
already sent has been dealt with: every call answered (or its connection found dead), every
late landing landed. Counting inside the WSGI app alone would miss a call whose bytes have
reached this machine but not yet the app: a connection waiting in the listener's accept queue,
or accepted and still being read by its handler thread. So a call is counted from its
connection on:

- in the listener's accept queue: read from the kernel (`TCP_INFO` on a listening socket gives
  the queue length in `tcpi_unacked`; Linux only, elsewhere 0);
- accepted: registered under the same lock the accept runs under, so a connection is never in
  neither place; werkzeug answers one request per connection (it sends `Connection: close`);
- until the app has its answer ready (werkzeug writes it next, so a client holding its answer
  never sees its call still counted) or its reset decided, or until the handler thread is done
  with a connection that never got that far;
- a `late` call's landing, from the reset until it has gone through moto (or was dropped by a
  reset of the local AWS when its time came).

Control calls are not counted (their connection is, until the app sees the control path).
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
from typing import Any, Callable

# struct tcp_info: eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked.
_TCPI_UNACKED = 24


class Flights:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        # id(connection) -> the call's record once the app has identified it.
        self.open: dict[int, dict[str, Any] | None] = {}
        self.landings: dict[int, dict[str, Any]] = {}
        self._tokens = itertools.count()

    def accept(self, accept: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
        """Runs the listener's accept and registers the connection in one step."""
        with self.lock:
            connection, address = accept()
            self.open[id(connection)] = None
        return connection, address

    def identified(self, connection: Any, record: dict[str, Any]) -> None:
        with self.lock:
            if id(connection) in self.open:
                self.open[id(connection)] = record

    def done(self, connection: Any) -> None:
        """Answered, reset, a control call, or closed: no longer in flight."""
        with self.lock:
            self.open.pop(id(connection), None)

    def landing(self, record: dict[str, Any]) -> int:
        token = next(self._tokens)
        with self.lock:
            self.landings[token] = record
        return token

    def landed(self, token: int) -> None:
        with self.lock:
            self.landings.pop(token, None)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            records = [r for r in self.open.values() if r is not None]
            records += list(self.landings.values())
            count = len(self.open) + len(self.landings) + self._queued()
        calls = [
            {"service": r["service"], "operation": r["operation"], "fault": r["fault"]}
            for r in records
        ]
        return {"inflight": count, "calls": calls}

    def _queued(self) -> int:
        if self.listener is None or not hasattr(socket, "TCP_INFO"):
            return 0
        try:
            info = self.listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            return struct.unpack_from("I", info, _TCPI_UNACKED)[0]
        except (OSError, struct.error):
            return 0
