"""Safe by default: a Host allow-list, an Origin check on ``/ws`` and an optional token.

- **Host**: requests whose ``Host`` is not an allowed name get 400 (WebSocket: closed with
  1008), which defeats DNS rebinding against a loopback server. Loopback names are allowed
  by default; ``Settings.allowed_hosts`` adds more (``*`` allows any).
- **Origin** (``/ws``): a browser's ``Origin`` must name an allowed host, so another site's
  page cannot read the live feed; clients that send no ``Origin`` (not browsers) pass.
- **Token** (``Settings.token``, required by ``liqscope serve`` beyond loopback): every
  request but the static assets needs it, as ``Authorization: Bearer …``, ``?token=…`` or
  the ``liqscope_token`` cookie, which ``/?token=…`` sets so the web UI works unchanged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from liqscope.domain.net import LOOPBACK_HOSTS, is_loopback

__all__ = ["LOOPBACK_HOSTS", "TOKEN_COOKIE", "Guard", "is_loopback"]

TOKEN_COOKIE = "liqscope_token"
PUBLIC_PREFIXES = ("/static/",)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _hostname(value: str) -> str:
    """``example.org`` from a ``Host`` header (``example.org:8000``, ``[::1]:80``)."""
    v = value.strip().lower()
    if v.startswith("["):
        return v[1 : v.find("]")] if "]" in v else v
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class Guard:
    """ASGI middleware enforcing the Host allow-list, the ``/ws`` Origin check and the token."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], token: str | None) -> None:
        self.app = app
        self.hosts = {_hostname(h) for h in (*LOOPBACK_HOSTS, *allowed_hosts)}
        self.any_host = "*" in self.hosts
        self.token = token or None

    def host_ok(self, host: str | None) -> bool:
        return self.any_host or (host is not None and _hostname(host) in self.hosts)

    def origin_ok(self, origin: str | None) -> bool:
        if origin is None:
            return True
        netloc = urlsplit(origin).netloc
        return bool(netloc) and self.host_ok(netloc)

    def token_ok(self, scope: Scope, headers: dict[str, str]) -> bool:
        if self.token is None or str(scope.get("path", "")).startswith(PUBLIC_PREFIXES):
            return True
        given: list[str] = []
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        given += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        cookie = _cookie(headers.get("cookie", ""), TOKEN_COOKIE)
        if cookie:
            given.append(cookie)
        return any(hmac.compare_digest(g.encode(), self.token.encode()) for g in given)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        problem: tuple[int, str] | None = None
        if not self.host_ok(headers.get("host")):
            problem = (400, "host not allowed (see --allow-host)")
        elif kind == "websocket" and not self.origin_ok(headers.get("origin")):
            problem = (403, "origin not allowed")
        elif not self.token_ok(scope, headers):
            problem = (401, "a token is required (Authorization: Bearer, ?token= or cookie)")
        if problem is None:
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[1]})
        else:
            body = b'{"detail":"' + problem[1].encode() + b'"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": problem[0],
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
