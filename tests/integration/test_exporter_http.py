"""The exporter's HTTP manners, end to end over real HTTP: /metrics in
Prometheus 0.0.4 and OpenMetrics 1.0 (Accept negotiation, ?format=, checked
with Debian's promtool when it is installed and by the format rules below
always), ETag / If-None-Match, gzip compressed once per refresh, HEAD, CORS
and the OPTIONS preflight, Cache-Control, JSON errors, keep-alive."""

import gzip
import http.client
import json
import re
import shutil
import subprocess

import pytest

import qfstack
from qfstack import validate, wait_until

WAIT = 15
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
CT_PROM = "text/plain; version=0.0.4; charset=utf-8"
CT_OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"
CT_JSON = "application/json; charset=utf-8"
NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
                   r'(,|$)')

PROJECT = {
    "schema_version": 1, "updated_at": "2026-11-27T10:40:00Z",
    "repository": "owner/repo", "last_sync": "2026-11-27T10:40:00Z",
    "last_error": None,
    "github": {"open_issues": 1, "open_pull_requests": 0,
               "recent_commits": 3, "recent_commits_days": 7,
               "rate_limit_remaining": 59, "rate_limit_limit": 60},
    "completion": {"completion_percentage": 50, "total_issues": 2,
                   "completed_issues": 1, "in_progress_issues": 0,
                   "ready_issues": 0, "blocked_issues": 1},
    "velocity": {"daily": [0, 0, 0, 0, 0, 1, 0], "per_day": 0.14,
                 "trend": "stable", "slope": 0.0},
    "estimated_completion_date": "2026-12-04",
    "issues": [
        {"id": 2, "title": "Needs a \"human\"", "state": "open",
         "status": "blocked", "labels": ["human"], "assignees": [],
         "github_url": "https://github.com/owner/repo/issues/2",
         "created_at": "2026-11-20T10:00:00Z",
         "updated_at": "2026-11-27T10:00:00Z", "closed_at": None,
         "flagged": True, "priority": "review", "trigger": "human_label",
         "reason": "labelled human", "blocked_duration_hours": None},
        {"id": 1, "title": "Done", "state": "closed", "status": "done",
         "labels": [], "assignees": [],
         "github_url": "https://github.com/owner/repo/issues/1",
         "created_at": "2026-11-20T10:00:00Z",
         "updated_at": "2026-11-26T10:00:00Z",
         "closed_at": "2026-11-26T10:00:00Z", "flagged": False,
         "priority": None, "trigger": None, "reason": None,
         "blocked_duration_hours": None}]}

HEARTBEAT = {
    "schema_version": 1, "updated_at": "2026-11-27T10:41:00Z",
    "running": True, "swarm_id": "swarm-1", "interval": 60,
    "backends": [{"name": "central",
                  "url": "https://backend.example/api/v1/swarms/heartbeat",
                  "last_success": "2026-11-27T10:41:00Z",
                  "last_attempt": "2026-11-27T10:41:00Z", "last_error": None,
                  "last_status": 200, "spool_depth": 2, "sent": 10,
                  "failed": 1, "retried": 1, "dropped": 0,
                  "last_latency_ms": 42.0}],
    "webhooks": [{"name": "alerts", "url": "https://hooks.example/x",
                  "sent": 3, "failed": 0, "last_error": None}]}


def write_json(path, doc):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)


def make_stack(stack_factory, refresh_ms, args=()):
    stack = stack_factory(start=False, exporter_args=list(args))
    stack.exporter.refresh_ms = refresh_ms
    write_json(stack.state_dir / "project.json", PROJECT)
    write_json(stack.state_dir / "heartbeat.json", HEARTBEAT)
    stack.write_agent("Agent \"1\"", filename="agent-1.json")
    stack.start()
    # project.json is indexed by the refresh thread's first refresh, just
    # after the server starts answering.
    wait_until(lambda: get(stack, "/project/completion").json()
               ["completion"] == 50, WAIT, 0.02, "project.json indexed")
    return stack


@pytest.fixture
def live(stack_factory):
    """Refresh 200 ms, agents and snapshots present, CPU known (the flat
    cpu is never null, so "known" is a status other than offline: the one
    rule says offline until cpu, memory and disk have been read)."""
    stack = make_stack(stack_factory, 200)

    def ready():
        doc = stack.get("/status").json()
        return doc["data"]["agents"]["agent_list"] and \
            doc["status"] != "offline"
    wait_until(ready, WAIT, 0.1, "agents and cpu in /status")
    return stack


