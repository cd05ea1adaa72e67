"""The whole stack (collectd + qiflow_agents + exporter under one root) and
the one status rule the tests compare with."""

import time
from pathlib import Path

from .collectd import Collectd
from .conf import agents_plugin_conf
from .exporter import Exporter
from .procs import AgentProcess, _tail, wait_until
from .records import parse_time, read_json, write_agent
from .schemas import validate


def backend_status(cpu, memory):
    """The one status rule (libqiflow/qf_status.c) for current figures:
    "degraded" above 90 % cpu or memory, else "online". Tests compare with
    it instead of "online": a shared 2-core machine may really be busy."""
    return "degraded" if (cpu or 0) > 90 or (memory or 0) > 90 else "online"


class Stack:
    """collectd + qiflow_agents + exporter under one root directory:
    root/agents (AgentDir), root/state (StateDir), root/collectd (workdir).
    Not started by the constructor; stop() is safe at any point."""

    def __init__(self, root, interval=1.0, stale_after=None,
                 process_check=None, extra_plugin_conf="",
                 exporter_args=(), hostname="qiflow-test",
                 create_agent_dir=True, collectd_wrapper=()):
        self.root = Path(root)
        self.agent_dir = self.root / "agents"
        self.state_dir = self.root / "state"
        if create_agent_dir:
            self.agent_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.interval = interval
        conf = agents_plugin_conf(self.agent_dir, self.state_dir,
                                  stale_after, process_check)
        self.collectd = Collectd(self.root / "collectd",
                                 conf + extra_plugin_conf, interval, hostname,
                                 wrapper=collectd_wrapper)
        self.exporter = Exporter(self.collectd.socket, self.state_dir,
                                 extra_args=exporter_args,
                                 log_path=self.root / "exporter.log")
        self.processes = []

    def start(self, exporter=True):
        """Start collectd, then (unless exporter=False) the exporter."""
        self.collectd.start()
        if exporter:
            self.exporter.start()
        return self

    def stop(self):
        self.exporter.stop()
        self.collectd.stop()
        for proc in self.processes:
            proc.kill()

    def get(self, path, schema_name=None, status=None, **kwargs):
        """GET path from the exporter; optionally assert the status and
        validate the JSON body against schema_name."""
        resp = self.exporter.get(path, **kwargs)
        if status is not None:
            assert resp.status == status, \
                f"GET {path}: expected {status}, got {resp!r}"
        if schema_name is not None:
            validate(resp.json(), schema_name)
        return resp

    def agent_process(self, seconds=600):
        proc = AgentProcess(seconds)
        self.processes.append(proc)
        return proc

    def write_agent(self, name, **fields):
        return write_agent(self.agent_dir, name, **fields)

    def snapshot(self):
        """StateDir/agents.json parsed, or None before the first write."""
        return read_json(self.state_dir / "agents.json")

    def wait_reads(self, count=1, timeout=None):
        """Wait until qiflow_agents has written agents.json for `count`
        reads that started after this call; returns that snapshot."""
        start = time.time()
        timeout = timeout or (count + 3) * self.interval + 5

        def done():
            doc = self.snapshot()
            stamp = doc and parse_time(doc.get("updated_at"))
            return doc if stamp and stamp >= start + count - 1 + 0.999 \
                else None
        return wait_until(done, timeout, 0.05,
                          f"{count} more qiflow_agents reads")

    def evidence(self):
        """Log tails for a failing test's report."""
        return (f"--- {self.collectd.log_path} ---\n"
                f"{_tail(self.collectd.log_path, 60)}\n"
                f"--- {self.exporter.log_path} ---\n"
                f"{_tail(self.exporter.log_path, 30)}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
