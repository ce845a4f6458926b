"""HTTP/1.1 for the emulator: h11 parses and frames every message; this module only moves bytes.

h11 (python-hyper's HTTP/1.1 state machine) does what used to be hand-written here: it accepts a
Content-Length of digits only and one value (``-1`` or ``abc`` is a 400 before anything else happens), decodes
chunked transfer coding, refuses conflicting or unknown framing, caps the request head (431), frames answers
(a HEAD answer carries the GET's Content-Length and no body) and knows when a connection may be kept alive.

The application sees a request's line and headers first and reads the body itself, as far as it chooses
(``Body.chunks``): a refused request is answered without its body being read, and its connection is then
closed rather than drained. One thread per connection (``socketserver``), TCP_NODELAY so that a keep-alive
answer leaves at once instead of waiting ~40 ms for the client's delayed ACK.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import BinaryIO, cast

import h11

READ_SIZE = 64 * 1024
SEND_CHUNK = 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024
#: how long a refused request's answer may take to leave before its connection is reset
CLOSE_GRACE_SECONDS = 1.0


class BodyError(Exception):
    """The request body cannot be read: bad framing, too large, a timeout, or a connection that broke."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectionLost(BodyError):
    """The client went quiet past the timeout, or its connection broke."""


@dataclass
class Incoming:
    method: str
    target: str  # exactly as sent: path?query
    headers: list[tuple[str, str]]  # lower-case names, in the order received
    body: Body


@dataclass
class Outgoing:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | BinaryIO = b""  # an open file is streamed, then closed


App = Callable[[Incoming], Outgoing]
#: the answer to a request that could not be parsed (status, reason): 400, 408, 413, 431, 501...
ErrorApp = Callable[[int, str], Outgoing]


class Body:
    """A request body, read from the connection only when, and as far as, the application asks."""

    def __init__(self, connection: _Connection, length: int | None) -> None:
        self._connection = connection
        self.length = length  # Content-Length, or None for a chunked body
        self.received = 0

    def chunks(self, limit: int) -> Iterator[bytes]:
        """The body piece by piece as it arrives; BodyError 413 as soon as it would exceed ``limit`` bytes."""
        if self.length is not None and self.length > limit:
            raise BodyError(413, f"the request body of {self.length} bytes exceeds the limit of {limit}")
        self._connection.continue_if_asked()
        while True:
            event = self._connection.next_event()
            if isinstance(event, h11.Data):
                self.received += len(event.data)
                if self.received > limit:
                    raise BodyError(413, f"the request body exceeds the limit of {limit} bytes")
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise BodyError(400, "the connection ended before the request body was complete")


