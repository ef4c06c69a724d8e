"""What every response of the web app carries, and which requests it answers at all.

- Host check (DNS rebinding): a page on evil.example whose name is made to resolve to 127.0.0.1 can make the
  browser call this server with its own origin. Such requests carry `Host: evil.example`, so only names we
  know are answered: localhost, the address served on, names given with --allow-host, and IP literals
  (rebinding needs a name; a literal address can only be typed by someone who can reach the server anyway).
- nosniff on everything (an upload is never rendered as HTML), and a Content-Security-Policy: the page loads
  only its own files; /docs, Swagger UI's page, needs its inline start-up script and styles.
"""
from __future__ import annotations

import ipaddress
import json

PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
LOCAL_NAMES = ("localhost",)


def host_name(header: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:8000' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class Guards:
    """ASGI middleware: 421 for a Host that is not ours, security headers on every response.
    `bound_host` None: no Host check (the app in-process, as tests and benchmarks drive it)."""

    def __init__(self, app, bound_host: str | None = "127.0.0.1", allowed_hosts: tuple[str, ...] = ()):
        self.app = app
        self.check = bound_host is not None
        self.names = {*LOCAL_NAMES, host_name(bound_host or ""), *(host_name(h) for h in allowed_hosts)}

    def allowed(self, header: str | None) -> bool:
        if not self.check or not header:  # HTTP/1.0 without Host: no browser sends that
            return True
        name = host_name(header)
        return name in self.names or is_ip(name) or name.endswith(".localhost")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        csp = DOCS_CSP if scope["path"] == "/docs" else PAGE_CSP

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff"),
                                      (b"content-security-policy", csp.encode())]
            await send(message)

        if not self.allowed(host):
            body = json.dumps({"detail": f"Host '{host[:100]}' is not served here; start `bakeoff serve` with "
                                         f"--allow-host {host_name(host)[:100]} to allow it"}).encode()
            await send_with_headers({"type": "http.response.start", "status": 421,
                                     "headers": [(b"content-type", b"application/json"),
                                                 (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})
        return await self.app(scope, receive, send_with_headers)
