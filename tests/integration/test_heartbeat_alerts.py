"""qiflow_heartbeat with qiflow_agents and the exporter: notifications reach
webhooks in each format (a FAILURE when an agent dies, a WARNING from
collectd's threshold plugin only where MinSeverity asks for it), the
heartbeat carries the agents, and a canary API key appears nowhere but in
the Authorization header."""

import json

import pytest

import qfstack
from fake_backend import FakeBackend, WebhookSink
from test_heartbeat import SWARM, backend_block, heartbeat_conf

CANARY = "CANARY-KEY-7f3a9c2e"


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    monkeypatch.delenv("QIFLOW_API_KEY", raising=False)


@pytest.fixture
def sink():
    receiver = WebhookSink(status=204)
    yield receiver
    receiver.stop()


@pytest.fixture
def fake():
    backend = FakeBackend(api_keys=[CANARY], swarms=[SWARM]).start()
    yield backend
    backend.stop()


def webhook_block(name, url, fmt, min_severity="failure"):
    return (f'  <Webhook "{name}">\n    URL "{url}"\n    Format "{fmt}"\n'
            f'    MinSeverity "{min_severity}"\n    Timeout 2\n'
            f'    RetryDelay 0.3\n  </Webhook>')


# collectd's threshold plugin raises a WARNING once memory/percent-used is
# above 0.001 %: always, on any host.
THRESHOLD = f"""
PluginDir "{qfstack.COLLECTD_PLUGIN_DIR}"
LoadPlugin threshold
<Plugin threshold>
  <Plugin "memory">
    <Type "percent">
      Instance "used"
      WarningMax 0.001
      FailureMax 101
    </Type>
  </Plugin>
</Plugin>
PluginDir "{qfstack.BUILD_DIR / 'plugins'}"
"""


def test_webhooks_get_notifications_in_each_format(tmp_path, stack_factory,
                                                   sink, fake):
    root = tmp_path / "stack0"  # stack_factory's first stack
    key_file = tmp_path / "api-key"
    key_file.write_text(CANARY + "\n")
    key_file.chmod(0o600)
    blocks = [
        backend_block("central", fake.url, key=None, APIKeyFile=str(key_file),
                      RequestLimit=0, RetryDelay=0.3),
        webhook_block("plain", sink.url("/json"), "json"),
        webhook_block("discord", sink.url("/discord"), "discord"),
        webhook_block("slack", sink.url("/slack"), "slack"),
        webhook_block("warnings", sink.url("/warn"), "json", "warning"),
    ]
    conf = THRESHOLD + heartbeat_conf(root, blocks,
                                      state_dir=root / "state")
    stack = stack_factory(extra_plugin_conf=conf, process_check=True)
    agent = stack.agent_process()
    stack.write_agent("Agent-1", pid=agent.pid, current_task="Implement OAuth",
                      issue_number=126)
    qfstack.wait_until(
        lambda: any(b.get("active_agents") == 1 for b in fake.delivered()),
        20, message="a heartbeat counting the active agent")
    agent.kill()
    for path in ("/json", "/discord", "/slack"):
        qfstack.wait_until(lambda p=path: sink.bodies(p), 20,
                           message=f"the FAILURE at {path}")
    qfstack.wait_until(
        lambda: any(b["severity"] == "WARNING" for b in sink.bodies("/warn")),
        20, message="the threshold WARNING at the warning webhook")
    qfstack.wait_until(
        lambda: any(b.get("status") != "offline" and
                    "1 agent dead" in b["attention"]["reasons"] and
                    b["agents"]["by_status"].get("dead") == 1
                    for b in fake.delivered()), 20,
        message="a heartbeat counting the dead agent in attention (its "
                "status follows the one rule: not offline for an agent)")
    # json: the notification's fields as they are.
    plain = [b for b in sink.bodies("/json") if b["plugin"] == "qiflow_agents"]
    assert plain and plain[0]["severity"] == "FAILURE"
    assert plain[0]["swarm_id"] == SWARM
    assert plain[0]["plugin_instance"] == "Agent-1"
    assert "dead" in plain[0]["message"]
    qfstack.parse_time(plain[0]["time"])
    # MinSeverity failure: never the threshold's WARNING.
    assert all(b["severity"] == "FAILURE" for b in sink.bodies("/json"))
    # discord: content plus one embed with a colour and fields.
    (discord,) = [b for b in sink.bodies("/discord")
                  if "Agent-1" in json.dumps(b)][:1]
    assert "FAILURE" in discord["content"] and "dead" in discord["content"]
    embed = discord["embeds"][0]
    assert embed["color"] == 15158332 and embed["title"] == "FAILURE"
    assert all(f["value"] for f in embed["fields"])
    # slack: text plus an attachment coloured "danger".
    (slack,) = [b for b in sink.bodies("/slack")
                if "Agent-1" in json.dumps(b)][:1]
    assert "FAILURE" in slack["text"]
    assert slack["attachments"][0]["color"] == "danger"
    # MinSeverity warning: the FAILURE and the WARNING, never OKAY.
    severities = {b["severity"] for b in sink.bodies("/warn")}
    assert severities == {"FAILURE", "WARNING"}, severities
    for post in sink.posts:
        assert post["headers"]["content-type"] == "application/json"
    snap = qfstack.validate(qfstack.read_json(root / "state" /
                                              "heartbeat.json"),
                            "heartbeat-snapshot")
    hooks = {w["name"]: w for w in snap["webhooks"]}
    assert hooks["discord"]["sent"] >= 1 and hooks["discord"]["failed"] == 0
    # The heartbeat carries the agent from agents.json, trimmed.
    body = fake.delivered()[-1]
    qfstack.validate(body, "heartbeat-body")
    (listed,) = body["agents"]["agent_list"]
    assert listed == {"name": "Agent-1", "status": "dead",
                      "current_task": "Implement OAuth", "issue_number": 126}


