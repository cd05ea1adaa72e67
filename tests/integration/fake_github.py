#!/usr/bin/python3
"""fake_github: a GitHub REST API stand-in on 127.0.0.1 for the qiflow_github
tests and benchmark.

It behaves like the real API where the plugin depends on it
(shared/reference/github-api.md):
- GET /repos/{o}/{r}/issues (and /repositories/{id}/issues): state, sort,
  direction, since (updated at or after), per_page (max 100), page; pull
  requests mixed in (with a `pull_request` key); a Link header with next/
  last/prev/first in the /repositories/{id}/ form, per_page echoed;
- weak ETags that depend on the body and the Authorization header, and
  If-None-Match -> 304 (free of quota with a token);
- x-ratelimit-* headers on every answer, the remaining count going down;
  an exhausted quota answers 403 with x-ratelimit-remaining 0;
- issues/{n}/events (label events, oldest first, paginated), pulls/{n} (with
  mergeable_state), actions/runs (newest first), commits (since, newest
  first, paginated);
- faults on demand: any status (403/429 with retry-after, 5xx), slow
  answers, garbled, truncated, wrongly typed, empty or oversized bodies, and
  transfers cut short;
- canned answers (`serve`): a given body, status, headers and Link for the
  paths (and query values) a regex matches, with the usual ETag, rate and
  cache headers; used to serve GitHub's own example bodies and error
  answers unchanged.

Tests drive it in-process (FakeGitHub methods, under one lock) and read its
counters of requests per path and status. It binds 127.0.0.1 only, serves
from daemon threads, and stops by itself after `idle_timeout` seconds
without a request.
"""

import collections
import datetime
import hashlib
import json
import random
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISSUE_PATH = re.compile(
    r"^/(?:repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)|repositories/(?P<id>\d+))"
    r"/(?P<rest>.*)$")


