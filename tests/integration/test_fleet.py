"""A fleet of swarm hosts in the tools sites already run (issue 18,
docs/fleet.md): a second collectd receives a host's qiflow_* values through
collectd's network plugin on loopback and serves them (unixsock,
write_prometheus); Debian's real Prometheus scrapes several exporters at
once and every swarm stays distinguishable; each query of the contrib
Grafana dashboard, with its swarm selector set to one swarm, runs in that
Prometheus and answers for that swarm only."""

import json
import os
import re
import shutil
import socket
import time
import urllib.parse

import pytest

import qfstack
from qfstack import wait_until

PROMETHEUS = "/usr/bin/prometheus"
WRITE_PROMETHEUS = f"{qfstack.COLLECTD_PLUGIN_DIR}/write_prometheus.so"
DASHBOARD = qfstack.SOURCE_DIR / "contrib" / "grafana" / \
    "qiflow-dashboard.json"
WAIT = 30
# (swarm id, collectd Hostname, agent files) of the fleet's hosts.
SWARMS = (("fleet-alpha", "host-alpha", 1), ("fleet-beta", "host-beta", 2),
          ("fleet-gamma", "host-gamma", 3))


def free_udp_port():
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stock(conf):
    """conf loaded from Debian's plugin directory (Collectd switches to our
    build's PluginDir before the plugin configuration)."""
    return f'PluginDir "{qfstack.COLLECTD_PLUGIN_DIR}"\n{conf}'


# ------------------------------------------------- collectd network plugin

def test_second_collectd_serves_the_hosts_values(stack_factory, tmp_path):
    if not os.path.exists(WRITE_PROMETHEUS):
        pytest.skip("collectd-core without write_prometheus.so")
    udp, prom_port = free_udp_port(), qfstack.free_port()
    central = qfstack.Collectd(
        tmp_path / "central", stock(f"""LoadPlugin network
<Plugin network>
  Listen "127.0.0.1" "{udp}"
</Plugin>
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "{prom_port}"
</Plugin>
"""), hostname="fleet-central")
    central.start()
    try:
        stack = stack_factory(start=False, hostname="host-alpha",
                              process_check=False,
                              extra_plugin_conf=stock(f"""LoadPlugin network
<Plugin network>
  Server "127.0.0.1" "{udp}"
</Plugin>
"""))
        stack.write_agent("Agent-1", status="working")
        stack.write_agent("Agent-2", status="idle")
        stack.start(exporter=False)
        ident = "host-alpha/qiflow_agents/count-total"
        wanted = {f"host-alpha/qiflow_agents/count-{name}" for name in
                  ("total", "active", "idle", "invalid", "unread")}
        idents = wait_until(lambda: wanted <= set(central.listval()) and
                            central.listval(), WAIT, 0.2,
                            "qiflow_agents values at the central collectd")
        assert not any(i.startswith("fleet-central/qiflow") for i in idents)
        assert central.getval(ident) == {"value": 2.0}
        assert central.getval("host-alpha/qiflow_agents/count-idle") == \
            {"value": 1.0}
        wait_until(lambda: "host-alpha/load/load" in central.listval(),
                   WAIT, 0.2, "the host's load at the central collectd")
        assert not any(i.startswith("fleet-central/qiflow") for i in idents)
        assert central.getval(ident) == {"value": 2.0}
        assert central.getval("host-alpha/qiflow_agents/count-idle") == \
            {"value": 1.0}

        seen = {}

        def exposed():
            text = seen["text"] = qfstack.http(
                "GET", f"http://127.0.0.1:{prom_port}/metrics").text
            lines = [line for line in text.splitlines()
                     if line.startswith("collectd_qiflow_agents_count{")
                     and 'instance="host-alpha"' in line
                     and 'qiflow_agents="total"' in line]
            return lines or None
        try:
            (line,) = wait_until(exposed, WAIT, 0.2,
                                 "qiflow_agents at write_prometheus")
        except qfstack.WaitTimeout as exc:
            raise AssertionError(seen.get("text", "")[-3000:]) from exc
        assert float(line.split()[1]) == 2.0, line
    finally:
        central.stop()


# ------------------------------------------------------------- Prometheus

class Prometheus:
    """Debian's Prometheus on a loopback port scraping targets every 1 s."""

    def __init__(self, workdir, targets):
        self.workdir = workdir
        self.port = qfstack.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "prometheus.yml"
        listed = ", ".join(f'"{t}"' for t in targets)
        self.config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: qiflow
    metrics_path: /metrics
    static_configs:
      - targets: [{listed}]