def _files_text(*dirs):
    """(path, text) of every regular file under dirs."""
    for top in dirs:
        for path in sorted(top.rglob("*")):
            # collectd.conf is the operator's own file: it names the URL.
            if path.is_file() and path.name != "collectd.conf":
                yield path, path.read_bytes().decode("utf-8", "replace")


def test_canary_key_appears_nowhere(tmp_path, stack_factory, sink, fake):
    root = tmp_path / "stack0"
    key_file = tmp_path / "api-key"
    key_file.write_text(CANARY + "\n")
    key_file.chmod(0o600)
    # A backend that echoes the key in its error text, a URL with
    # credentials and a query, and a webhook: every way it could leak.
    fake.force(403, count=1, body={"success": False,
                                   "error": f"Invalid API key {CANARY}"})
    creds_url = fake.url.replace("http://", "http://user:pw-CANARY-URL@") + \
        "?token=CANARY-QUERY"
    blocks = [
        backend_block("central", fake.url, key=None, APIKeyFile=str(key_file),
                      RequestLimit=0, RetryDelay=0.3, RejectedRetryDelay=1),
        backend_block("creds", creds_url, key=None, APIKeyFile=str(key_file),
                      RequestLimit=0, RetryDelay=0.3),
        webhook_block("alerts", sink.url("/services/T0/CANARY-HOOK"), "json"),
    ]
    conf = heartbeat_conf(root, blocks, state_dir=root / "state")
    stack = stack_factory(extra_plugin_conf=conf, process_check=True)
    agent = stack.agent_process()
    stack.write_agent("Agent-1", pid=agent.pid)
    qfstack.wait_until(lambda: len(fake.delivered()) >= 3, 20,
                       message="heartbeats after the echoed 403")
    agent.kill()
    qfstack.wait_until(lambda: sink.bodies("/services/T0/CANARY-HOOK"), 20,
                       message="the agent's FAILURE at the webhook")
    responses = {}
    for path in ("/health", "/status", "/agent/status", "/metrics",
                 "/metrics?format=prometheus", "/project/completion"):
        responses[path] = stack.get(path)
    qfstack.validate(responses["/agent/status"].json(), "agent-status")
    heartbeat = responses["/agent/status"].json()["data"]["heartbeat"]
    assert {b["name"] for b in heartbeat["backends"]} == {"central", "creds"}
    # A webhook's path is its secret (Slack, Discord): only the origin shows.
    assert heartbeat["webhooks"][0]["url"] == sink.url("/...")
    stack.stop()
    # The 403 was logged with the backend's words, the key redacted.
    log = stack.collectd.log()
    assert "Invalid API key [redacted]" in log
    # Positive control: the key did travel, in the header and only there.
    assert fake.requests()[0].headers["authorization"] == f"Bearer {CANARY}"
    secrets = (CANARY, "CANARY-URL", "CANARY-QUERY", "CANARY-HOOK")
    places = [(f"GET {p}", r.body.decode("utf-8", "replace"))
              for p, r in responses.items()]
    places += [("collectd.log", log),
               ("collectd stdout", stack.collectd.stdout_path.read_text()),
               ("exporter.log", stack.exporter.log())]
    places += [(str(p), t) for p, t in _files_text(root / "state",
                                                     root / "log",
                                                     root / "collectd")]
    for rec in fake.requests(path=None):
        headers = {k: v for k, v in rec.headers.items()
                   if k != "authorization"}
        places.append((f"request {rec!r}", rec.raw.decode("utf-8", "replace")
                       + json.dumps(headers)))
    places += [(f"webhook {p['path']}", p["raw"].decode()) for p in sink.posts]
    leaks = [(where, secret) for where, text in places for secret in secrets
             if secret in text]
    assert not leaks, leaks