def iso(t):
    """Epoch seconds -> "YYYY-MM-DDTHH:MM:SSZ" (None stays None)."""
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(
        int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Fault:
    """One planned misbehaviour for requests whose path matches `path`
    (a regex searched in the path, query excluded)."""

    KINDS = ("status", "slow", "garbage", "truncated", "wrong_types",
             "empty", "oversized", "cut")

    def __init__(self, path, kind, times=1, status=500, retry_after=None,
                 seconds=0.0, headers=None, size=0):
        assert kind in self.KINDS, kind
        self.path = re.compile(path)
        self.kind = kind
        self.times = times  # None: until cleared
        self.status = status
        self.retry_after = retry_after
        self.seconds = seconds
        self.headers = headers or {}
        self.size = size
        self.hits = 0


class Canned:
    """One planned answer for GETs whose path fully matches `path` and whose
    query holds every key/value of `query`."""

    def __init__(self, path, doc, status=200, headers=None, link=None,
                 query=None, times=None, raw=None):
        self.path = re.compile(path)
        self.doc, self.status, self.raw = doc, status, raw
        self.headers = headers or {}
        self.link = link      # "{base}" is replaced by the fake's URL
        self.query = query or {}
        self.times = times    # None: until cleared
        self.hits = 0


class FakeGitHub:
    """The fake's state and control API. All methods are thread-safe."""

    def __init__(self, owner="acme", repo="widgets", repo_id=4242,
                 rate_limit=5000, idle_timeout=600.0, link_form="repositories",
                 since_inclusive=True, tls=None, url_host="127.0.0.1"):
        self.owner, self.repo, self.repo_id = owner, repo, repo_id
        # tls: an ssl.SSLContext (server side) to serve HTTPS; url_host: the
        # name `url` gives for 127.0.0.1 (what a certificate must name).
        self.tls, self.url_host = tls, url_host
        self.lock = threading.RLock()
        self.items = {}      # number -> issue/PR dict as the list shows it
        self.pulls = {}      # number -> {"branch", "sha", "mergeable_state"}
        self.events = collections.defaultdict(list)  # number -> events
        self.runs = []       # workflow runs, any order (served newest first)
        self.commits = []    # {"sha", "date"}
        self.empty_repo = False
        self.actions_enabled = True
        self.faults = []
        self.canned = []     # Canned answers, first match wins
        self.moved = {}      # old "owner/repo" -> base URL of 301 targets
        self.counts = collections.Counter()  # (path, status) -> n
        self.requests = []   # dicts: method, path, query, status, inm, auth
        self.rate_limit = rate_limit
        self.rate_used = 0
        self.rate_reset = int(time.time()) + 3600
        self.link_form = link_form
        self.since_inclusive = since_inclusive
        self.idle_timeout = idle_timeout
        self._last_request = time.monotonic()
        self._next_id = 1000
        # Issue lists sorted once per change (a 100,000-item repository
        # would otherwise be sorted for every page): (version, sort) ->
        # list. Methods that change items bump the version; a test that
        # edits created_at or updated_at in place must not rely on order.
        self._version = 0
        self._sorted = {}
        self._server = None
        self._thread = None

    # ------------------------------------------------------------ lifecycle

    def start(self):
        fake = self

        class Handler(_Handler):
            github = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            # The handshake runs in the request's thread (Handler.setup).
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True,
                do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        threading.Thread(target=self._watchdog, daemon=True).start()
        return self

    def _serve(self):
        self._server.serve_forever(poll_interval=0.1)

    def _watchdog(self):
        # Stops the server after idle_timeout seconds without a request, so
        # a test that died never leaves it running.
        while self._server is not None:
            time.sleep(1.0)
            if time.monotonic() - self._last_request > self.idle_timeout:
                self.stop()

    def stop(self):
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.url_host}:{self._server.server_address[1]}"

    @property
    def repository(self):
        return f"{self.owner}/{self.repo}"

    # ------------------------------------------------------------ fixtures

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def add_issue(self, number, title=None, state="open", labels=(),
                  assignees=(), created_at=None, updated_at=None,
                  closed_at=None, state_reason=None, body=""):
        """Add (or replace) issue `number`; times are epoch seconds."""
        now = time.time()
        created_at = created_at if created_at is not None else now - 86400
        updated_at = updated_at if updated_at is not None else created_at
        if state == "closed" and closed_at is None:
            closed_at = updated_at
        if state == "closed" and state_reason is None:
            state_reason = "completed"
        with self.lock:
            self._version += 1
            self.items[number] = self._issue_doc(
                number, title or f"Issue number {number}", state, labels,
                assignees, created_at, updated_at, closed_at, state_reason,
                body)
        return self.items[number]

    def _issue_doc(self, number, title, state, labels, assignees, created_at,
                   updated_at, closed_at, state_reason, body):
        base = f"https://api.github.com/repos/{self.owner}/{self.repo}"
        return {
            "url": f"{base}/issues/{number}",
            "repository_url": base,
            "labels_url": f"{base}/issues/{number}/labels{{/name}}",
            "html_url": f"https://github.com/{self.owner}/{self.repo}"
                        f"/issues/{number}",
            "id": 500000 + number,
            "node_id": f"I_kwDO{number:08d}",
            "number": number,
            "title": title,
            "user": {"login": "octocat", "id": 1, "type": "User"},
            "labels": [{"id": 9000 + i, "name": name, "color": "ededed",
                        "default": False, "description": None}
                       for i, name in enumerate(labels)],
            "state": state,
            "locked": False,
            "assignee": ({"login": assignees[0], "id": 2}
                         if assignees else None),
            "assignees": [{"login": a, "id": 2 + i}
                          for i, a in enumerate(assignees)],
            "milestone": None,
            "comments": 0,
            "created_at": iso(created_at),
            "updated_at": iso(updated_at),
            "closed_at": iso(closed_at),
            "author_association": "OWNER",
            "body": body,
            "state_reason": state_reason,
            "reactions": {"total_count": 0},
        }

    def add_pr(self, number, title=None, body="", branch=None,
               mergeable_state="clean", state="open", sha=None,
               created_at=None, updated_at=None, labels=()):
        """Add a pull request: an issue-list item with `pull_request`, plus
        its detail (branch, head sha, mergeable_state)."""
        doc = self.add_issue(number, title or f"Pull request {number}",
                             state=state, labels=labels,
                             created_at=created_at, updated_at=updated_at,
                             body=body)
        with self.lock:
            doc["html_url"] = doc["html_url"].replace("/issues/", "/pull/")
            doc["draft"] = False
            doc["pull_request"] = {
                "url": f"{doc['repository_url']}/pulls/{number}",
                "html_url": doc["html_url"],
                "diff_url": doc["html_url"] + ".diff",
                "patch_url": doc["html_url"] + ".patch",
                "merged_at": None,
            }
            if state == "closed":
                doc["state_reason"] = None
            self.pulls[number] = {
                "branch": branch or f"topic-{number}",
                "sha": sha or hashlib.sha1(f"{number}".encode()).hexdigest(),
                "mergeable_state": mergeable_state,
            }
        return doc

    def update(self, number, when=None, **fields):
        """Change an item the way GitHub does: fields (title, state, labels,
        assignees, state_reason, body) and updated_at = when (default now).
        Pull-request detail keys (mergeable_state, sha, branch) go there."""
        when = when if when is not None else time.time()
        with self.lock:
            self._version += 1
            doc = self.items[number]
            for key, value in fields.items():
                if key == "labels":
                    doc["labels"] = [{"id": 9000 + i, "name": n,
                                      "color": "ededed", "default": False,
                                      "description": None}
                                     for i, n in enumerate(value)]
                elif key == "state":
                    doc["state"] = value
                    doc["closed_at"] = iso(when) if value == "closed" else None
                    if "pull_request" not in doc:
                        doc["state_reason"] = ("completed" if value == "closed"
                                               else "reopened")
                elif key in ("mergeable_state", "sha", "branch"):
                    self.pulls[number][key] = value
                else:
                    doc[key] = value
            doc["updated_at"] = iso(when)

    def delete(self, number):
        with self.lock:
            self._version += 1
            self.items.pop(number, None)
            self.pulls.pop(number, None)

    def add_label_event(self, number, label, at, added=True):
        with self.lock:
            self.events[number].append({
                "id": self._new_id(),
                "node_id": "LE_x",
                "url": f"https://api.github.com/repos/{self.repository}/"
                       f"issues/events/{self._next_id}",
                "actor": {"login": "octocat", "id": 1},
                "event": "labeled" if added else "unlabeled",
                "commit_id": None,
                "commit_url": None,
                "created_at": iso(at),
                "label": {"name": label, "color": "ededed"},
            })
            self.events[number].sort(key=lambda e: e["created_at"])

    def add_other_event(self, number, kind, at):
        with self.lock:
            self.events[number].append({
                "id": self._new_id(), "event": kind, "commit_id": None,
                "actor": {"login": "octocat", "id": 1},
                "created_at": iso(at)})
            self.events[number].sort(key=lambda e: e["created_at"])

    def add_run(self, branch, conclusion, created_at=None, pr=None,
                workflow_id=1, status="completed", run_id=None):
        """Add a workflow run (conclusion None while not completed)."""
        created_at = created_at if created_at is not None else time.time()
        with self.lock:
            run_id = run_id or self._new_id()
            self.runs.append({
                "id": run_id,
                "name": f"workflow {workflow_id}",
                "workflow_id": workflow_id,
                "head_branch": branch,
                "head_sha": hashlib.sha1(f"{run_id}".encode()).hexdigest(),
                "event": "pull_request",
                "status": status,
                "conclusion": conclusion,
                "run_attempt": 1,
                "run_number": run_id,
                "created_at": iso(created_at),
                "updated_at": iso(created_at + 60),
                "pull_requests": ([{"number": pr, "id": 700000 + pr}]
                                  if pr else []),
            })
        return run_id

    def add_commits(self, count, start=None, spacing=3600):
        """Add `count` commits, newest at `start` (default now), one per
        `spacing` seconds backwards."""
        start = start if start is not None else time.time()
        with self.lock:
            for i in range(count):
                sha = hashlib.sha1(f"c{len(self.commits)}".encode()).hexdigest()
                self.commits.append({"sha": sha, "date": start - i * spacing})

    def populate(self, issues, prs=0, seed=1, now=None):
        """Generated repository: `issues` issues (about half closed over the
        last weeks, some labelled) and `prs` pull requests, numbers 1.."""
        rng = random.Random(seed)
        now = now if now is not None else time.time()
        words = ["ready", "in progress", "blocked", "bug", "feature", ""]
        numbers = list(range(1, issues + prs + 1))
        pr_numbers = set(rng.sample(numbers, prs)) if prs else set()
        for n in numbers:
            created = now - 90 * 86400 + n * 60
            if n in pr_numbers:
                self.add_pr(n, title=f"Implement feature {n}",
                            body=f"Closes #{max(1, n - 1)}",
                            branch=f"feature/issue-{max(1, n - 1)}",
                            created_at=created, updated_at=created + 3600)
                continue
            closed = rng.random() < 0.5
            label = rng.choice(words)
            closed_at = now - rng.randint(1, 30 * 86400) if closed else None
            self.add_issue(n, title=f"Generated issue {n}: "
                           + "lorem ipsum " * rng.randint(1, 6),
                           state="closed" if closed else "open",
                           labels=[label] if label else [],
                           assignees=["agent-1"] if rng.random() < 0.3 else [],
                           created_at=created,
                           updated_at=closed_at or created + 7200,
                           closed_at=closed_at,
                           body="Generated body text. " * rng.randint(1, 20))

    def populate_realistic(self, total, seed=1, now=None):
        """A mature project's repository: `total` issues and pull requests
        (numbers 1..total) opened over eight years. About 25% are pull
        requests; 10% of the issues and 6% of the pull requests are open;
        0-4 labels each from a kind/priority/area vocabulary (blocked on 4%
        and in progress on 8% of the open issues); titles of 20-90
        characters; bodies of log-normal length (median ~700 characters,
        up to 20 KB, shared among items so the fake stays small); half the
        pull requests name an earlier issue ("Fixes #n") and a tenth use a
        feature/issue-n branch. Returns the counts by kind and state."""
        rng = random.Random(seed)
        now = now if now is not None else time.time()
        span = 8 * 365 * 86400
        kinds = ["kind/bug", "kind/feature", "kind/cleanup", "kind/docs"]
        areas = [f"area/{a}" for a in ("api", "cli", "storage", "network",
                                       "scheduler", "ui", "auth", "build")]
        prios = ["priority/low", "priority/medium", "priority/high"]
        words = ("lorem ipsum dolor sit amet consectetur adipiscing elit "
                 "sed do eiusmod tempor incididunt ut labore").split()
        bodies = []
        for _ in range(256):
            size = min(20000, int(rng.lognormvariate(6.55, 1.0)))
            text = []
            while sum(len(w) + 1 for w in text) < size:
                text.append(rng.choice(words))
            bodies.append(" ".join(text)[:size])
        counts = collections.Counter()
        with self.lock:
            for n in range(1, total + 1):
                created = now - span + span * (n - 1) / max(1, total)
                is_pr = rng.random() < 0.25
                open_ = rng.random() < (0.06 if is_pr else 0.10)
                labels = [rng.choice(kinds)] if rng.random() < 0.7 else []
                labels += rng.sample(areas, rng.randint(0, 2))
                if rng.random() < 0.3:
                    labels.append(rng.choice(prios))
                if open_ and not is_pr:
                    r = rng.random()
                    if r < 0.04:
                        labels.append("blocked")
                    elif r < 0.12:
                        labels.append("in progress")
                title = " ".join(rng.choice(words) for _ in
                                 range(rng.randint(3, 12)))[:90]
                body = rng.choice(bodies)
                closed_at = None if open_ else min(
                    now - 60, created + rng.expovariate(1 / (14 * 86400)))
                updated = closed_at or min(now - 60, created + rng.expovariate(
                    1 / (30 * 86400)))
                if is_pr:
                    target = rng.randint(1, max(1, n - 1))
                    self.add_pr(
                        n, title=title.capitalize(),
                        body=(f"Fixes #{target}\n\n{body}"
                              if rng.random() < 0.5 else body),
                        branch=(f"feature/issue-{target}"
                                if rng.random() < 0.1 else f"topic-{n}"),
                        state="open" if open_ else "closed",
                        created_at=created, updated_at=updated,
                        labels=labels)
                    if closed_at:
                        self.items[n]["closed_at"] = iso(closed_at)
                else:
                    self.add_issue(
                        n, title=title.capitalize(),
                        state="open" if open_ else "closed", labels=labels,
                        assignees=["agent-1"] if rng.random() < 0.3 else [],
                        created_at=created, updated_at=updated,
                        closed_at=closed_at, body=body)
                counts[("pr" if is_pr else "issue",
                        "open" if open_ else "closed")] += 1
        return dict(counts)

    # ------------------------------------------------------------ control

    def fault(self, path, kind, **kwargs):
        """Plan a fault for requests whose path matches the regex `path`."""
        f = Fault(path, kind, **kwargs)
        with self.lock:
            self.faults.append(f)
        return f

    def serve(self, path, doc=None, status=200, headers=None, link=None,
              query=None, times=None, raw=None):
        """Answer GETs whose path fully matches the regex `path` (and whose
        query holds `query`'s pairs) with `doc` as JSON (or the bytes
        `raw`), `status`, extra `headers` and a Link header `link`. 200
        answers carry an ETag and honour If-None-Match like the others."""
        c = Canned(path, doc, status, headers, link, query, times, raw)
        with self.lock:
            self.canned.append(c)
        return c

    def move_from(self, old_repository, base=None):
        """Answer /repos/{old_repository}/... with 301 Moved Permanently to
        {base}/repositories/{id}/... (query kept), as GitHub does for a
        renamed or transferred repository; base defaults to this fake."""
        with self.lock:
            self.moved[old_repository] = base

    def clear_canned(self):
        with self.lock:
            self.canned.clear()

    def _take_canned(self, path, query):
        q = dict(query)
        with self.lock:
            for c in self.canned:
                if (c.path.fullmatch(path)
                        and all(q.get(k) == v for k, v in c.query.items())
                        and (c.times is None or c.times > 0)):
                    if c.times is not None:
                        c.times -= 1
                    c.hits += 1
                    return c
        return None

    def clear_faults(self):
        with self.lock:
            self.faults.clear()

    def count(self, path=None, status=None):
        """Requests received whose path matches regex `path` (None: all)
        and whose answer had `status` (None: any)."""
        rx = re.compile(path) if path else None
        with self.lock:
            return sum(n for (p, s), n in self.counts.items()
                       if (rx is None or rx.search(p))
                       and (status is None or s == status))

    def snapshot_counts(self):
        with self.lock:
            return collections.Counter(self.counts)

    def requests_since(self, index):
        with self.lock:
            return list(self.requests[index:])

    def bursts_since(self, index, gap=0.4):
        """The requests logged since index, grouped into bursts: requests
        less than `gap` seconds apart belong together (a client's polling
        cycle). The burst still in progress is left out."""
        groups, cur = [], []
        for req in self.requests_since(index):
            if cur and req["time"] - cur[-1]["time"] > gap:
                groups.append(cur)
                cur = []
            cur.append(req)
        if cur and time.time() - cur[-1]["time"] > gap:
            groups.append(cur)
        return groups

    def set_rate(self, limit=None, used=None, reset_in=None):
        with self.lock:
            if limit is not None:
                self.rate_limit = limit
            if used is not None:
                self.rate_used = used
            if reset_in is not None:
                self.rate_reset = int(time.time() + reset_in)

    # ------------------------------------------------------------ serving

    def _record(self, method, path, query, status, headers):
        with self.lock:
            self.counts[(path, status)] += 1
            if len(self.requests) < 200000:
                self.requests.append({
                    "method": method, "path": path, "query": query,
                    "status": status,
                    "inm": headers.get("If-None-Match"),
                    "auth": headers.get("Authorization"),
                    "accept": headers.get("Accept"),
                    "version": headers.get("X-GitHub-Api-Version"),
                    "user_agent": headers.get("User-Agent"),
                    "time": time.time()})

    def _take_fault(self, path):
        with self.lock:
            for f in self.faults:
                if f.path.search(path) and (f.times is None or f.times > 0):
                    if f.times is not None:
                        f.times -= 1
                    f.hits += 1
                    return f
        return None

    def _rate_headers(self, charge):
        """x-ratelimit-* headers after charging one request (or not)."""
        with self.lock:
            now = time.time()
            if now >= self.rate_reset:
                self.rate_used = 0
                self.rate_reset = int(now + 3600)
            if charge:
                self.rate_used = min(self.rate_limit, self.rate_used + 1)
            return {
                "x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": str(self.rate_limit - self.rate_used),
                "x-ratelimit-used": str(self.rate_used),
                "x-ratelimit-reset": str(self.rate_reset),
                "x-ratelimit-resource": "core",
            }

    def _quota_left(self):
        with self.lock:
            if time.time() >= self.rate_reset:
                return True
            return self.rate_used < self.rate_limit

    def _link(self, path, query, page, last):
        """The Link header for page of last (None when one page)."""
        if last <= 1 and page <= 1:
            return None
        base = self.url + (f"/repositories/{self.repo_id}/{path}"
                           if self.link_form == "repositories"
                           else f"/repos/{self.owner}/{self.repo}/{path}")
        params = [(k, v) for k, v in query if k != "page"]

        def url(p):
            return base + "?" + urllib.parse.urlencode(
                params + [("page", str(p))], safe=":,")

        rels = []
        if page > 1:
            rels.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            rels.append(f'<{url(page + 1)}>; rel="next"')
            rels.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            rels.append(f'<{url(1)}>; rel="first"')
        return ", ".join(rels)

    @staticmethod
    def _page(items, query, default_per_page=30):
        q = dict(query)
        try:
            per = max(1, min(100, int(q.get("per_page", default_per_page))))
            page = max(1, int(q.get("page", 1)))
        except ValueError:
            return None, 0, 0
        last = max(1, (len(items) + per - 1) // per)
        return items[(page - 1) * per: page * per], page, last

    def list_issues(self, query):
        q = dict(query)
        state = q.get("state", "open")
        sort = q.get("sort", "created")
        desc = q.get("direction", "desc") == "desc"
        key = "updated_at" if sort == "updated" else "created_at"
        with self.lock:
            ordered = self._sorted.get((self._version, key))
            if ordered is None:
                ordered = sorted(self.items.values(),
                                 key=lambda d: (d[key], d["number"]))
                self._sorted = {(self._version, key): ordered}
            items = [d for d in ordered
                     if state == "all" or d["state"] == state]
            if "since" in q:
                # Same-format ISO strings (iso()) compare as their times.
                since = iso(parse_iso(q["since"]))
                items = [d for d in items
                         if d["updated_at"] > since
                         or (self.since_inclusive
                             and d["updated_at"] == since)]
            if desc:
                items.reverse()
            return self._page(items, query)

    def list_events(self, number, query):
        with self.lock:
            return self._page(list(self.events.get(number, [])), query)

    def pull_detail(self, number):
        with self.lock:
            doc, extra = self.items.get(number), self.pulls.get(number)
            if doc is None or extra is None:
                return None
            ms = extra["mergeable_state"]
            return {
                "url": f"{doc['repository_url']}/pulls/{number}",
                "id": 700000 + number, "number": number,
                "state": doc["state"], "title": doc["title"],
                "body": doc["body"], "draft": False,
                "html_url": doc["html_url"],
                "created_at": doc["created_at"],
                "updated_at": doc["updated_at"],
                "closed_at": doc["closed_at"], "merged_at": None,
                "head": {"ref": extra["branch"], "sha": extra["sha"],
                         "label": f"{self.owner}:{extra['branch']}"},
                "base": {"ref": "main", "sha": "0" * 40},
                "merged": False,
                "mergeable": (None if ms == "unknown" else ms != "dirty"),
                "mergeable_state": ms,
                "comments": 0, "commits": 1,
            }

    def list_runs(self, query):
        with self.lock:
            runs = sorted(self.runs, key=lambda r: (r["created_at"], r["id"]),
                          reverse=True)
            page, _, _ = self._page(runs, query)
            return {"total_count": len(runs), "workflow_runs": page}

    def list_commits(self, query):
        q = dict(query)
        with self.lock:
            commits = sorted(self.commits, key=lambda c: c["date"],
                             reverse=True)
            if "since" in q:
                since = parse_iso(q["since"])
                commits = [c for c in commits if c["date"] >= since]
            docs = [{"sha": c["sha"], "node_id": "C_x",
                     "commit": {"author": {"name": "dev",
                                           "date": iso(c["date"])},
                                "message": "change"},
                     "html_url": f"https://github.com/{self.repository}/"
                                 f"commit/{c['sha']}"} for c in commits]
            return self._page(docs, query)


class _Server(ThreadingHTTPServer):
    """The fake's server: a refused TLS handshake is the client's business
    (its log says why), not a traceback on stderr."""

    tls_failures = 0

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError,
                                          TimeoutError)):
            _Server.tls_failures += 1
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request of FakeGitHub (class attribute `github`)."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without TCP_NODELAY, Nagle
    # and delayed ACKs add 40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""
    github = None

    def log_message(self, fmt, *args):  # silence the per-request stderr log
        pass

    def setup(self):
        if hasattr(self.request, "do_handshake"):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def do_GET(self):
        gh = self.github
        gh._last_request = time.monotonic()
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        fault = gh._take_fault(path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "status":
            return self._fault_status(path, parts.query, fault)
        if not gh._quota_left():
            return self._send(path, parts.query, 403, {
                "message": "API rate limit exceeded for user.",
                "documentation_url": "https://docs.github.com/rest"},
                charge=False)
        moved = self._moved_location(path, parts.query)
        if moved is not None:
            return self._send(path, parts.query, 301, {
                "message": "Moved Permanently", "url": moved,
                "documentation_url": "https://docs.github.com/rest/guides/"
                                     "best-practices-for-using-the-rest-api"
                                     "#follow-redirects"},
                extra={"Location": moved})
        canned = gh._take_canned(path, query)
        if canned is not None:
            link = canned.link.replace("{base}", gh.url) if canned.link \
                else None
            return self._send(path, parts.query, canned.status, canned.doc,
                              link=link, extra=canned.headers, fault=fault,
                              conditional=canned.status == 200,
                              raw=canned.raw)
        status, doc, link = self._route(path, query)
        self._send(path, parts.query, status, doc, link=link, fault=fault,
                   conditional=status == 200)

    def _moved_location(self, path, query):
        gh = self.github
        m = ISSUE_PATH.match(path)
        with gh.lock:
            if not m or m.group("owner") is None or \
                    f"{m.group('owner')}/{m.group('repo')}" not in gh.moved:
                return None
            base = gh.moved[f"{m.group('owner')}/{m.group('repo')}"]
        base = base or gh.url
        return (f"{base}/repositories/{gh.repo_id}/{m.group('rest')}"
                + (f"?{query}" if query else ""))

    def do_HEAD(self):
        self._send(urllib.parse.urlsplit(self.path).path, "", 405,
                   {"message": "HEAD not supported by the fake"})

    def _route(self, path, query):
        gh = self.github
        m = ISSUE_PATH.match(path)
        if not m or not (m.group("id") == str(gh.repo_id)
                         or (m.group("owner") == gh.owner
                             and m.group("repo") == gh.repo)):
            return 404, {"message": "Not Found"}, None
        rest = m.group("rest")
        if rest == "issues":
            page, n, last = gh.list_issues(query)
            if page is None:
                return 422, {"message": "Validation Failed"}, None
            return 200, page, gh._link("issues", query, n, last)
        em = re.match(r"^issues/(\d+)/events$", rest)
        if em:
            page, n, last = gh.list_events(int(em.group(1)), query)
            return 200, page, gh._link(f"issues/{em.group(1)}/events",
                                       query, n, last)
        pm = re.match(r"^pulls/(\d+)$", rest)
        if pm:
            doc = gh.pull_detail(int(pm.group(1)))
            return (200, doc, None) if doc else \
                (404, {"message": "Not Found"}, None)
        if rest == "actions/runs":
            if not gh.actions_enabled:
                return 404, {"message": "Not Found"}, None
            return 200, gh.list_runs(query), None
        if rest == "commits":
            if gh.empty_repo:
                return 409, {"message": "Git Repository is empty."}, None
            page, n, last = gh.list_commits(query)
            return 200, page, gh._link("commits", query, n, last)
        return 404, {"message": "Not Found"}, None

    def _fault_status(self, path, query, fault):
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        body = {"message": "You have exceeded a secondary rate limit."
                if fault.status in (403, 429) else "Server Error"}
        self._send(path, query, fault.status, body, extra=headers,
                   charge=fault.status not in (403, 429))

    def _body_for(self, doc, fault):
        """The bytes to send (a fault may spoil them) and the length to
        announce."""
        text = json.dumps(doc, separators=(",", ":")).encode()
        if fault is None:
            return text, len(text)
        if fault.kind == "garbage":
            return b"<html>\x00\xff not json {{{", None
        if fault.kind == "truncated":
            return text[:max(1, len(text) // 2)], None
        if fault.kind == "empty":
            return b"", None
        if fault.kind == "wrong_types":
            return json.dumps(_spoil(doc)).encode(), None
        if fault.kind == "oversized":
            pad = b" " * max(fault.size, 17 << 20)
            return b"[" + pad + b"]", None
        if fault.kind == "cut":
            return text[:max(1, len(text) // 2)], len(text)
        return text, len(text)

    def _send(self, path, query, status, doc, link=None, extra=None,
              fault=None, charge=True, conditional=False, raw=None):
        gh = self.github
        auth = self.headers.get("Authorization")
        if raw is not None:
            body, announced = raw, None
        else:
            body, announced = self._body_for(doc, fault) if status == 200 \
                else (json.dumps(doc).encode(), None)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Cache-Control": "private, max-age=60, s-maxage=60",
                   "Vary": "Accept, Authorization, Cookie",
                   "X-GitHub-Api-Version-Selected": "2022-11-28"}
        if conditional:
            digest = hashlib.sha1(body + (auth or "").encode()).hexdigest()
            etag = f'W/"{digest}"'
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
                charge = charge and auth is None  # free only with a token
        if link:
            headers["Link"] = link
        headers.update(gh._rate_headers(charge))
        if status in (403, 429) and not extra and not gh._quota_left():
            headers["x-ratelimit-remaining"] = "0"
        headers.update(extra or {})
        gh._record("GET", path, query, status, self.headers)
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if status != 304:
                self.send_header("Content-Length",
                                 str(announced if announced is not None
                                     else len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)
            if fault is not None and fault.kind == "cut":
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _spoil(doc):
    """A copy of doc with the fields the plugin reads given wrong types."""
    if isinstance(doc, list):
        return [_spoil(d) for d in doc] or [{"number": "one"}]
    if isinstance(doc, dict):
        out = dict(doc)
        for key in ("number", "id", "workflow_runs", "head", "sha", "event"):
            if key in out:
                out[key] = "wrong" if not isinstance(out[key], str) else 17
        if "workflow_runs" not in out and "number" not in out:
            out["workflow_runs"] = "wrong"
        return out
    return {"unexpected": doc}


def main():
    """Run a populated fake for manual poking: python3 fake_github.py N."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    gh = FakeGitHub(idle_timeout=3600).start()
    gh.populate(n, prs=n // 10)
    gh.add_commits(20)
    print(f"fake GitHub for {gh.repository} at {gh.url}", flush=True)
    try:
        while gh._server is not None:
            time.sleep(1)
    except KeyboardInterrupt:
        gh.stop()


if __name__ == "__main__":
    main()