@pytest.fixture
def frozen(stack_factory):
    """Refresh once a minute: bodies and ETags hold still during a test."""
    return make_stack(stack_factory, 60000)


def get(stack, path, headers=None, method="GET"):
    return qfstack.http(method, stack.exporter.url + path, headers=headers)


# ------------------------------------------------------------ exposition

def parse_exposition(text, om):
    """Check the text against the format's rules; return {family: {"type",
    "samples": [(name, labels, value)]}}. Raises AssertionError naming the
    line that breaks a rule."""
    assert text.endswith("\n"), "the last line must end with LF"
    lines = text.split("\n")[:-1]
    if om:
        assert lines[-1] == "# EOF", "OpenMetrics ends with # EOF"
        lines = lines[:-1]
    families, current, seen = {}, None, set()
    for line in lines:
        if line.startswith("#"):
            parts = line.split(" ", 3)
            assert parts[1] in (("TYPE", "UNIT", "HELP") if om else
                                ("TYPE", "HELP")), f"stray comment: {line}"
            name = parts[2]
            assert NAME.match(name) and not name.startswith("__"), line
            if name != current:
                assert name not in families, f"{name} not contiguous"
                families[name] = {"type": None, "unit": None, "samples": []}
                current = name
            fam = families[name]
            if parts[1] == "TYPE":
                assert fam["type"] is None and not fam["samples"], line
                fam["type"] = parts[3]
            elif parts[1] == "UNIT":
                assert name.endswith("_" + parts[3]), f"unit suffix: {line}"
                fam["unit"] = parts[3]
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample: {line!r}"
        name, _, labels, value = match.groups()
        assert current is not None, f"sample before any TYPE: {line}"
        fam = families[current]
        kind = fam["type"]
        if om:
            suffix = {"counter": "_total", "info": "_info"}.get(kind, "")
            assert name == current + suffix, f"{name} in family {current}"
        else:
            assert name == current, f"{name} in family {current}"
            assert kind in ("gauge", "counter"), line
            if kind == "counter":
                assert name.endswith("_total"), line
        pairs = {}
        if labels:
            rest = labels
            while rest:
                lm = LABEL.match(rest)
                assert lm, f"bad labels in {line!r}"
                assert lm.group(1) not in pairs, f"repeated label: {line}"
                pairs[lm.group(1)] = lm.group(2)
                rest = rest[lm.end():]
        key = (name, tuple(sorted(pairs.items())))
        assert key not in seen, f"repeated series: {line}"
        seen.add(key)
        float(value)
        assert value not in ("NaN",), f"unknown values are left out: {line}"
        fam["samples"].append((name, pairs, float(value)))
    for name, fam in families.items():
        assert fam["type"] is not None, f"{name} without TYPE"
        assert name.startswith("qiflow_"), name
        assert fam["samples"], f"{name} without samples"
    return families