class _Connection(socketserver.BaseRequestHandler):
    server: _Listener
    request: socket.socket

    def setup(self) -> None:
        self.sock = self.request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.server.owner.timeout)
        self.protocol = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.server.owner.track(self.sock)

    def finish(self) -> None:
        self.server.owner.untrack(self.sock)

    def next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self.protocol.next_event()
            except h11.RemoteProtocolError as exc:
                raise BodyError(exc.error_status_hint, f"malformed request: {exc}") from exc
            if event is not h11.NEED_DATA:
                return cast("h11.Event | type[h11.PAUSED]", event)
            try:
                data = self.sock.recv(READ_SIZE)
            except TimeoutError as exc:
                raise ConnectionLost(408, "the client sent nothing in time") from exc
            except OSError as exc:
                raise ConnectionLost(400, f"the connection broke: {exc}") from exc
            self.protocol.receive_data(data)  # b"": the client closed its side

    def continue_if_asked(self) -> None:
        """A client that sent ``Expect: 100-continue`` sends its body only once told to (a refused request
        is answered without the client ever sending its body)."""
        if self.protocol.they_are_waiting_for_100_continue:
            try:
                self.sock.sendall(
                    self.protocol.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            except OSError as exc:
                raise ConnectionLost(400, f"the connection broke: {exc}") from exc

    def handle(self) -> None:
        owner = self.server.owner
        while True:
            idle = not self.protocol.trailing_data[0]
            try:
                event = self.next_event()
            except BodyError as exc:
                if not (idle and isinstance(exc, ConnectionLost)):  # not an idle keep-alive ending
                    self._send(owner.on_error(exc.status, exc.message), head=False)
                    self._close_unread()
                return
            if not isinstance(event, h11.Request):
                return  # the client closed the connection
            request = Incoming(
                event.method.decode("ascii"),
                event.target.decode("latin-1"),
                [(name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers],
                Body(self, _length(event)),
            )
            try:
                response = owner.app(request)
            except BodyError as exc:
                response = owner.on_error(exc.status, exc.message)
            except Exception as exc:  # the HTTP boundary: answer 500 rather than drop the connection
                response = owner.on_error(500, f"emulator error: {exc!r}")
            if not self._send(response, head=request.method == "HEAD"):
                self._close_unread()
                return
            self.protocol.start_next_cycle()

    def _body_done(self) -> bool:
        """Whether the request was read to its end, counting only bytes already received (never waiting)."""
        while self.protocol.their_state is h11.SEND_BODY:
            try:
                event = self.protocol.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA or not isinstance(event, h11.Data | h11.EndOfMessage):
                return False
        return self.protocol.their_state is h11.DONE

    def _send(self, response: Outgoing, head: bool) -> bool:
        """Send the answer; True when the connection can serve another request."""
        headers = list(response.headers)
        if not self._body_done():
            headers.append(("connection", "close"))  # the body was refused unread: never drain it
        body = response.body
        try:
            try:
                reason = HTTPStatus(response.status).phrase
            except ValueError:
                reason = ""
            data = (
                self.protocol.send(
                    h11.Response(
                        status_code=response.status,
                        headers=[(n.encode("latin-1"), v.encode("latin-1", "replace")) for n, v in headers],
                        reason=reason,
                    )
                )
                or b""
            )
            if isinstance(body, bytes):
                if body and not head:
                    data += self.protocol.send(h11.Data(data=body)) or b""
                self.sock.sendall(data + (self.protocol.send(h11.EndOfMessage()) or b""))
            else:
                self.sock.sendall(data)
                while not head and (chunk := body.read(SEND_CHUNK)):
                    self.sock.sendall(self.protocol.send(h11.Data(data=chunk)) or b"")
                self.sock.sendall(self.protocol.send(h11.EndOfMessage()) or b"")
        except (OSError, h11.LocalProtocolError):
            return False
        finally:
            if not isinstance(body, bytes):
                body.close()
        return self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE

    def _close_unread(self) -> None:
        """End a connection whose request body may be unread: the answer leaves, nothing more is read.

        Closing a socket with unread input resets it, which may discard an answer still in the send queue;
        so the write side is shut first and the answer given a moment to be acknowledged.
        """
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        while time.monotonic() < deadline and _unsent_bytes(self.sock) > 0:
            time.sleep(0.002)


def _unsent_bytes(sock: socket.socket) -> int:
    """Bytes in the socket's send queue not yet acknowledged (Linux); elsewhere 0 after a short pause."""
    try:
        import fcntl
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return int(struct.unpack("I", raw)[0])
    except (ImportError, AttributeError, OSError):
        time.sleep(0.05)
        return 0


def _length(request: h11.Request) -> int | None:
    """The body length h11 frames the request with: Content-Length, None for chunked, 0 without either."""
    values = dict(request.headers)
    if b"transfer-encoding" in values:
        return None
    return int(values.get(b"content-length", b"0"))


class _Listener(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # a restarted emulator gets its port back at once
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: HttpServer) -> None:
        self.owner = owner
        super().__init__(address, _Connection)


class HttpServer:
    """Serve ``app`` on ``host:port`` (0 picks a free port, readable as ``port`` after ``start``)."""

    def __init__(self, host: str, port: int, app: App, on_error: ErrorApp, timeout: float = 120.0) -> None:
        self.host = host
        self.port = port
        self.app = app
        self.on_error = on_error
        self.timeout = timeout  # a connection silent this long (between or within requests) is closed
        self._listener: _Listener | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self, thread_name: str = "http") -> int:
        self._listener = _Listener((self.host, self.port), self)
        self.port = self._listener.server_address[1]
        threading.Thread(target=self._listener.serve_forever, name=thread_name, daemon=True).start()
        return self.port

    def stop(self) -> None:
        """Stop listening and end every open connection (keep-alive ones would otherwise go on)."""
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
            self._listener = None
        with self._lock:
            connections, self._connections = set(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
