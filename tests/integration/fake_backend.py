#!/usr/bin/python3
"""fake_backend: the QiFlow central backend's heartbeat endpoint, as it
really behaves (shared/reference/central-backend.md), on 127.0.0.1.

Routes (everything under /api counts against the rate limiter):
  POST /api/v1/swarms/heartbeat   the working heartbeat route
  POST /api/v1/swarms/swarms      register a swarm ({"swarm_id": ...})
  GET  /api/v1/swarms/swarms/<id> read a swarm
  anything else                   404 {"success":false,"error":"Not found"}
  (so the documented POST /api/v1/heartbeat answers 404 "Not found")

Heartbeat rules: Authorization "Bearer <key>" or "ApiKey <key>" (none: 401
"Missing authorization header"; wrong: 403 "Invalid API key");
Content-Type application/json required (none: 500, form: 400); gzip bodies
inflated; swarm_id required (400); the swarm must be registered (404 "Swarm
not found. Please register the swarm first."); status outside
online/offline/degraded: 500 "Failed to process heartbeat"; health_status
with a missing or non-number percent: 400.

Rate limit: `limit` requests per `window` seconds per client IP, a fixed
window starting at the client's first request (as express-rate-limit),
every /api request counted (4xx and 429s too); over it: 429 with
Retry-After and "RateLimit-Policy: <limit>;w=<window>".

The poller (the backend's second door, off unless poll_interval is given):
every poll_interval seconds (30 in the real one), for every swarm registered
with a host_url, GET host_url + "/status" (string concatenation, so a
trailing slash asks for //status) with only Content-Type: application/json
and a poll_timeout (5 s); stored status: offline if the body's status is
"offline", else degraded if cpu > 90 or memory > 90, else online; offline
on any failure (connection, timeout, non-2xx, not JSON). It stores
health_status {cpu_percent, memory_percent, disk_percent} from cpu, memory,
disk and active_agents from agents.active as given (nulls included), then
GET host_url + "/project/completion" (failures ignored) for completion
(stored as numeric(5,2) is read back: "63.00", as from a heartbeat).
After each round, swarms not seen for offline_after seconds (60) are marked
offline. rows() is the stored row per swarm (status, health_status,
active_agents, project_completion, last_seen, door: "heartbeat", "poller"
or "sweep"); history() every status written, in order; writes() every
whole row as written.

Test controls: refuse() closes the listener (connections refused) and
resume() opens it again on the same port; hang(seconds) holds answers;
force(status, count, headers, body) answers canned statuses. Every request
is recorded in order. The server stops by itself after `lifetime` seconds.
"""

import argparse
import gzip
import http.client
import json
import math
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEARTBEAT_PATH = "/api/v1/swarms/heartbeat"
REGISTER_PATH = "/api/v1/swarms/swarms"
STATUSES = ("online", "offline", "degraded")
PERCENTS = ("cpu_percent", "memory_percent", "disk_percent")
RATE_MESSAGE = "Too many requests from this IP, please try again later."


class Record:
    """One request as the fake saw it and what it answered."""

    def __init__(self, when, method, path, headers, raw, client):
        self.time = when
        self.method = method
        self.path = path
        self.headers = headers
        self.raw = raw
        self.client = client
        self.body = None
        self.status = None
        self.answer = None

    def __repr__(self):
        hid = self.body.get("heartbeat_id") if isinstance(self.body, dict) \
            else None
        return f"<{self.method} {self.path} -> {self.status} id={hid}>"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _peek_json(rec):
    """The request's JSON body (inflated), or None: for the record only."""
    raw = rec.raw
    try:
        if rec.headers.get("content-encoding", "") == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, ValueError):
        return None