""")
        self.log_path = workdir / "prometheus.log"
        self.proc = None

    def start(self):
        self.proc = qfstack._spawn(  # pylint: disable=protected-access
            [PROMETHEUS, f"--config.file={self.config}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--log.level=warn"], self.log_path)
        wait_until(self.ready, WAIT, 0.2, "Prometheus ready")
        return self

    def ready(self):
        assert self.proc.poll() is None, self.log_path.read_text()
        try:
            return qfstack.http("GET", f"{self.url}/-/ready").status == 200
        except OSError:
            return False

    def stop(self):
        qfstack._terminate(self.proc, 15)  # pylint: disable=protected-access

    def query(self, expr):
        """An instant query: the result list; an error fails the test."""
        resp = qfstack.http("GET", f"{self.url}/api/v1/query?" +
                            urllib.parse.urlencode({"query": expr}))
        doc = resp.json()
        assert resp.status == 200 and doc["status"] == "success", \
            f"{expr}: {resp.status} {doc}"
        return doc["data"]["result"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Three swarm hosts (collectd + qiflow_agents + exporter, each with its
    own swarm id, hostname and number of agents, and the schema examples'
    project.json and heartbeat.json) scraped by one Prometheus. Yields
    (prometheus, {swarm id: stack})."""
    for path in (PROMETHEUS, qfstack.BUILD_DIR / "bin" / "qiflow-exporter"):
        if not os.path.exists(path):
            pytest.skip(f"{path} missing")
    root = tmp_path_factory.mktemp("fleet")
    stacks, prometheus = {}, None
    try:
        for swarm, host, agents in SWARMS:
            stack = qfstack.Stack(root / swarm, hostname=host,
                                  process_check=False,
                                  exporter_args=["--swarm-id", swarm])
            stacks[swarm] = stack
            for name in ("project", "heartbeat"):
                example = qfstack.schema(f"{name}-snapshot")["examples"][0]
                if name == "heartbeat":  # as qiflow_heartbeat's SwarmID
                    example.update(swarm_id=swarm,
                                   swarm_id_source="configured")
                (stack.state_dir / f"{name}.json").write_text(
                    json.dumps(example))
            for i in range(agents):
                stack.write_agent(f"Agent-{i + 1}", status="working",
                                  task_started_at=qfstack.iso_time(-600))
            stack.start()
        prometheus = Prometheus(
            root / "prometheus",
            [s.exporter.url.split("//", 1)[1] for s in stacks.values()])
        prometheus.start()

        def all_swarms_scraped():
            got = {r["metric"].get("swarm_id") for r in prometheus.query(
                "qiflow_exporter_info and on (job, instance) "
                "qiflow_agents_registered")}
            scrapes = prometheus.query(
                "min(count_over_time(qiflow_exporter_info[1m]))")
            return got == set(stacks) and scrapes and \
                float(scrapes[0]["value"][1]) >= 3
        wait_until(all_swarms_scraped, WAIT * 2, 0.5,
                   "Prometheus holding three scrapes of each swarm")
        yield prometheus, stacks
    finally:
        if prometheus is not None and prometheus.proc is not None:
            prometheus.stop()
        for stack in stacks.values():
            stack.stop()


def test_prometheus_keeps_every_swarm_apart(fleet):
    prometheus, stacks = fleet
    info = prometheus.query("qiflow_exporter_info")
    by_swarm = {r["metric"]["swarm_id"]: r["metric"] for r in info}
    assert set(by_swarm) == set(stacks)
    for swarm, host, agents in SWARMS:
        labels = by_swarm[swarm]
        assert labels["hostname"] == host, labels
        assert labels["instance"] == \
            stacks[swarm].exporter.url.split("//", 1)[1]
        (reg,) = prometheus.query(
            "qiflow_agents_registered and on (job, instance) "
            f'qiflow_exporter_info{{swarm_id="{swarm}"}}')
        assert float(reg["value"][1]) == agents, (swarm, reg)
        (active,) = prometheus.query(
            f'sum(qiflow_agents{{status="active"}} and on (job, instance) '
            f'qiflow_exporter_info{{swarm_id="{swarm}"}})')
        assert float(active["value"][1]) == agents
        on_task = prometheus.query(
            "qiflow_agent_time_on_task_seconds and on (job, instance) "
            f'qiflow_exporter_info{{swarm_id="{swarm}"}}')
        assert len(on_task) == agents, on_task


# ------------------------------------------------------- Grafana dashboard

def dashboard():
    return json.loads(DASHBOARD.read_text())


def panel_queries():
    """(panel title, expr) of every dashboard query."""
    return [(p["title"], t["expr"]) for p in dashboard()["panels"]
            for t in p.get("targets", [])]


def test_dashboard_has_a_swarm_selector():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    swarm = variables["swarm"]
    assert swarm["query"]["query"] == \
        "label_values(qiflow_exporter_info, swarm_id)"
    assert swarm["multi"] and swarm["includeAll"]
    assert "$swarm" in variables["instance"]["query"]["query"]
    for title, expr in panel_queries():
        assert 'swarm_id=~"$swarm"' in expr, (title, expr)


def grafana_regex_escape(value):
    """A value as Grafana puts it into a PromQL regex matcher: regex
    metacharacters get a backslash, doubled inside the PromQL string."""
    return re.sub(r"([\\^$*+?.()|\[\]{}])", r"\\\\\1", value)


def substitute(expr, swarm):
    """expr as Grafana sends it with the selector on one swarm and every
    instance."""
    return expr.replace("$swarm", grafana_regex_escape(swarm)).replace(
        "$instance", ".*")


def test_dashboard_queries_answer_per_swarm(fleet):
    """Every panel query runs without error for each swarm, the same
    queries have data for every swarm, and a series that names its
    instance names the selected swarm's."""
    prometheus, stacks = fleet
    time.sleep(2)  # rate() over the counters wants a few scrapes more
    with_data = {}
    for swarm, stack in stacks.items():
        instance = stack.exporter.url.split("//", 1)[1]
        with_data[swarm] = set()
        for title, expr in panel_queries():
            result = prometheus.query(substitute(expr, swarm))
            for series in result:
                assert series["metric"].get("instance", instance) == \
                    instance, (swarm, title, expr, series)
            if result:
                with_data[swarm].add(expr)
    sets = list(with_data.values())
    assert all(s == sets[0] for s in sets), with_data
    # What the three hosts run (qiflow_agents, the exporter, the examples'
    # project.json and heartbeat.json) fills most panels; only figures of
    # plugins these hosts do not load may stay empty.
    empty = {e for _, e in panel_queries()} - sets[0]
    for expr in empty:
        assert re.search(r"qiflow_(heartbeat|webhook|github)_", expr), \
            f"no data for {expr}"
    for needed in ("qiflow_agents{", "qiflow_cpu_usage_ratio",
                   "qiflow_project_completion_ratio", "qiflow_exporter_info"):
        assert any(needed in e for e in sets[0]), needed
