"""End to end: Debian's collectd with our qiflow_agents plugin, and the real
qiflow-exporter, over its unixsock and over HTTP. Every body is validated
against its schema. collectd reads every INTERVAL s; the exporter refreshes
every 200 ms."""

import json
import os
import re
import time

import pytest

import qfstack
from qfstack import validate, wait_until

INTERVAL = 1.0
REFRESH = 0.2
# "Within one interval": the next read, the exporter's next refresh, and a
# little scheduling slack on a busy 2-core machine.
ONE_INTERVAL = INTERVAL + REFRESH + 0.6
WAIT = 15  # bound for waits that are not themselves the assertion


def get_status(stack):
    return stack.get("/status", "status", 200).json()


def agent_list(stack):
    return {a["name"]: a for a in get_status(stack)["data"]["agents"]
            ["agent_list"]}


def wait_agent(stack, name, timeout=WAIT, **expect):
    """Wait until /status lists agent `name` with every field in expect."""
    def check():
        agent = agent_list(stack).get(name)
        if agent and all(agent.get(k) == v for k, v in expect.items()):
            return agent
        return None
    return wait_until(check, timeout, 0.05, f"/status agent {name} {expect}")


def agent_notifications(stack, instance, severity):
    return [n for n in stack.collectd.notifications()
            if n.get("plugin") == "qiflow_agents"
            and n.get("plugin_instance") == instance
            and n.get("severity") == severity]


def plugin_warnings(stack, needle):
    return [line for line in stack.collectd.log_lines("[warning]")
            if "qiflow_agents plugin:" in line and needle in line]


# ------------------------------------------------------------ agents

def test_dropped_agent_file_appears_within_one_interval(stack, agent_process):
    status = get_status(stack)
    assert status["data"]["agents"]["agent_list"] == []
    proc = agent_process()
    started = qfstack.iso_time(-600)
    t0 = time.monotonic()
    stack.write_agent("Agent-1", status="working", pid=proc.pid,
                      current_task="Implement OAuth", issue_number=126,
                      task_started_at=started)
    agent = wait_agent(stack, "Agent-1", timeout=WAIT)
    elapsed = time.monotonic() - t0
    assert elapsed <= ONE_INTERVAL, \
        f"agent appeared after {elapsed:.2f}s (> {ONE_INTERVAL}s)"
    assert agent["status"] == "active"
    assert agent["reported_status"] == "working"
    assert agent["liveness"] == "alive"
    assert agent["pid"] == proc.pid
    assert agent["current_task"] == "Implement OAuth"
    assert agent["issue_number"] == 126
    assert agent["task_started_at"] == started
    assert agent["file"] == "agent-1.json"
    assert 9.9 <= agent["time_on_task_minutes"] <= 10.2

    doc = get_status(stack)
    agents = doc["data"]["agents"]
    assert agents["active_agents"] == 1 and agents["total_agents"] == 1
    assert agents["by_status"]["active"] == 1
    assert doc["agents"] == {"active": 1, "total": 1}
    assert agents["invalid_files"] == []
    snapshot = validate(stack.snapshot(), "agents-snapshot")
    assert agents["updated_at"] is not None
    assert qfstack.parse_time(agents["updated_at"]) <= \
        qfstack.parse_time(snapshot["updated_at"])

    collectd = stack.collectd
    assert collectd.getval("qiflow_agents/count-active") == {"value": 1.0}
    assert collectd.getval("qiflow_agents/count-total") == {"value": 1.0}
    assert collectd.getval("qiflow_agents/count-invalid") == {"value": 0.0}
    on_task = collectd.getval(
        "qiflow_agents-Agent-1/duration-time_on_task")["seconds"]
    assert 595 <= on_task <= 600 + 5 * INTERVAL + 5