class FakeBackend:
    """The fake central backend; start() binds 127.0.0.1:port (0: any)."""

    def __init__(self, api_keys=("test-key",), swarms=(), limit=100,
                 window=900.0, port=0, lifetime=600.0, poll_interval=None,
                 poll_timeout=5.0, offline_after=60.0):
        self.api_keys = set(api_keys)
        self.swarms = set(swarms)
        self.hosts = {}             # swarm_id -> host_url (registration)
        self._rows = {}             # swarm_id -> the stored row
        self._history = []          # (monotonic, swarm_id, status, door)
        self._writes = []           # (monotonic, the whole row as written)
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self.offline_after = offline_after
        self.poll_rounds = 0
        self._poller = None
        self.limit = limit
        self.window = window
        self.port = port
        self.lifetime = lifetime
        self.records = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._clients = {}          # ip -> [window start, count]
        self._forced = []           # [status, remaining, headers, body]
        self._hang_until = 0.0
        self._released = threading.Event()
        self._server = None
        self._thread = None
        self._timer = None
        self._stopped = False

    # ------------------------------------------------------------ control

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{HEARTBEAT_PATH}"

    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._listen()
        if self.poll_interval is not None:
            self._poller = threading.Thread(target=self._poll_loop,
                                            daemon=True)
            self._poller.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _listen(self):
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def refuse(self):
        """Close the listener: new connections are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def resume(self):
        """Listen again on the same port."""
        if self._server is None and not self._stopped:
            deadline = time.monotonic() + 10
            while True:
                try:
                    self._listen()
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    def hang(self, seconds):
        """Hold every answer for `seconds` (0: answer at once again)."""
        with self.lock:
            self._hang_until = time.monotonic() + seconds
        if seconds <= 0:
            self._released.set()
        else:
            self._released.clear()

    def force(self, status, count=1, headers=None, body=None):
        """Answer the next `count` heartbeat requests with `status` (count
        None: until clear_forced)."""
        if body is None:
            body = {"success": False,
                    "error": "Internal server error" if status >= 500
                    else f"forced {status}"}
        with self.lock:
            self._forced.append([status, count, dict(headers or {}), body])

    def clear_forced(self):
        with self.lock:
            self._forced.clear()

    def register(self, swarm_id, host_url=None):
        """Register a swarm; with host_url the poller reads it."""
        with self.lock:
            self.swarms.add(swarm_id)
            if host_url is not None:
                self.hosts[swarm_id] = host_url

    def rows(self):
        """The stored row of every swarm written so far (copies)."""
        with self.lock:
            return {k: dict(v) for k, v in self._rows.items()}

    def history(self, swarm_id=None):
        """Every stored status write: (monotonic time, swarm, status,
        door, health_status as stored), oldest first."""
        with self.lock:
            return [h for h in self._history
                    if swarm_id is None or h[1] == swarm_id]

    def writes(self, swarm_id=None):
        """Every write of a row: (monotonic time, a copy of the whole row
        as it stood after the write, door included), oldest first."""
        with self.lock:
            return [(t, dict(r)) for t, r in self._writes
                    if swarm_id is None or r["swarm_id"] == swarm_id]

    def _store(self, swarm_id, door, status, **fields):
        """Write a swarm's row as the backend's UPDATE does."""
        with self.changed:
            row = self._rows.setdefault(swarm_id, {
                "swarm_id": swarm_id, "status": None, "health_status": None,
                "active_agents": None, "project_completion": None,
                "last_seen": None, "last_seen_mono": None, "door": None})
            row.update(fields, status=status, door=door)
            if door != "sweep":
                row["last_seen"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime())
                row["last_seen_mono"] = time.monotonic()
            self._history.append((time.monotonic(), swarm_id, status, door,
                                  dict(row["health_status"] or {})))
            self._writes.append((time.monotonic(), dict(
                row, health_status=dict(row["health_status"])
                if row["health_status"] is not None else None)))
            self.changed.notify_all()
            return dict(row)

    # ------------------------------------------------------------ poller

    def _get_json(self, url):
        """GET url with only Content-Type: application/json; the JSON body
        of a 2xx answer, else None (any failure)."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                              timeout=self.poll_timeout)
            try:
                conn.putrequest("GET", path or "/", skip_accept_encoding=True)
                conn.putheader("Content-Type", "application/json")
                conn.endheaders()
                resp = conn.getresponse()
                data = resp.read()
                if not 200 <= resp.status < 300:
                    return None
                return json.loads(data)
            finally:
                conn.close()
        except (OSError, ValueError, http.client.HTTPException):
            return None

    @staticmethod
    def determine_status(body):
        """The poller's determineStatus."""
        if body.get("status") == "offline":
            return "offline"
        cpu, memory = body.get("cpu"), body.get("memory")
        if (_is_number(cpu) and cpu > 90) or \
                (_is_number(memory) and memory > 90):
            return "degraded"
        return "online"

    def poll_once(self):
        """One poller round over every swarm registered with a host_url,
        then the sweep of swarms not seen for offline_after seconds."""
        with self.lock:
            targets = list(self.hosts.items())
        for swarm_id, host in targets:
            body = self._get_json(host + "/status")
            if not isinstance(body, dict):
                self._store(swarm_id, "poller", "offline")
                continue
            agents = body.get("agents")
            fields = {"health_status": {
                "cpu_percent": body.get("cpu"),
                "memory_percent": body.get("memory"),
                "disk_percent": body.get("disk")},
                "active_agents": agents.get("active")
                if isinstance(agents, dict) else None}
            done = self._get_json(host + "/project/completion")
            if isinstance(done, dict) and "completion" in done:
                # numeric(5,2), read back as a string, as for heartbeats
                c = done["completion"]
                fields["project_completion"] = \
                    f"{float(c):.2f}" if _is_number(c) else c
            self._store(swarm_id, "poller", self.determine_status(body),
                        **fields)
        now = time.monotonic()
        with self.lock:
            stale = [k for k, r in self._rows.items()
                     if r["status"] != "offline" and r["last_seen_mono"]
                     is not None and now - r["last_seen_mono"] >
                     self.offline_after]
        for swarm_id in stale:
            self._store(swarm_id, "sweep", "offline")
        with self.changed:
            self.poll_rounds += 1
            self.changed.notify_all()

    def _poll_loop(self):
        while not self._stopped:
            self.poll_once()
            deadline = time.monotonic() + self.poll_interval
            while not self._stopped and time.monotonic() < deadline:
                time.sleep(min(0.05, self.poll_interval))

    def stop(self):
        self._stopped = True
        self._released.set()
        if self._timer is not None:
            self._timer.cancel()
        self.refuse()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ queries

    def requests(self, path=HEARTBEAT_PATH):
        with self.lock:
            return [r for r in self.records if path is None or r.path == path]

    def delivered(self):
        """Bodies the heartbeat route accepted (200), in arrival order."""
        return [r.body for r in self.requests() if r.status == 200]

    def delivered_ids(self):
        return [b["heartbeat_id"] for b in self.delivered()]

    def statuses(self):
        return [r.status for r in self.requests()]

    def wait_for(self, predicate, timeout):
        """Wait until predicate(self) holds; returns its value or None."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with self.changed:
                self.changed.wait(min(left, 0.2))

    # ------------------------------------------------------------ logic

    def _rate_check(self, client, now):
        """None when allowed, else the seconds until the window resets."""
        with self.lock:
            start, count = self._clients.get(client, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            count += 1
            self._clients[client] = (start, count)
            if count > self.limit:
                return max(1, math.ceil(start + self.window - now))
        return None

    def _take_forced(self):
        with self.lock:
            while self._forced:
                entry = self._forced[0]
                if entry[1] is not None and entry[1] <= 0:
                    self._forced.pop(0)
                    continue
                if entry[1] is not None:
                    entry[1] -= 1
                return entry[0], entry[2], entry[3]
        return None

    def _wait_hang(self):
        while True:
            with self.lock:
                left = self._hang_until - time.monotonic()
            if left <= 0 or self._stopped:
                return
            self._released.wait(min(left, 0.2))

    def handle(self, rec):
        """Decide (status, headers, body) for one request."""
        now = time.monotonic()
        if rec.method == "POST" and rec.path == HEARTBEAT_PATH:
            rec.body = _peek_json(rec)
        self._wait_hang()
        if rec.path.startswith("/api"):
            wait = self._rate_check(rec.client, now)
            if wait is not None:
                return 429, {"Retry-After": str(wait),
                             "RateLimit-Policy":
                                 f"{self.limit};w={int(self.window)}"}, \
                    RATE_MESSAGE
        if rec.method == "POST" and rec.path == HEARTBEAT_PATH:
            forced = self._take_forced()
            if forced is not None:
                return forced
            return self._heartbeat(rec)
        if rec.method == "POST" and rec.path == REGISTER_PATH:
            return self._register(rec)
        if rec.method == "GET" and rec.path.startswith(REGISTER_PATH + "/"):
            return self._get_swarm(rec)
        return 404, {}, {"success": False, "error": "Not found"}

    def _auth(self, rec):
        value = rec.headers.get("authorization")
        if not value:
            return 401, {}, {"success": False,
                             "error": "Missing authorization header"}
        scheme, _, key = value.partition(" ")
        if scheme not in ("Bearer", "ApiKey") or key not in self.api_keys:
            return 403, {}, {"success": False, "error": "Invalid API key"}
        return None

    def _parse(self, rec):
        """The JSON body as the backend's parser sees it, or an answer."""
        ctype = rec.headers.get("content-type", "")
        if not ctype:
            return None, (500, {}, {"success": False,
                                    "error": "Failed to process heartbeat"})
        if not ctype.startswith("application/json"):
            return None, (400, {}, {"success": False, "error":
                                    "Missing required field: swarm_id"})
        raw = rec.raw
        if rec.headers.get("content-encoding", "") == "gzip":
            try:
                raw = gzip.decompress(raw)
            except OSError:
                return None, (400, {}, {"success": False,
                                        "error": "invalid gzip body"})
        try:
            return json.loads(raw), None
        except ValueError:
            return None, (400, {}, {"success": False,
                                    "error": "invalid JSON body"})

    def _heartbeat(self, rec):
        denied = self._auth(rec)
        if denied:
            return denied
        body, answer = self._parse(rec)
        rec.body = body
        if answer:
            return answer
        if not isinstance(body, dict) or not body.get("swarm_id"):
            return 400, {}, {"success": False,
                             "error": "Missing required field: swarm_id"}
        with self.lock:
            known = body["swarm_id"] in self.swarms
        if not known:
            return 404, {}, {"success": False, "error":
                             "Swarm not found. Please register the swarm "
                             "first."}
        health = body.get("health_status")
        if health is not None and (not isinstance(health, dict) or not all(
                _is_number(health.get(k)) for k in PERCENTS)):
            return 400, {}, {"success": False, "error":
                             "health_status must contain numeric "
                             "cpu_percent, memory_percent and disk_percent"}
        status = body.get("status", "online")
        if status not in STATUSES:
            return 500, {}, {"success": False,
                             "error": "Failed to process heartbeat"}
        completion = body.get("project_completion")
        fields = {"active_agents": body.get("active_agents")}
        if health is not None:  # absent: the old values are kept
            fields["health_status"] = {k: health[k] for k in PERCENTS}
        if completion is not None:
            fields["project_completion"] = f"{float(completion):.2f}"
        row = self._store(body["swarm_id"], "heartbeat", status, **fields)
        row.pop("last_seen_mono", None)
        row.pop("door", None)
        return 200, {}, {"success": True, "data": row,
                         "message": "Heartbeat received"}

    def _register(self, rec):
        denied = self._auth(rec)
        if denied:
            return denied
        body, answer = self._parse(rec)
        if answer:
            return answer
        if not isinstance(body, dict) or not body.get("swarm_id"):
            return 400, {}, {"success": False,
                             "error": "Missing required field: swarm_id"}
        host = body.get("host_url")
        self.register(body["swarm_id"],
                      host if isinstance(host, str) and host else None)
        return 201, {}, {"success": True, "data": body}

    def _get_swarm(self, rec):
        denied = self._auth(rec)
        if denied:
            return denied
        swarm = rec.path[len(REGISTER_PATH) + 1:]
        with self.lock:
            known = swarm in self.swarms
        if not known:
            return 404, {}, {"success": False, "error": "Swarm not found"}
        return 200, {}, {"success": True, "data": {"swarm_id": swarm}}

    def record(self, rec):
        with self.changed:
            self.records.append(rec)
            self.changed.notify_all()


