"""One HTTP request at a time, answered with a Response for every status
(the tests assert on 4xx/5xx themselves)."""

import http.client as httpclient
import json
import socket
import ssl
import urllib.parse


def _port_answers(url):
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), 0.5):
            return True
    except OSError:
        return False


class Response:
    """status, headers (lower-case keys), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise AssertionError(
                f"HTTP {self.status} body is not JSON ({exc}): "
                f"{self.body[:500]!r}") from None

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def http(method, url, headers=None, body=None, timeout=5, context=None):
    """One HTTP request; returns a Response for every status (no raising on
    4xx/5xx). Raises OSError only when the server cannot be reached. An
    https:// url is verified with context (default: the system's CAs)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        conn = httpclient.HTTPSConnection(
            parts.hostname, parts.port or 443, timeout=timeout,
            context=context or ssl.create_default_context())
    else:
        conn = httpclient.HTTPConnection(parts.hostname, parts.port or 80,
                                         timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        merged = {}
        for name, value in resp.getheaders():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Response(resp.status, merged, data)
    except httpclient.HTTPException as exc:
        raise ConnectionError(f"{method} {url}: {exc!r}") from exc
    finally:
        conn.close()
