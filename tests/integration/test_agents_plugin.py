"""qiflow_agents on its own, in Debian's real collectd: the values at the
unixsock, notifications once per transition (also across a restart),
warnings once per bad file version, duplicates, hard names, the per-read
file limit and config errors. The exporter is not involved here
(test_agents_exporter.py covers the chain)."""

import json
import os
import subprocess
import time

import pytest

import qfstack
from qfstack import validate, wait_until

WAIT = 15
STATUSES = ("active", "idle", "blocked", "failed", "dead", "stale")


@pytest.fixture
def plugin_stack(stack_factory):
    """make(**Stack kwargs) -> a started collectd + qiflow_agents, no
    exporter."""
    def make(**kwargs):
        stack = stack_factory(start=False, **kwargs)
        stack.start(exporter=False)
        return stack
    return make


def notifications(stack, severity=None, instance=None):
    return [n for n in stack.collectd.notifications()
            if n.get("plugin") == "qiflow_agents"
            and (severity is None or n.get("severity") == severity)
            and (instance is None or n.get("plugin_instance") == instance)]


def warnings(stack, needle):
    return [line for line in stack.collectd.log_lines("[warning]")
            if "qiflow_agents plugin:" in line and needle in line]


def snapshot(stack, reads=1):
    """The agents.json of a read that started after this call, validated."""
    return validate(stack.wait_reads(reads), "agents-snapshot")


def wait_snapshot(stack, predicate, message):
    """Wait for an agents.json that satisfies predicate; validated."""
    def check():
        doc = stack.snapshot()
        return doc if doc and predicate(doc) else None
    return validate(wait_until(check, WAIT, 0.1, message), "agents-snapshot")


def agent_ids(stack):
    return {i for i in stack.collectd.listval()
            if "/qiflow_agents-" in i}


def test_every_count_is_dispatched_even_zero(plugin_stack):
    stack = plugin_stack()
    snapshot(stack)
    idents = stack.collectd.listval()
    for name in STATUSES + ("total", "invalid", "unread"):
        ident = f"{stack.collectd.hostname}/qiflow_agents/count-{name}"
        assert ident in idents, f"{ident} missing from LISTVAL"
        assert stack.collectd.getval(ident) == {"value": 0.0}
    assert agent_ids(stack) == set()

    # time on task only for agents whose task_started_at is known
    stack.write_agent("With", status="idle")
    qfstack.write_agent(stack.agent_dir, "x", filename="without.json",
                        raw='{"name": "Without", "status": "idle"}')
    doc = wait_snapshot(stack, lambda d: d["counts"]["total"] == 2,
                        "two agents")
    without = next(a for a in doc["agents"] if a["name"] == "Without")
    assert without["time_on_task_minutes"] is None
    wait_until(lambda: agent_ids(stack), WAIT, 0.1, "a per-agent value")
    snapshot(stack, 2)
    assert agent_ids(stack) == {
        f"{stack.collectd.hostname}/qiflow_agents-With/duration-time_on_task"}
    assert stack.collectd.getval("qiflow_agents/count-idle") == \
        {"value": 2.0}


def test_notifications_once_per_transition(plugin_stack, agent_process):
    stack = plugin_stack()
    gone = agent_process()
    gone.kill()
    flaky = agent_process()
    # First sighting of a dead agent: one FAILURE naming agent and pid.
    stack.write_agent("Ghost", pid=gone.pid)
    stack.write_agent("Flaky", status="active", pid=flaky.pid)
    ghost = wait_until(lambda: notifications(stack, "FAILURE", "Ghost"),
                       WAIT, 0.1, "FAILURE for Ghost")
    assert 'agent "Ghost" is dead' in ghost[0]["message"]
    assert f"pid {gone.pid}" in ghost[0]["message"]
    assert notifications(stack, instance="Flaky") == []

    stack.write_agent("Flaky", status="failed", pid=flaky.pid)
    failed = wait_until(lambda: notifications(stack, "FAILURE", "Flaky"),
                        WAIT, 0.1, "FAILURE for Flaky")
    assert "reports status failed" in failed[0]["message"]
    assert "was active" in failed[0]["message"]
    # failed -> dead is a new transition: a second FAILURE, then quiet.
    flaky.kill()
    wait_until(lambda: len(notifications(stack, "FAILURE", "Flaky")) == 2,
               WAIT, 0.1, "FAILURE for Flaky failed -> dead")
    assert "was failed" in notifications(stack, "FAILURE", "Flaky")[1][
        "message"]
    # A broken file says nothing about recovery: no OKAY while it is bad.
    qfstack.write_agent(stack.agent_dir, "x", filename="flaky.json",
                        raw='{"name": "Flaky", "status": ')
    snapshot(stack, 3)
    assert notifications(stack, "OKAY") == []
    # The file gone from a readable AgentDir clears the alert.
    (stack.agent_dir / "flaky.json").unlink()
    okay = wait_until(lambda: notifications(stack, "OKAY", "Flaky"), WAIT,
                      0.1, "OKAY for Flaky's removal")
    assert "left the registry" in okay[0]["message"]
    snapshot(stack, 2)
    assert len(notifications(stack, "FAILURE", "Ghost")) == 1
    assert len(notifications(stack, "FAILURE", "Flaky")) == 2
    assert len(notifications(stack, "OKAY")) == 1