def _make_handler(fake):
    class Handler(BaseHTTPRequestHandler):
        server_version = "fake-qiflow-backend"

        def log_message(self, *args):  # quiet
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec = Record(time.monotonic(), self.command,
                         self.path.split("?", 1)[0],
                         {k.lower(): v for k, v in self.headers.items()},
                         raw, self.client_address[0])
            status, headers, body = fake.handle(rec)
            rec.status = status
            rec.answer = body
            fake.record(rec)
            if fake._stopped and status != 429:
                # Stopped while holding the answer: drop the connection.
                self.close_connection = True
                return
            data = body.encode() if isinstance(body, str) else \
                json.dumps(body).encode()
            try:
                self.send_response(status)
                ctype = "text/html; charset=utf-8" if isinstance(body, str) \
                    else "application/json; charset=utf-8"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


class WebhookSink:
    """A webhook receiver on 127.0.0.1: records every POST (path, headers,
    parsed JSON body) and answers `status` (Discord answers 204)."""

    def __init__(self, status=204, lifetime=600.0):
        self.status = status
        self.posts = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with sink.lock:
                    sink.posts.append({
                        "path": self.path, "body": body, "raw": raw,
                        "headers": {k.lower(): v
                                    for k, v in self.headers.items()}})
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever,
                         kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path):
        with self.lock:
            return [p["body"] for p in self.posts if p["path"] == path]

    def stop(self):
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", action="append", default=[])
    parser.add_argument("--swarm", action="append", default=[])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=900.0)
    parser.add_argument("--lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    fake = FakeBackend(api_keys=args.key or ["test-key"], swarms=args.swarm,
                       limit=args.limit, window=args.window, port=args.port,
                       lifetime=args.lifetime).start()
    print(f"fake backend on {fake.url}", flush=True)
    shown = 0
    try:
        while not fake._stopped:
            time.sleep(0.5)
            records = fake.requests(path=None)
            for rec in records[shown:]:
                print(rec, flush=True)
            shown = len(records)
    except KeyboardInterrupt:
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