def promtool_check_metrics(text):
    res = subprocess.run(["promtool", "check", "metrics"], input=text,
                         capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 0, f"promtool check metrics:\n{res.stdout}" \
        f"{res.stderr}"


def promtool_check_openmetrics(text, tmp_path):
    """promtool has no OpenMetrics linter, but its backfill parses the
    format with Prometheus' own OpenMetrics parser; samples need a
    timestamp there, so one is appended to each."""
    stamped = "\n".join(
        line if line.startswith("#") or not line else f"{line} 1795000000"
        for line in text.split("\n"))
    source = tmp_path / "scrape.om"
    source.write_text(stamped)
    res = subprocess.run(["promtool", "tsdb", "create-blocks-from",
                          "openmetrics", str(source), str(tmp_path / "tsdb")],
                         capture_output=True, text=True, timeout=120,
                         check=False)
    assert res.returncode == 0, f"promtool rejected the OpenMetrics text:\n" \
        f"{res.stdout}{res.stderr}"


def sample(families, name, **labels):
    for fam in families.values():
        for sname, pairs, value in fam["samples"]:
            if sname == name and pairs == labels:
                return value
    raise AssertionError(f"no sample {name}{labels}")


def test_prometheus_text_format(live):
    for headers, query in (({"Accept": "text/plain"}, ""),
                           ({}, "?format=prometheus"),
                           ({"Accept": "application/json"},
                            "?format=prometheus")):
        resp = get(live, "/metrics" + query, headers)
        assert resp.status == 200, resp
        assert resp.headers["content-type"] == CT_PROM
        assert "Accept" in resp.headers["vary"]
    text = resp.text
    families = parse_exposition(text, om=False)
    if shutil.which("promtool"):
        promtool_check_metrics(text)
    status = get(live, "/status").json()
    agents = status["data"]["agents"]["by_status"]
    for state, count in agents.items():
        assert sample(families, "qiflow_agents", status=state) == count
    assert sample(families, "qiflow_collectd_up") == 1
    info = families["qiflow_exporter_info"]["samples"][0][1]
    assert info["swarm_id"] == status["data"]["swarm_id"]
    assert info["repository"] == "owner/repo"
    assert info["hostname"] == live.collectd.hostname
    assert sample(families, "qiflow_agent_time_on_task_seconds",
                  agent='Agent \\"1\\"') >= 595
    assert sample(families, "qiflow_project_completion_ratio") == 0.5
    assert sample(families, "qiflow_project_flagged_issues",
                  trigger="human_label", priority="review") == 1
    assert sample(families, "qiflow_heartbeat_sent_total",
                  backend="central") == 10
    assert sample(families, "qiflow_heartbeat_last_latency_seconds",
                  backend="central") == 0.042
    assert families["qiflow_heartbeat_sent_total"]["type"] == "counter"
    # GETVAL values are gauges, never counters.
    for name in ("qiflow_cpu_usage_ratio", "qiflow_memory_used_bytes",
                 "qiflow_load1", "qiflow_host_uptime_seconds"):
        assert families[name]["type"] == "gauge", name
    # No high-cardinality labels: no issue titles anywhere.
    assert "Needs a" not in text


def test_openmetrics_format(live, tmp_path):
    for headers, query in (({"Accept": PROMETHEUS_ACCEPT}, ""),
                           ({}, "?format=openmetrics")):
        resp = get(live, "/metrics" + query, headers)
        assert resp.status == 200, resp
        assert resp.headers["content-type"] == CT_OM
    text = resp.text
    families = parse_exposition(text, om=True)
    assert families["qiflow_exporter"]["type"] == "info"
    assert families["qiflow_heartbeat_sent"]["type"] == "counter"
    assert families["qiflow_memory_used_bytes"]["unit"] == "bytes"
    assert sample(families, "qiflow_heartbeat_sent_total",
                  backend="central") == 10
    if shutil.which("promtool"):
        promtool_check_openmetrics(text, tmp_path)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json",
                                    "text/html,application/xhtml+xml,"
                                    "*/*;q=0.8", "image/png"])
def test_json_stays_the_default(live, accept):
    resp = get(live, "/metrics", {"Accept": accept} if accept else None)
    assert resp.status == 200
    assert resp.headers["content-type"] == CT_JSON
    validate(resp.json(), "metrics")


def test_bad_format_is_400(live):
    resp = get(live, "/metrics?format=xml")
    assert resp.status == 400
    assert validate(resp.json(), "error")["error"].startswith("format:")


# ------------------------------------------------------------ conditional

ENDPOINTS = [("/health", "health"), ("/status", "status"),
             ("/agent/status", "agent-status"), ("/metrics", "metrics"),
             ("/project/completion", "project-completion"),
             ("/project/issues?status=open", "project-issues")]


@pytest.mark.parametrize("path,schema_name", ENDPOINTS)
def test_etag_and_304(frozen, path, schema_name):
    first = get(frozen, path)
    assert first.status == 200, first
    validate(first.json(), schema_name)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{16}"', etag)
    for inm in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        again = get(frozen, path, {"If-None-Match": inm})
        assert again.status == 304 and again.body == b"", inm
        assert again.headers["etag"] == etag
    assert get(frozen, path, {"If-None-Match": '"nope"'}).status == 200


@pytest.mark.parametrize("path,schema_name", ENDPOINTS + [
    ("/metrics?format=prometheus", None),
    ("/metrics?format=openmetrics", None)])
