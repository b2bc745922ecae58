"""Connection-level limits of the service: reads under one deadline, and refusing a connection
without giving it a thread.

A per-read socket timeout does not stop a client that sends one byte a second (each read
succeeds), so a request's line and headers share one deadline. A connection over the thread
limit is answered 503 from the accepting thread and then drained by one background thread:
closing a socket with unread request bytes makes the kernel send a reset, which can destroy the
answer before the client reads it.
"""

from __future__ import annotations

import io
import math
import selectors
import socket
import threading
import time

DRAIN_S = 2.0
"""How long a refused connection may keep sending before it is closed anyway."""


class DeadlineReader(io.RawIOBase):
    """Socket reads that all end by one deadline, set per request with `start`."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = math.inf
        self.received = 0
        """Bytes read since `start`: none means the client was idle, not slow."""

    def start(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the read deadline passed")
        self._sock.settimeout(remaining)
        n = self._sock.recv_into(buffer)
        self.received += n
        return n


class Refuser:
    """Answers connections the server has no thread for, on one thread of its own."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kgprune-refuser", daemon=True)
        self._thread.start()

    def refuse(self, sock: socket.socket, reply: bytes) -> None:
        """Send `reply` (a whole HTTP response, small enough for the socket buffer), then drain
        and close `sock` in the background. Never blocks the caller."""
        try:
            sock.setblocking(False)
            sock.send(reply)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        with self._lock:
            if self._closed:
                sock.close()
                return
            self._deadlines[sock] = time.monotonic() + DRAIN_S
            self._selector.register(sock, selectors.EVENT_READ)
        self._wake_w.send(b"\0")

    def _run(self) -> None:
        while True:
            events = self._selector.select(timeout=0.2)
            with self._lock:
                if self._closed:
                    return
                for key, _ in events:
                    if key.fileobj is self._wake_r:
                        self._wake_r.recv(4096)
                    else:
                        self._drain(key.fileobj)  # type: ignore[arg-type]
                now = time.monotonic()
                for sock in [s for s, d in self._deadlines.items() if d < now]:
                    self._forget(sock)

    def _drain(self, sock: socket.socket) -> None:
        try:
            if sock.recv(1 << 16):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._forget(sock)

    def _forget(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        del self._deadlines[sock]
        sock.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for sock in list(self._deadlines):
                self._forget(sock)
        self._wake_w.send(b"\0")
        self._thread.join(timeout=5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