def test_restart_does_not_repeat_a_failure(plugin_stack, agent_process):
    stack = plugin_stack()
    gone = agent_process()
    gone.kill()
    stack.write_agent("Ghost", pid=gone.pid)
    wait_until(lambda: notifications(stack, "FAILURE", "Ghost"), WAIT, 0.1,
               "FAILURE for Ghost")
    snapshot(stack)
    stack.collectd.stop()
    stack.collectd.start()
    snapshot(stack, 3)
    assert stack.collectd.log_lines("agent statuses carried over")
    assert len(notifications(stack, "FAILURE", "Ghost")) == 1, \
        "a restart must not raise the same FAILURE again"
    alive = agent_process()
    stack.write_agent("Ghost", pid=alive.pid)
    okay = wait_until(lambda: notifications(stack, "OKAY", "Ghost"), WAIT,
                      0.1, "OKAY after the restart")
    assert "recovered" in okay[0]["message"]


def test_bad_file_warned_again_only_when_it_changes(plugin_stack):
    stack = plugin_stack()
    path = stack.agent_dir / "bad.json"
    needle = f"{path}:"
    qfstack.write_agent(stack.agent_dir, "x", filename="bad.json",
                        raw='{"status": "idle"}')
    wait_until(lambda: warnings(stack, needle), WAIT, 0.1, "first warning")
    snapshot(stack, 3)
    assert len(warnings(stack, needle)) == 1
    assert "missing name" in warnings(stack, needle)[0]

    qfstack.write_agent(stack.agent_dir, "x", filename="bad.json",
                        raw='{"name": "B", "status": "asleep"}')
    wait_until(lambda: len(warnings(stack, needle)) == 2, WAIT, 0.1,
               "a warning for the changed file")
    assert 'unknown status "asleep"' in warnings(stack, needle)[1]

    stack.write_agent("B", filename="bad.json")
    doc = wait_snapshot(stack, lambda d: d["counts"]["total"] == 1,
                        "the fixed file as an agent")
    assert doc["invalid_files"] == []
    qfstack.write_agent(stack.agent_dir, "x", filename="bad.json",
                        raw='{"status": "idle"}')
    wait_until(lambda: len(warnings(stack, needle)) == 3, WAIT, 0.1,
               "a warning when it breaks again")
    snapshot(stack, 2)
    assert len(warnings(stack, needle)) == 3


def test_missing_agent_dir_warns_per_disappearance_and_holds_state(
        plugin_stack, agent_process):
    stack = plugin_stack(create_agent_dir=False)
    needle = f"AgentDir {stack.agent_dir}:"
    wait_until(lambda: warnings(stack, needle), WAIT, 0.1, "first warning")
    snapshot(stack, 2)
    assert len(warnings(stack, needle)) == 1

    gone = agent_process()
    gone.kill()
    stack.write_agent("Ghost", pid=gone.pid)  # creates the directory
    wait_until(lambda: notifications(stack, "FAILURE", "Ghost"), WAIT, 0.1,
               "FAILURE for Ghost")
    assert stack.collectd.log_lines("is readable again")

    # The directory vanishes (renamed away): one more warning, zero agents,
    # and no OKAY: an unreadable registry is no evidence of recovery.
    aside = stack.root / "agents.away"
    os.rename(stack.agent_dir, aside)
    wait_until(lambda: len(warnings(stack, needle)) == 2, WAIT, 0.1,
               "a warning for the second disappearance")
    doc = snapshot(stack, 2)
    assert doc["counts"]["total"] == 0 and doc["agents"] == []
    assert len(warnings(stack, needle)) == 2
    os.rename(aside, stack.agent_dir)
    snapshot(stack, 2)
    assert notifications(stack, "OKAY") == []
    assert len(notifications(stack, "FAILURE", "Ghost")) == 1


