"""Keep-alive connections closed after a number of requests, so that the workers of
``catalogue serve --workers N`` share them evenly.

Worker processes accept connections from one listening socket, and a keep-alive
connection stays with the worker that accepted it. Clients that keep a few connections
open for long (a browser, a proxy, a harvester) can leave one worker with most of them
while another has little to do: sampled under ``bench/web.py``, one worker held 40 of
the 50 connections, and kept them for the whole run. Asking a client to reconnect now
and then (``Connection: close``, as nginx's ``keepalive_requests`` does) lets the least
busy worker, the one waiting in ``accept``, take the new connection: the split came
back to 25/25 within seconds.

Connections are told apart by client address and port. Behind a proxy whose forwarded
address replaces the client's (``--proxy-headers``, port 0), requests are counted per
forwarded address instead: the proxy reconnects a little more often, nothing more.
"""

from __future__ import annotations

from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Requests served on one connection before the response asks the client to reconnect.
REQUESTS_PER_CONNECTION = 100
#: Connections remembered at most (those a client closed itself are forgotten oldest
#: first).
_REMEMBERED = 10_000


class ConnectionRecyclingMiddleware:
    def __init__(self, app: ASGIApp, requests_per_connection: int = REQUESTS_PER_CONNECTION
                 ) -> None:
        self.app = app
        self.every = requests_per_connection
        #: Requests served so far, by client address and port (one open connection each).
        self._served: OrderedDict[tuple[str, int], int] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        if not client or scope.get("http_version") != "1.1":
            await self.app(scope, receive, send)
            return
        key = (client[0], client[1])
        served = self._served.pop(key, 0) + 1
        if served < self.every:
            self._served[key] = served
            if len(self._served) > _REMEMBERED:
                self._served.popitem(last=False)
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"connection"]
                message["headers"] = [*headers, (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, send_closing)