def test_derived_statuses_counts_and_sorting(stack_factory, agent_process):
    stack = stack_factory(stale_after=60)
    live = agent_process()
    gone = agent_process()
    gone.kill()
    old = qfstack.iso_time(-3600)
    cases = {  # name: (file fields, derived status, liveness)
        "a-worker": (dict(status="working", pid=live.pid), "active",
                     "alive"),
        "b-idle": (dict(status="idle"), "idle", "unknown"),
        "c-blocked": (dict(status="blocked", pid=live.pid), "blocked",
                      "alive"),
        "d-failed": (dict(status="failed", pid=live.pid), "failed", "alive"),
        "e-quiet": (dict(status="active", pid=live.pid, last_activity=old),
                    "stale", "alive"),
        "f-failed-gone": (dict(status="failed", pid=gone.pid), "dead",
                          "dead"),
        "g-quiet-gone": (dict(status="active", pid=gone.pid,
                              last_activity=old), "dead", "dead"),
    }
    for name, (fields, _, _) in cases.items():
        stack.write_agent(name, **fields)
    wait_until(lambda: len(agent_list(stack)) == len(cases), WAIT, 0.1,
               "all agents listed")
    doc = get_status(stack)
    listed = doc["data"]["agents"]["agent_list"]
    assert [a["name"] for a in listed] == sorted(cases), "sorted by name"
    for agent in listed:
        _, status, liveness = cases[agent["name"]]
        assert (agent["status"], agent["liveness"]) == (status, liveness), \
            agent
    expected = {s: 0 for s in ("active", "idle", "blocked", "failed",
                               "dead", "stale")}
    for _, status, _ in cases.values():
        expected[status] += 1
    assert doc["data"]["agents"]["by_status"] == expected
    assert doc["data"]["agents"]["total_agents"] == len(cases)
    for status, count in expected.items():
        assert stack.collectd.getval(f"qiflow_agents/count-{status}") == \
            {"value": float(count)}, status
    snapshot = validate(stack.snapshot(), "agents-snapshot")
    assert snapshot["stale_after_seconds"] == 60
    assert snapshot["counts"] == dict(expected, total=len(cases), invalid=0)
    # Optional fields the file left out are null, not missing.
    idle = next(a for a in snapshot["agents"] if a["name"] == "b-idle")
    assert idle["pid"] is None and idle["issue_number"] is None
    # Agents first seen failed or dead raise one FAILURE each; no other.
    wait_until(lambda: len([n for n in stack.collectd.notifications()
                            if n.get("plugin") == "qiflow_agents"]) >= 3,
               WAIT, 0.1, "three FAILURE notifications")
    stack.wait_reads(2)
    raised = sorted((n["plugin_instance"], n["severity"])
                    for n in stack.collectd.notifications()
                    if n.get("plugin") == "qiflow_agents")
    assert raised == [("d-failed", "FAILURE"), ("f-failed-gone", "FAILURE"),
                      ("g-quiet-gone", "FAILURE")]


def test_process_check_false_trusts_the_file(stack_factory, agent_process):
    stack = stack_factory(process_check=False)
    gone = agent_process()
    gone.kill()
    stack.write_agent("Agent-1", status="active", pid=gone.pid)
    agent = wait_agent(stack, "Agent-1")
    assert (agent["status"], agent["liveness"]) == ("active", "unknown")


def test_sanitised_agent_name_in_identifier(stack):
    stack.write_agent("Agent 7/ü", filename="agent-7.json")
    agent = wait_agent(stack, "Agent 7/ü")
    assert agent["status"] == "active"
    value = wait_until(lambda: stack.collectd.getval(
        "qiflow_agents-Agent_7__/duration-time_on_task"), WAIT, 0.1,
        "per-agent value under the sanitised name")
    assert value["seconds"] >= 595