def test_duplicate_names_first_file_wins(plugin_stack):
    stack = plugin_stack()
    stack.write_agent("Agent-1", filename="a.json", status="idle")
    stack.write_agent("Agent-1", filename="b.json", status="failed")
    stack.write_agent("Agent 2", filename="c.json", status="blocked")
    stack.write_agent("Agent_2", filename="d.json", status="active")
    doc = wait_snapshot(stack, lambda d: d["counts"]["invalid"] == 2,
                        "two duplicates")
    assert [(a["name"], a["file"], a["status"]) for a in doc["agents"]] == [
        ("Agent 2", "c.json", "blocked"), ("Agent-1", "a.json", "idle")]
    errors = {f["file"]: f["error"] for f in doc["invalid_files"]}
    assert errors["b.json"] == 'duplicate name "Agent-1": a.json already ' \
        'has it'
    assert errors["d.json"].startswith('name "Agent_2" gives the same '
                                       'collectd instance "Agent_2"')
    assert stack.collectd.getval("qiflow_agents/count-failed") == \
        {"value": 0.0}
    snapshot(stack, 2)
    for name in ("b.json", "d.json"):
        assert len(warnings(stack, f"/{name}:")) == 1


HARD_NAMES = [
    'Quote "q" and back\\slash',
    "Tab\there, newline\nthere, bell\x07",
    "été 日本 😀",
    "</script>&'x'",
    "n" * 127,
    "é" * 127,
]


def test_hard_names_and_tasks_round_trip(plugin_stack):
    stack = plugin_stack()
    long_task = "".join(chr(0x41 + i % 26) for i in range(30000)) + " ü"
    for i, name in enumerate(HARD_NAMES):
        stack.write_agent(name, filename=f"hard{i}.json",
                          current_task=f"task {i}: {name}")
    stack.write_agent("Long", current_task=long_task)
    qfstack.write_agent(stack.agent_dir, "x", filename="too-long.json",
                        raw=json.dumps({"name": "n" * 128,
                                        "status": "idle"}))
    # A file name that is not UTF-8 still gives a valid snapshot.
    raw_name = os.fsencode(stack.agent_dir) + b"/\xffodd.json"
    with open(raw_name, "w", encoding="utf-8") as out:
        json.dump(qfstack.agent_doc("Odd"), out)
    want = len(HARD_NAMES) + 2
    doc = wait_snapshot(stack, lambda d: d["counts"]["total"] == want,
                        "every hard name listed")
    by_name = {a["name"]: a for a in doc["agents"]}
    for i, name in enumerate(HARD_NAMES):
        assert by_name[name]["current_task"] == f"task {i}: {name}"
    assert by_name["Long"]["current_task"] == long_task
    assert by_name["Odd"]["file"] == "?odd.json"
    assert doc["invalid_files"] == [
        {"file": "too-long.json",
         "error": "name: longer than 127 characters"}]
    # Identifiers use the sanitised names, one '_' per character.
    ids = wait_until(lambda: len(agent_ids(stack)) == want and
                     agent_ids(stack), WAIT, 0.1, "a value per agent")
    instances = {i.split("/")[1][len("qiflow_agents-"):] for i in ids}
    assert "Quote__q__and_back_slash" in instances
    assert "_t______" in instances  # "été 日本 😀": 8 characters
    assert "_" * 127 in instances
    assert "n" * 127 in instances


def limited_collectd(tmp_path, max_files):
    """collectd with qiflow_agents reading at most max_files per read."""
    agent_dir, state_dir = tmp_path / "agents", tmp_path / "state"
    agent_dir.mkdir()
    conf = qfstack.agents_plugin_conf(agent_dir, state_dir).replace(
        "</Plugin>", f"  MaxAgentFiles {max_files}\n</Plugin>")
    return qfstack.Collectd(tmp_path / "collectd", conf), agent_dir, \
        state_dir


def test_more_files_than_max_agent_files_is_reported(tmp_path):
    """Over MaxAgentFiles: the first files by name are read, the rest are
    listed unread (count-unread, invalid_files), one WARNING naming the
    key; back within the limit: unread 0 and one INFO."""
    collectd, agent_dir, state_dir = limited_collectd(tmp_path, 20)
    for i in range(26):
        (agent_dir / f"a{i:05d}.json").write_text(
            json.dumps({"name": f"a{i:05d}", "status": "idle"}))
    collectd.start()
    try:
        def doc():
            return qfstack.read_json(state_dir / "agents.json")
        got = validate(wait_until(lambda: (d := doc()) and
                                  d["counts"]["total"] == 20 and d, WAIT,
                                  0.1, "the first 20 files read"),
                       "agents-snapshot")
        assert got["counts"]["invalid"] == 6
        assert [(f["file"], f["error"]) for f in got["invalid_files"]] == \
            [(f"a{i:05d}.json", "not read: over MaxAgentFiles")
             for i in range(20, 26)]
        assert wait_until(lambda: collectd.getval(
            "qiflow_agents/count-unread") == {"value": 6.0}, WAIT, 0.1,
            "count-unread 6")
        time.sleep(2.5)  # more reads: still one warning
        over = [line for line in collectd.log_lines("[warning]")
                if "holds 26 agent files, over MaxAgentFiles 20" in line]
        assert len(over) == 1, collectd.log()
        assert "skipping agent file" not in collectd.log()
        for i in range(20, 26):
            (agent_dir / f"a{i:05d}.json").unlink()
        wait_until(lambda: collectd.getval("qiflow_agents/count-unread") ==
                   {"value": 0.0}, WAIT, 0.1, "count-unread back to 0")
        assert "is back within MaxAgentFiles 20" in collectd.log()
        assert doc()["counts"]["invalid"] == 0
    finally:
        collectd.stop()


