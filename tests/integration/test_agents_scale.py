"""qiflow_agents and the exporter at a big swarm's size (issue 18): 1,100
agent files are all read under the default MaxAgentFiles (none unread),
and the exporter's /status and /agent/status still render, schema-valid, with
1,000 agents. The CPU per read is a benchmark figure
(tests/bench/agents_scale.py), not asserted here."""

import json

from qfstack import validate, wait_until

WAIT = 30


def fill(agent_dir, count):
    """count agent files, a mix of statuses, written in one go."""
    statuses = ("working", "idle", "blocked", "failed")
    for i in range(count):
        (agent_dir / f"agent-{i:05d}.json").write_text(json.dumps({
            "name": f"Agent-{i:05d}", "status": statuses[i % 4],
            "current_task": f"Issue {1000 + i}", "issue_number": 1000 + i}))


def test_1100_agent_files_are_all_read(stack_factory):
    stack = stack_factory(start=False)
    fill(stack.agent_dir, 1100)
    stack.start(exporter=False)
    doc = wait_until(lambda: (d := stack.snapshot()) and
                     d["counts"]["total"] == 1100 and d, WAIT, 0.2,
                     "1,100 agents in agents.json")
    validate(doc, "agents-snapshot")
    assert doc["counts"]["invalid"] == 0
    assert doc["invalid_files"] == []
    assert [doc["counts"][s] for s in ("active", "idle", "blocked",
                                       "failed")] == [275] * 4
    assert stack.collectd.getval("qiflow_agents/count-total") == \
        {"value": 1100.0}
    assert stack.collectd.getval("qiflow_agents/count-unread") == \
        {"value": 0.0}
    assert "MaxAgentFiles" not in "".join(
        stack.collectd.log_lines("[warning]"))


def test_status_and_agents_render_at_1000_agents(stack_factory):
    stack = stack_factory(start=False)
    fill(stack.agent_dir, 1000)
    stack.start()
    wait_until(lambda: (d := stack.snapshot()) and
               d["counts"]["total"] == 1000, WAIT, 0.2,
               "1,000 agents in agents.json")

    def status_sees_all():
        body = stack.get("/status", "status", 200).json()
        return body if body["agents"]["total"] == 1000 else None
    body = wait_until(status_sees_all, WAIT, 0.2,
                      "/status counting 1,000 agents")
    section = body["data"]["agents"]
    names = [a["name"] for a in section["agent_list"]]
    assert len(names) == 1000 and names == sorted(names)
    assert section["total_agents"] == 1000
    assert [a["name"] for a in section["agents_status"]] == names
    assert section["invalid_files"] == []
    stack.get("/agent/status", "agent-status", 200)