def test_killed_process_turns_dead_notifies_once_and_recovers(
        stack, agent_process):
    proc = agent_process()
    stack.write_agent("Agent-1", pid=proc.pid)
    wait_agent(stack, "Agent-1", status="active", liveness="alive")
    proc.kill()
    t0 = time.monotonic()
    agent = wait_agent(stack, "Agent-1", status="dead")
    assert time.monotonic() - t0 <= ONE_INTERVAL
    assert agent["liveness"] == "dead"
    doc = get_status(stack)
    assert doc["data"]["agents"]["by_status"]["dead"] == 1
    assert doc["data"]["agents"]["active_agents"] == 0
    failures = wait_until(
        lambda: agent_notifications(stack, "Agent-1", "FAILURE"), WAIT, 0.1,
        "a FAILURE notification in collectd.log")
    assert "Agent-1" in failures[0]["message"]
    assert "dead" in failures[0]["message"]
    stack.wait_reads(3)
    assert len(agent_notifications(stack, "Agent-1", "FAILURE")) == 1, \
        "FAILURE must be raised once per transition, not every interval"
    assert agent_notifications(stack, "Agent-1", "OKAY") == []
    # A collectd restart carries the status over: no second FAILURE.
    stack.collectd.stop()
    stack.collectd.start()
    stack.wait_reads(2)
    assert len(agent_notifications(stack, "Agent-1", "FAILURE")) == 1

    revived = agent_process()
    stack.write_agent("Agent-1", pid=revived.pid)
    wait_agent(stack, "Agent-1", status="active", liveness="alive")
    wait_until(lambda: agent_notifications(stack, "Agent-1", "OKAY"), WAIT,
               0.1, "an OKAY notification after recovery")
    stack.wait_reads(2)
    assert len(agent_notifications(stack, "Agent-1", "OKAY")) == 1
    assert len(agent_notifications(stack, "Agent-1", "FAILURE")) == 1


def test_removing_a_dead_agent_clears_its_alert(stack, agent_process):
    proc = agent_process()
    path = stack.write_agent("Agent-1", pid=proc.pid)
    wait_agent(stack, "Agent-1", status="active")
    proc.kill()
    wait_agent(stack, "Agent-1", status="dead")
    path.unlink()
    okay = wait_until(lambda: agent_notifications(stack, "Agent-1", "OKAY"),
                      WAIT, 0.1, "OKAY when a dead agent's file is removed")
    assert "left the registry" in okay[0]["message"]
    wait_until(lambda: agent_list(stack) == {}, WAIT, 0.05,
               "no agent listed")


def test_removed_file_leaves_the_list(stack):
    path = stack.write_agent("Agent-1")
    stack.write_agent("Agent-2")
    wait_until(lambda: len(agent_list(stack)) == 2, WAIT, 0.1, "two agents")
    path.unlink()
    t0 = time.monotonic()
    wait_until(lambda: set(agent_list(stack)) == {"Agent-2"}, WAIT, 0.05,
               "Agent-1 gone")
    assert time.monotonic() - t0 <= ONE_INTERVAL
    assert get_status(stack)["data"]["agents"]["total_agents"] == 1


def test_only_visible_json_files_are_agents(stack):
    stack.write_agent("Agent-1")
    stack.write_agent("Hidden", filename=".hidden.json")
    stack.write_agent("Text", filename="notes.txt")
    wait_agent(stack, "Agent-1")
    snapshot = stack.wait_reads(1)
    assert [a["name"] for a in snapshot["agents"]] == ["Agent-1"]
    assert snapshot["invalid_files"] == []


# ------------------------------------------------------------ bad input

def _padded(size):
    """A valid agent document of exactly `size` bytes."""
    doc = qfstack.agent_doc("Big", pid=None)
    doc["padding"] = ""
    base = len(json.dumps(doc))
    doc["padding"] = "x" * (size - base)
    text = json.dumps(doc)
    assert len(text) == size
    return text


def _make_symlink(agent_dir, name):
    target = agent_dir.parent / "outside.json"
    target.write_text(json.dumps(qfstack.agent_doc("Linked")))
    os.symlink(target, agent_dir / name)


def _make_locked(agent_dir, name):
    path = qfstack.write_agent(agent_dir, "Locked", filename=name)
    path.chmod(0)