def test_state_dir_is_created(tmp_path):
    nested = tmp_path / "deep" / "er" / "state"
    collectd = qfstack.Collectd(
        tmp_path / "collectd",
        qfstack.agents_plugin_conf(tmp_path / "agents", nested))
    try:
        collectd.start()
        wait_until(lambda: (nested / "agents.json").exists(), WAIT, 0.1,
                   "agents.json in the created StateDir")
        validate(json.loads((nested / "agents.json").read_text()),
                 "agents-snapshot")
    finally:
        collectd.stop()


BAD_CONFIGS = {
    "unknown key": ("  Bogus 1\n",
                    'unknown option "Bogus" in <Plugin qiflow_agents>; '
                    "valid options: AgentDir, StateDir, StaleAfter, "
                    "MaxAgentFiles, ProcessCheck"),
    "zero StaleAfter": ("  StaleAfter 0\n",
                        "StaleAfter must be a whole number from 1 to "
                        "2147483647, got 0"),
    "negative StaleAfter": ("  StaleAfter -5\n",
                            "StaleAfter must be a whole number from 1 to "
                            "2147483647, got -5"),
    "fractional StaleAfter": ("  StaleAfter 0.5\n",
                              "StaleAfter must be a whole number from 1 to "
                              "2147483647, got 0.5"),
    "fractional StaleAfter above 1": ("  StaleAfter 300.25\n",
                                      "StaleAfter must be a whole number "
                                      "from 1 to 2147483647, got 300.25"),
    "zero MaxAgentFiles": ("  MaxAgentFiles 0\n",
                           "MaxAgentFiles must be a whole number from 1 to "
                           "100000, got 0"),
    "MaxAgentFiles over the ceiling": ("  MaxAgentFiles 100001\n",
                                       "MaxAgentFiles must be a whole number "
                                       "from 1 to 100000, got 100001"),
    "empty AgentDir": ('  AgentDir ""\n', "AgentDir must not be empty"),
    "string for bool": ('  ProcessCheck "maybe"\n', "ProcessCheck"),
    "second block": ("</Plugin>\n<Plugin qiflow_agents>\n  StaleAfter 5\n",
                     "only one <Plugin qiflow_agents> block"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_errors_stop_collectd(tmp_path, case):
    extra, message = BAD_CONFIGS[case]
    conf = ("LoadPlugin qiflow_agents\n<Plugin qiflow_agents>\n"
            f'  StateDir "{tmp_path / "state"}"\n{extra}</Plugin>\n')
    collectd = qfstack.Collectd(tmp_path / "collectd", conf)
    result = subprocess.run([qfstack.COLLECTD_BIN, "-T", "-C",
                             str(collectd.conf_path)],
                            stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode != 0, collectd.log()
    assert message in collectd.log(), collectd.log()


def test_valid_config_passes_the_check(tmp_path):
    """collectd -T: configure, init, one read of every plugin, exit."""
    conf = ("LoadPlugin qiflow_agents\n<Plugin qiflow_agents>\n"
            f'  AgentDir "{tmp_path / "agents"}"\n'
            f'  StateDir "{tmp_path / "state"}"\n'
            "  StaleAfter 120\n  ProcessCheck false\n</Plugin>\n")
    collectd = qfstack.Collectd(tmp_path / "collectd", conf)
    result = subprocess.run([qfstack.COLLECTD_BIN, "-T", "-C",
                             str(collectd.conf_path)],
                            stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, collectd.log() + result.stderr
    doc = validate(json.loads((tmp_path / "state" / "agents.json")
                              .read_text()), "agents-snapshot")
    assert doc["stale_after_seconds"] == 120
    assert doc["agent_dir"] == str(tmp_path / "agents")
