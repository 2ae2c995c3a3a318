"""A lean HTTP/1.1 load client: one thread drives every keep-alive connection through a selector.

The benchmark clients share the machine's cores with the server, so they should cost as little as possible:
requests are built once per distinct body and sent as ready bytes, each connection has at most one request in
flight (no pipelining: every client waits for its answer before it sends the next), and answers are parsed only
as far as HTTP/1.1 framing needs (status line, ``Content-Length``, ``Connection: close``). Each answer's body is
handed to the caller whole, so nothing the caller checks is skipped.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HEADER_END = b"\r\n\r\n"


class Framing(Exception):
    """An answer the lean parser does not take (no Content-Length, a malformed status line)."""


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float  # from the first byte sent to the last byte received


@dataclass
class _Connection:
    index: int
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    started: float = 0.0


def request_bytes(method: str, path: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    """One complete HTTP/1.1 request, ready to send on a keep-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse(buffer: bytearray) -> tuple[int, bytes, bool, int] | None:
    """(status, body, server closes, bytes used) of the first complete answer in ``buffer``; None when partial."""
    end = buffer.find(HEADER_END)
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    if not head.startswith(b"http/1.1 ") or not head[9:12].isdigit():
        raise Framing(f"unexpected status line {head[:40]!r}")
    marker = head.find(b"\r\ncontent-length:")
    if marker < 0:
        raise Framing("answer without Content-Length")
    value_end = head.find(b"\r\n", marker + 2)
    length = int(head[marker + 17:value_end if value_end >= 0 else len(head)])
    start = end + len(HEADER_END)
    if len(buffer) < start + length:
        return None
    closes = b"\r\nconnection: close" in head
    return int(head[9:12]), bytes(buffer[start:start + length]), closes, start + length


def run(port: int, clients: int, deadline: float, next_request: Callable[[int], bytes | None],
        on_answer: Callable[[int, Answer], bool], on_error: Callable[[int, str], None], *,
        timeout: float) -> None:
    """Keep ``clients`` connections busy until ``deadline`` (``time.perf_counter``), one request in flight each.

    ``next_request(client)`` gives the next request's bytes, or None when that client is done;
    ``on_answer(client, answer)`` returns False to stop that client; ``on_error`` gets connection failures
    (the connection is then reopened). Returns when every client stopped, or nothing answered for ``timeout``.
    """
    selector = selectors.DefaultSelector()

    def connect(index: int) -> _Connection:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return _Connection(index, sock)

    def send_next(connection: _Connection) -> bool:
        request = next_request(connection.index) if time.perf_counter() < deadline else None
        if request is None:
            return False
        connection.started = time.perf_counter()
        sent = connection.sock.send(request)  # a request fits the socket buffer; the rest, if any, blocking
        if sent < len(request):
            connection.sock.setblocking(True)
            connection.sock.sendall(request[sent:])
            connection.sock.setblocking(False)
        return True

    def start(index: int) -> None:
        try:
            connection = connect(index)
        except OSError as error:  # the server is gone: this client stops
            on_error(index, f"connect:{type(error).__name__}")
            return
        if send_next(connection):
            selector.register(connection.sock, selectors.EVENT_READ, connection)
        else:
            connection.sock.close()

    def stop(connection: _Connection) -> None:
        selector.unregister(connection.sock)
        connection.sock.close()

    for index in range(clients):
        start(index)
    try:
        while selector.get_map():
            ready = selector.select(timeout)
            if not ready:
                for key in list(selector.get_map().values()):
                    on_error(key.data.index, "timeout")
                    stop(key.data)
                return
            for key, _ in ready:
                connection = key.data
                try:
                    data = connection.sock.recv(65536)
                    if not data:
                        raise ConnectionResetError("closed by the server")
                    connection.buffer += data
                    parsed = _parse(connection.buffer)
                except (OSError, Framing) as error:
                    on_error(connection.index, f"connection:{type(error).__name__}")
                    stop(connection)
                    start(connection.index)
                    continue
                if parsed is None:
                    continue
                status, body, closes, used = parsed
                del connection.buffer[:used]
                keep_going = on_answer(connection.index, Answer(status, body, time.perf_counter() - connection.started))
                if closes:
                    stop(connection)
                    if keep_going:
                        start(connection.index)
                elif not (keep_going and send_next(connection)):
                    stop(connection)
    finally:
        for key in list(selector.get_map().values()):
            key.data.sock.close()
        selector.close()