BROKEN = {  # file name: how to make it
    "invalid.json": lambda d, n: qfstack.write_agent(
        d, "x", filename=n, raw='{"name": "Broken", "status": '),
    "no-name.json": lambda d, n: qfstack.write_agent(
        d, "x", filename=n, raw='{"status": "active"}'),
    "bad-status.json": lambda d, n: qfstack.write_agent(
        d, "x", filename=n, raw='{"name": "Sleepy", "status": "sleeping"}'),
    "not-object.json": lambda d, n: qfstack.write_agent(
        d, "x", filename=n, raw='["Agent-9", "active"]'),
    "huge.json": lambda d, n: qfstack.write_agent(
        d, "x", filename=n, raw=_padded(64 * 1024 + 1)),
    "link.json": _make_symlink,
    "dangling.json": lambda d, n: os.symlink("/nonexistent/agent.json",
                                             d / n),
    "fifo.json": lambda d, n: os.mkfifo(d / n),
    "dir.json": lambda d, n: (d / n).mkdir(),
    "locked.json": _make_locked,
}


@pytest.fixture(scope="module")
def broken_stack(tmp_path_factory):
    """One stack whose AgentDir holds one good agent, one agent of exactly
    64 KiB and every kind of broken file. collectd runs without the
    capabilities that let root ignore file modes, so chmod 000 is real."""
    stack = qfstack.Stack(tmp_path_factory.mktemp("broken"),
                          collectd_wrapper=qfstack.DROP_DAC_CAPS)
    try:
        stack.start()
        stack.write_agent("Good")
        qfstack.write_agent(stack.agent_dir, "Big", filename="big.json",
                            raw=_padded(64 * 1024))
        for name, make in BROKEN.items():
            make(stack.agent_dir, name)
        wait_until(lambda: len((stack.snapshot() or {}).get(
            "invalid_files", [])) == len(BROKEN), WAIT, 0.1,
            "every broken file counted invalid")
        # Several more reads, so a warning repeated per interval shows.
        stack.wait_reads(3)
        yield stack
    finally:
        stack.stop()
        print(stack.evidence())


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_is_skipped_counted_and_logged_once(broken_stack, name):
    snapshot = validate(broken_stack.snapshot(), "agents-snapshot")
    invalid = {f["file"]: f["error"] for f in snapshot["invalid_files"]}
    assert name in invalid, f"{name} not counted invalid: {invalid}"
    assert all(a["file"] != name for a in snapshot["agents"])
    listed = get_status(broken_stack)["data"]["agents"]
    assert name in {f["file"] for f in listed["invalid_files"]}
    assert all(a["file"] != name for a in listed["agent_list"])
    warnings = plugin_warnings(broken_stack,
                               f"{broken_stack.agent_dir}/{name}:")
    assert len(warnings) == 1, \
        f"expected one warning naming {name}, got {warnings}"


def test_broken_files_do_not_hide_good_ones(broken_stack):
    doc = get_status(broken_stack)
    agents = doc["data"]["agents"]
    assert sorted(a["name"] for a in agents["agent_list"]) == ["Big", "Good"]
    assert agents["total_agents"] == 2
    assert len(agents["invalid_files"]) == len(BROKEN)
    assert broken_stack.collectd.getval("qiflow_agents/count-invalid") == \
        {"value": float(len(BROKEN))}
    assert broken_stack.collectd.getval("qiflow_agents/count-total") == \
        {"value": 2.0}
    # The FIFO never blocked the read loop: reads keep coming.
    broken_stack.wait_reads(1)


def test_fixed_file_becomes_an_agent(broken_stack):
    qfstack.write_agent(broken_stack.agent_dir, "Repaired",
                        filename="no-name.json")
    wait_agent(broken_stack, "Repaired")
    assert "no-name.json" not in {
        f["file"] for f in broken_stack.snapshot()["invalid_files"]}


def test_missing_agent_dir_warns_once_then_recovers(stack_factory):
    stack = stack_factory(create_agent_dir=False)
    stack.wait_reads(3)
    doc = get_status(stack)
    agents = doc["data"]["agents"]
    assert agents["total_agents"] == 0 and agents["agent_list"] == []
    assert agents["invalid_files"] == []
    assert stack.collectd.getval("qiflow_agents/count-total") == \
        {"value": 0.0}
    warnings = plugin_warnings(stack, str(stack.agent_dir))
    assert len(warnings) == 1, warnings
    stack.write_agent("Agent-1")  # creates the directory
    wait_agent(stack, "Agent-1")


