"""Keep-alive connections are asked to reconnect after a number of requests."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope, Send

from web.connections import REQUESTS_PER_CONNECTION, ConnectionRecyclingMiddleware


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _connection_header(app: ConnectionRecyclingMiddleware, port: int,
                       http_version: str = "1.1") -> bytes:
    started: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.append(message)

    scope = {"type": "http", "http_version": http_version, "method": "GET", "path": "/",
             "headers": [], "client": ("127.0.0.1", port)}
    asyncio.run(app(scope, receive, send))
    headers: list[bytes] = [v for k, v in started[0]["headers"] if k == b"connection"]
    assert len(headers) == 1
    return headers[0]


def test_every_hundredth_request_of_a_connection_asks_to_reconnect() -> None:
    app = ConnectionRecyclingMiddleware(_page)
    first = [_connection_header(app, 5000) for _ in range(REQUESTS_PER_CONNECTION)]
    assert first[:-1] == [b"keep-alive"] * (REQUESTS_PER_CONNECTION - 1)
    assert first[-1] == b"close"
    # the next connection from that port starts again; another connection counts apart
    assert _connection_header(app, 5000) == b"keep-alive"
    assert {_connection_header(app, 5001) for _ in range(REQUESTS_PER_CONNECTION - 1)} == {
        b"keep-alive"}
    assert _connection_header(app, 5001) == b"close"


def test_connections_other_than_http_1_1_are_left_alone() -> None:
    app = ConnectionRecyclingMiddleware(_page, requests_per_connection=1)
    assert _connection_header(app, 5000, http_version="1.0") == b"keep-alive"
    assert _connection_header(app, 5000) == b"close"