def test_gzip_once_per_refresh(frozen, path, schema_name):
    plain = get(frozen, path)
    zipped = get(frozen, path, {"Accept-Encoding": "gzip"})
    assert zipped.status == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert gzip.decompress(zipped.body) == plain.body
    assert len(zipped.body) < len(plain.body)
    assert zipped.headers["content-type"] == plain.headers["content-type"]
    # Another representation, another validator; each revalidates.
    assert zipped.headers["etag"] == plain.headers["etag"][:-1] + '-gz"'
    assert get(frozen, path, {"Accept-Encoding": "gzip", "If-None-Match":
                              zipped.headers["etag"]}).status == 304
    assert get(frozen, path, {"Accept-Encoding": "gzip;q=0",
                              "If-None-Match": zipped.headers["etag"]}
               ).status == 200
    # Compressed once: the same bytes again.
    assert get(frozen, path, {"Accept-Encoding": "gzip"}).body == zipped.body
    if schema_name:
        validate(json.loads(gzip.decompress(zipped.body)), schema_name)


def test_etag_follows_the_data(live):
    before = get(live, "/project/completion")
    doc = json.loads(json.dumps(PROJECT))
    doc["updated_at"] = "2026-11-27T10:45:00Z"
    doc["completion"]["completion_percentage"] = 51
    write_json(live.state_dir / "project.json", doc)
    wait_until(lambda: get(live, "/project/completion").json()
               ["completion"] == 51, WAIT, 0.05, "new project served")
    after = get(live, "/project/completion", {
        "If-None-Match": before.headers["etag"]})
    assert after.status == 200 and after.headers["etag"] != \
        before.headers["etag"]


# ------------------------------------------------------------ manners

@pytest.mark.parametrize("path,schema_name", ENDPOINTS + [
    ("/metrics?format=openmetrics", None)])
def test_head_matches_get(frozen, path, schema_name):
    got = get(frozen, path)
    head = get(frozen, path, method="HEAD")
    assert head.status == got.status and head.body == b""
    for name in ("content-type", "etag", "cache-control",
                 "access-control-allow-origin"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(got.body)


def test_cors_and_preflight(stack_factory):
    stack = make_stack(stack_factory, 1000,
                       ["--cors-origin", "https://app.example"])
    for path, _ in ENDPOINTS:
        resp = get(stack, path)
        assert resp.headers["access-control-allow-origin"] == \
            "https://app.example", path
        assert resp.headers["cache-control"] == "max-age=1", path
    pre = get(stack, "/status", {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match"}, "OPTIONS")
    assert pre.status == 204 and pre.body == b""
    assert {m.strip() for m in pre.headers["allow"].split(",")} == \
        {"GET", "HEAD", "OPTIONS"}
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert "GET" in pre.headers["access-control-allow-methods"]
    assert "If-None-Match" in pre.headers["access-control-allow-headers"]
    assert int(pre.headers["access-control-max-age"]) > 0
    assert get(stack, "/nowhere", method="OPTIONS").status == 404
    error = get(stack, "/nowhere")
    assert error.headers["access-control-allow-origin"] == \
        "https://app.example"


def test_default_cors_and_cache_control(live, frozen):
    resp = get(live, "/status")
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["cache-control"] == "no-cache"  # refresh < 1 s
    assert get(frozen, "/status").headers["cache-control"] == "max-age=60"


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/nope", 404), ("DELETE", "/status", 405),
    ("POST", "/metrics", 405), ("GET", "/project/issues?limit=0", 400),
    ("GET", "/metrics?format=yaml", 400)])
def test_errors_are_json_and_never_cached(live, method, path, status):
    resp = get(live, path, method=method)
    assert resp.status == status
    assert resp.headers["content-type"] == CT_JSON
    assert resp.headers["cache-control"] == "no-store"
    assert "etag" not in resp.headers
    validate(resp.json(), "error")


def test_keep_alive_serves_many_requests_on_one_connection(live):
    conn = http.client.HTTPConnection("127.0.0.1", live.exporter.port,
                                      timeout=5)
    try:
        sock = None
        for path, _ in ENDPOINTS * 3:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, path
            assert resp.getheader("connection") != "close"
            sock = sock or conn.sock
            assert conn.sock is sock, "the connection was closed"
    finally:
        conn.close()


def test_unhealthy_is_503_and_not_cacheable(live):
    live.collectd.stop()
    wait_until(lambda: get(live, "/health").status == 503, WAIT, 0.05,
               "/health 503")
    resp = get(live, "/health")
    validate(resp.json(), "health")
    assert resp.headers["cache-control"] == "no-store"
    assert "etag" not in resp.headers
    families = parse_exposition(get(live, "/metrics?format=prometheus").text,
                                om=False)
    assert sample(families, "qiflow_collectd_up") == 0
    assert sample(families, "qiflow_collectd_data_age_seconds") > 0