# ------------------------------------------------------------ collectd gone

@pytest.mark.parametrize("how", ["stop", "kill"])
def test_collectd_down_then_back(stack, how):
    stack.write_agent("Agent-1")
    wait_agent(stack, "Agent-1")
    wait_until(lambda: get_status(stack)["data"]["resources"]["cpu_percent"]
               is not None, WAIT, 0.1, "cpu_percent from collectd")
    health = stack.get("/health", "health", 200).json()
    assert health["status"] == "healthy"
    assert health["collectd"]["connected"] is True
    assert health["collectd"]["socket"] == str(stack.collectd.socket)

    getattr(stack.collectd, how)()
    down = wait_until(lambda: stack.get("/health", "health").status == 503,
                      WAIT, 0.05, "/health 503")
    assert down
    health = stack.get("/health", "health", 503).json()
    assert health["status"] == "unhealthy"
    assert health["collectd"]["connected"] is False
    assert health["reason"].startswith("collectd unreachable: ")

    status = get_status(stack)
    assert status["data"]["stale"] is True
    # The one status rule (issue 13): stale figures are offline for both
    # doors to the backend; why goes in attention.
    assert status["status"] == "offline"
    assert status["attention"]["needed"] is True, status["attention"]
    # The last good data is still served, with its age.
    assert [a["name"] for a in status["data"]["agents"]["agent_list"]] == \
        ["Agent-1"]
    assert status["data"]["resources"]["cpu_percent"] is not None
    age = status["data"]["data_age_seconds"]
    assert age is not None and age >= 0
    # The age keeps growing while collectd is away (same data, older).
    later = wait_until(
        lambda: (get_status(stack)["data"]["data_age_seconds"] or 0)
        >= age + 1.0, WAIT, 0.1, "data_age_seconds growing")
    assert later
    assert stack.get("/health", "health", 503).json()["collectd"][
        "age_seconds"] >= age + 1.0
    for path, schema_name in (("/agent/status", "agent-status"),
                              ("/metrics", "metrics")):
        stack.get(path, schema_name, 200)

    t0 = time.monotonic()
    stack.collectd.start()
    wait_until(lambda: stack.get("/health", "health").status == 200, WAIT,
               0.05, "/health 200 again")
    wait_until(lambda: get_status(stack)["data"]["stale"] is False, WAIT,
               0.05, "/status fresh again")
    assert time.monotonic() - t0 <= 2 * ONE_INTERVAL + 2, \
        "recovery slower than expected"
    health = stack.get("/health", "health", 200).json()
    assert health["collectd"]["connected"] is True
    # Fresh is not yet current: the restarted collectd's cpu plugin needs
    # a second read for its first percentage, and the rule says offline
    # until cpu, memory and disk are all read. Then it follows the figures.
    doc = wait_until(lambda: (lambda d: d if d["status"] != "offline"
                              else None)(get_status(stack)), WAIT, 0.05,
                     "/status current again (not offline)")
    assert time.monotonic() - t0 <= 3 * ONE_INTERVAL + 2, \
        "figures current again slower than expected"
    assert doc["status"] == qfstack.backend_status(doc["cpu"], doc["memory"])


# ------------------------------------------------------------ HTTP surface

@pytest.mark.parametrize("path", ["/nope", "/status/extra", "/healthz"])
def test_unknown_path_is_404_json(stack, path):
    resp = stack.get(path, "error", 404)
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"] == f"not found: {path}"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(stack, method):
    resp = qfstack.http(method, stack.exporter.url + "/status",
                        headers={"Content-Type": "application/json"},
                        body="{}")
    assert resp.status == 405, resp
    allowed = {m.strip() for m in resp.headers.get("allow", "").split(",")}
    assert allowed == {"GET", "HEAD", "OPTIONS"}, resp.headers
    validate(resp.json(), "error")


def test_head_answers_without_body(stack):
    resp = qfstack.http("HEAD", stack.exporter.url + "/status")
    assert resp.status == 200 and resp.body == b""
    assert resp.headers["content-type"].startswith("application/json")


