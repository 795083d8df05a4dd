"""The load client's reading of replies cut short: the fault tests kill workers mid-reply,
and a cut reply must count as no reply (status 0) in the thread that sent it, never raise
there (an exception escaping a writer thread fails the whole run)."""

from __future__ import annotations

import re
import socket
import threading

import pytest

from bench.load.client import Browser


def _serve_once(head: bytes) -> tuple[str, threading.Thread]:
    """A server that answers one request with `head` and hangs up before the promised body."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer():
        conn, _ = listener.accept()
        with conn, listener:
            conn.settimeout(5)
            _read_request(conn)  # all of it: closing on unread bytes would send a reset
            conn.sendall(head)
            conn.shutdown(socket.SHUT_WR)  # the end of the reply, short of its body
            while conn.recv(65536):  # until the client hangs up
                pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    while length and len(body) < int(length.group(1)):
        body += conn.recv(65536)


@pytest.mark.parametrize("status", [b"200 OK", b"302 FOUND", b"422 UNPROCESSABLE ENTITY"])
def test_a_reply_cut_between_headers_and_body_is_no_reply(status):
    head = b"HTTP/1.1 " + status + b"\r\nLocation: /x\r\nContent-Length: 203\r\n\r\n"
    base, thread = _serve_once(head)
    reply = Browser(base, timeout=5).post("/notes", {"a": "1"})
    thread.join(5)
    assert reply.status == 0
    assert "IncompleteRead" in reply.error


def test_a_whole_redirect_is_read():
    head = b"HTTP/1.1 302 FOUND\r\nLocation: /done\r\nContent-Length: 2\r\n\r\nok"
    base, thread = _serve_once(head)
    reply = Browser(base, timeout=5).post("/notes", {"a": "1"})
    thread.join(5)
    assert (reply.status, reply.location) == (302, "/done")