def test_swarm_id_is_persisted_shared_and_stable(stack):
    swarm_file = stack.state_dir / "swarm_id"
    health = stack.get("/health", "health", 200).json()
    swarm_id = health["swarm_id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                        r"[89ab][0-9a-f]{3}-[0-9a-f]{12}", swarm_id)
    assert swarm_file.read_text().strip() == swarm_id
    for path, schema_name in (("/status", "status"),
                              ("/agent/status", "agent-status"),
                              ("/metrics", "metrics")):
        doc = stack.get(path, schema_name, 200).json()
        assert doc["data"]["swarm_id"] == swarm_id, path
    assert stack.exporter.stop() == 0, "exporter must exit 0 on SIGTERM"
    stack.exporter.start()
    assert stack.get("/health", "health", 200).json()["swarm_id"] == swarm_id
    assert swarm_file.read_text().strip() == swarm_id


def test_swarm_id_from_state_dir_and_flag(stack_factory):
    seeded = stack_factory(start=False)
    (seeded.state_dir / "swarm_id").write_text("swarm-from-file\n")
    seeded.start()
    assert seeded.get("/health", "health", 200).json()["swarm_id"] == \
        "swarm-from-file"
    flagged = stack_factory(exporter_args=["--swarm-id", "swarm-from-flag"])
    assert flagged.get("/health", "health", 200).json()["swarm_id"] == \
        "swarm-from-flag"
    assert flagged.get("/status", "status", 200).json()["data"][
        "swarm_id"] == "swarm-from-flag"


def test_agent_status_shape(stack):
    doc = stack.get("/agent/status", "agent-status", 200).json()["data"]
    # running: the heartbeat loop (not loaded here); the exporter answers.
    assert doc["running"] is False and doc["exporter_running"] is True
    assert doc["api_port"] == stack.exporter.port
    assert doc["collectd"]["connected"] is True
    assert doc["collectd"]["socket"] == str(stack.collectd.socket)
    # No heartbeat or GitHub part runs here: empty values, not errors.
    assert doc["heartbeat"] == {} and doc["github"] == {}
    assert doc["interval"] is None and doc["monitor_url"] is None
    assert doc["github_repo"] is None


def test_status_resources_come_from_collectd(stack):
    def ready():
        doc = get_status(stack)
        res = doc["data"]["resources"]
        return doc if all(v is not None for v in res.values()) else None
    doc = wait_until(ready, WAIT, 0.1, "every resource known")
    res = doc["data"]["resources"]
    assert (doc["cpu"], doc["memory"], doc["disk"]) == \
        (res["cpu_percent"], res["memory_percent"], res["disk_percent"])
    assert 0 < res["memory_used_gb"] < res["memory_total_gb"]
    assert 0 < res["disk_used_gb"] < res["disk_total_gb"]
    disk = stack.collectd.getval("df-root/percent_bytes-used")["value"]
    assert abs(res["disk_percent"] - disk) < 1.0
    memory = stack.collectd.getval("memory/percent-used")["value"]
    assert abs(res["memory_percent"] - memory) < 5.0
    system = doc["data"]["system"]
    assert system["hostname"] == stack.collectd.hostname
    assert system["uptime_seconds"] > 0
    assert system["collectd_version"] == stack.snapshot()["collectd_version"]
    assert doc["data"]["stale"] is False
    assert doc["status"] == qfstack.backend_status(doc["cpu"], doc["memory"])


def test_metrics_json_has_every_section(stack):
    stack.write_agent("Agent-1")
    wait_agent(stack, "Agent-1")
    doc = stack.get("/metrics", "metrics", 200).json()["data"]
    status = get_status(stack)["data"]
    assert doc["swarm_id"] == status["swarm_id"]
    assert doc["system"]["hostname"] == status["system"]["hostname"]
    assert [a["name"] for a in doc["agents"]["agent_list"]] == ["Agent-1"]
    assert doc["github"] == {"enabled": False} and doc["project"] == {}
