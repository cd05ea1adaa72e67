#!/usr/bin/python3
"""demo.py: every part of qiflow at work on this machine, for a first look.

Starts Debian's collectd in the foreground with all four of our plugins
and the real qiflow-exporter, from a configuration generated under
BUILD/qiflow-demo/:
- qiflow_agents reads the example registry of contrib/agents/ (copied, with
  fresh times and a stand-in process as each agent's pid);
- qiflow_github syncs a small project from a FAKE GitHub
  (tests/integration/fake_github.py) seeded here;
- qiflow_heartbeat delivers heartbeats to a STAND-IN of the central backend
  (tests/integration/fake_backend.py).
Everything listens on 127.0.0.1; no token is used and nothing goes out to
the network. It prints the URLs to try and runs until Ctrl-C or SIGTERM,
or for --duration seconds.

  /usr/bin/python3 tools/demo.py --build-dir build      (contrib/dev.sh run)
"""

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
HARNESS_DIR = SOURCE_DIR / "tests" / "integration"
PROG = "qiflow demo"

OWNER, REPO = "qiflow-demo", "swarm-app"
SWARM_ID = "qiflow-demo-swarm"
API_KEY = "demo-key-not-a-secret"
MARKER = ".qiflow-demo"  # a work directory this program made and may wipe
PLUGINS = ("qiflow_agents", "qiflow_github", "qiflow_heartbeat")
DAY, HOUR = 86400, 3600
# The stand-ins stop by themselves after this long without a --duration.
FOREVER = 30 * DAY


def say(text=""):
    print(text, flush=True)


def fail(text):
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)
    return 1


# ---------------------------------------------------------------- project

def seed_project(gh, now):
    """A small project as a swarm would have it: work closed over the last
    week, issues ready, in progress and blocked, and one issue for each
    reason to call a human (CI failing, a merge conflict, blocked too
    long, a "needs-human" label). Issues 126 and 131 are the ones the
    example agents of contrib/agents/ work on."""
    done = ((112, "Set up the CI pipeline", 6.5),
            (113, "Add a /health endpoint to the API", 5.2),
            (114, "Write the agent registry schema", 4.8),
            (115, "Dockerfile for the API server", 3.9),
            (117, "Rate-limit the public API", 2.7),
            (118, "Document the REST API", 1.6),
            (120, "Fix the login redirect loop", 1.2),
            (122, "Export Prometheus metrics", 0.6),
            (124, "Paginate the issue list", 0.2))
    for number, title, age in done:
        closed = now - age * DAY
        gh.add_issue(number, title, state="closed",
                     created_at=now - 14 * DAY, updated_at=closed,
                     closed_at=closed, assignees=["agent-1"])
    gh.add_issue(126, "Implement OAuth login", labels=["in progress"],
                 assignees=["agent-1"], created_at=now - 3 * DAY)
    gh.add_pr(127, "OAuth login", body="Closes #126",
              branch="feature/issue-126", created_at=now - DAY)
    for i in range(3):
        gh.add_run("feature/issue-126", "success",
                   created_at=now - 3 * HOUR + i * 600, pr=127)
    gh.add_issue(128, "Dark mode for the mobile app", labels=["ready"],
                 created_at=now - 4 * DAY)
    gh.add_issue(129, "Move the database to PostgreSQL 16",
                 labels=["blocked"], created_at=now - 5 * DAY,
                 updated_at=now - 30 * HOUR)
    gh.add_label_event(129, "blocked", now - 30 * HOUR)
    gh.add_issue(130, "Decide the pricing tiers", labels=["needs-human"],
                 created_at=now - 2 * DAY)
    gh.add_label_event(130, "needs-human", now - 5 * HOUR)
    gh.add_issue(131, "Fix the flaky CI job", labels=["in progress"],
                 assignees=["agent-3"], created_at=now - 2 * DAY)
    gh.add_pr(132, "Stabilise the integration tests", body="Fixes #131",
              branch="fix-flaky-ci", created_at=now - DAY)
    for i in range(3):
        gh.add_run("fix-flaky-ci", "failure",
                   created_at=now - 2 * HOUR + i * 600, pr=132)
    gh.add_issue(133, "Push notifications for failed agents",
                 labels=["ready"], created_at=now - DAY)
    gh.add_issue(134, "Refactor the heartbeat client",
                 labels=["in progress"], created_at=now - 3 * DAY)
    gh.add_pr(135, "Refactor the heartbeat client", body="Closes #134",
              branch="feature/issue-134", mergeable_state="dirty",
              created_at=now - 2 * DAY)
    gh.add_issue(136, "Onboarding guide for new agents",
                 created_at=now - 6 * HOUR)
    gh.add_commits(14, start=now - 600, spacing=8 * HOUR)


# ---------------------------------------------------------------- agents

class DemoAgents:
    """The example registry of contrib/agents/, copied into a directory of
    the demo: each agent gets a live stand-in process as its pid and
    current times, refreshed every minute so none turns stale or dead."""

    def __init__(self, qfstack, directory):
        self.qfstack = qfstack
        self.directory = directory
        self.examples = sorted((SOURCE_DIR / "contrib" / "agents")
                               .glob("*.json"))
        self.processes = [qfstack.AgentProcess(seconds=FOREVER)
                          for _ in self.examples]
        self.written = 0.0

    def write(self):
        """write copies each example with its pid and times made current
        (task_started_at keeps being 40 minutes ago)."""
        for path, proc in zip(self.examples, self.processes):
            doc = json.loads(path.read_text())
            doc["pid"] = proc.pid
            doc["last_activity"] = self.qfstack.iso_time()
            if doc.get("task_started_at"):
                doc["task_started_at"] = self.qfstack.iso_time(-2400)
            self.qfstack.write_agent(self.directory, doc["name"],
                                     filename=path.name,
                                     raw=json.dumps(doc, indent=2))
        self.written = time.monotonic()

    def refresh(self):
        if time.monotonic() - self.written > 60:
            self.write()

    def stop(self):
        for proc in self.processes:
            proc.kill()


# ---------------------------------------------------------------- config

def plugin_conf(agent_dir, state_dir, log_dir, gh, backend, interval):
    """Our four plugins' blocks for the generated collectd.conf."""
    return f"""
LoadPlugin qiflow_agents
<Plugin qiflow_agents>
  AgentDir "{agent_dir}"
  StateDir "{state_dir}"
</Plugin>

# The FAKE GitHub on 127.0.0.1 (tests/integration/fake_github.py); no token.
LoadPlugin qiflow_github
<Plugin qiflow_github>
  Repository "{gh.repository}"
  APIURL "{gh.url}"
  StateDir "{state_dir}"
</Plugin>

# The STAND-IN central backend on 127.0.0.1 (tests/integration/
# fake_backend.py). SwarmID "": the id in StateDir/swarm_id, which the demo
# wrote ("{SWARM_ID}", registered with the stand-in); every part reads it.
LoadPlugin qiflow_heartbeat
<Plugin qiflow_heartbeat>
  SwarmID ""
  Interval {interval:g}
  StateDir "{state_dir}"
  LogDir "{log_dir}"
  <Backend "demo-backend">
    URL "{backend.url}"
    APIKey "{API_KEY}"
    Timeout 5
    RequestLimit 0
  </Backend>
</Plugin>

# Anomaly detection (docs/anomaly.md) over the same snapshots: it learns this
# swarm's normal and writes StateDir/anomalies.json.
LoadPlugin qiflow_anomaly
<Plugin qiflow_anomaly>
  StateDir "{state_dir}"
</Plugin>
"""


def prepare_workdir(path):
    """prepare_workdir empties a work directory an earlier demo made (it
    holds MARKER) and refuses any other non-empty one."""
    if path.exists():
        if (path / MARKER).exists():
            shutil.rmtree(path)
        elif any(path.iterdir()):
            raise RuntimeError(f"{path} exists and was not made by this "
                               "demo; pass another --workdir")
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by tools/demo.py; emptied at its "
                               "next start\n")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="demo.py", description="Run collectd with qiflow_agents, "
        "qiflow_github (against a fake GitHub) and qiflow_heartbeat "
        "(against a stand-in backend), and qiflow-exporter, all on "
        "127.0.0.1, until Ctrl-C.")
    p.add_argument("--build-dir", default=str(SOURCE_DIR / "build"),
                   help="the built tree (default %(default)s)")
    p.add_argument("--listen", default="127.0.0.1:8080",
                   help="the exporter's loopback address (default "
                        "%(default)s)")
    p.add_argument("--agent-dir", help="a real agent registry instead of "
                   "the examples of contrib/agents/")
    p.add_argument("--workdir", help="where the configuration, state and "
                   "logs go, emptied at each start (default "
                   "BUILD/qiflow-demo)")
    p.add_argument("--interval", type=float, default=10.0,
                   help="collectd's interval: reads, GitHub syncs and "
                        "heartbeats, in seconds (default %(default)s)")
    p.add_argument("--duration", type=float,
                   help="stop by itself after this many seconds")
    args = p.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if host != "127.0.0.1" or \
            not port.isdigit() or not 0 < int(port) < 65536:
        p.error("--listen must be 127.0.0.1:PORT (the demo stays on "
                "loopback)")
    if not 1 <= args.interval <= 3600:
        p.error("--interval must be from 1 to 3600 seconds")
    if args.duration is not None and args.duration <= 0:
        p.error("--duration must be a positive number of seconds")
    return args


# ---------------------------------------------------------------- run

class Demo:
    """The stand-ins, collectd and the exporter; stop() is safe at any
    point."""

    def __init__(self, args, qfstack, fake_github, fake_backend):
        self.args = args
        self.qfstack = qfstack
        self.build_dir = Path(args.build_dir).resolve()
        self.root = Path(args.workdir or self.build_dir / "qiflow-demo") \
            .resolve()
        lifetime = (args.duration + 60) if args.duration else FOREVER
        self.github = fake_github.FakeGitHub(owner=OWNER, repo=REPO,
                                             idle_timeout=lifetime)
        self.backend = fake_backend.FakeBackend(
            api_keys=[API_KEY], swarms=[SWARM_ID], lifetime=lifetime)
        self.agents = None
        self.collectd = None
        self.exporter = None

    def start(self):
        qf = self.qfstack
        prepare_workdir(self.root)
        state_dir = self.root / "state"
        state_dir.mkdir()
        (state_dir / "swarm_id").write_text(SWARM_ID + "\n")
        self.github.start()
        seed_project(self.github, time.time())
        self.backend.start()
        if self.args.agent_dir:
            agent_dir = Path(self.args.agent_dir).resolve()
        else:
            agent_dir = self.root / "agents"
            self.agents = DemoAgents(qf, agent_dir)
            self.agents.write()
        conf = plugin_conf(agent_dir, state_dir, self.root / "heartbeat-log",
                           self.github, self.backend, self.args.interval)
        self.collectd = qf.Collectd(self.root / "collectd", conf,
                                    interval=self.args.interval,
                                    hostname=socket.gethostname(),
                                    build_dir=self.build_dir)
        host, _, port = self.args.listen.rpartition(":")
        self.exporter = qf.Exporter(self.collectd.socket, state_dir,
                                    port=int(port), host=host,
                                    log_path=self.root / "exporter.log",
                                    refresh_ms=1000,
                                    build_dir=self.build_dir)
        self.collectd.start()
        self.exporter.start()
        self.agent_dir, self.state_dir = agent_dir, state_dir

    def banner(self):
        c, e = self.collectd, self.exporter
        agents = (f"{self.agent_dir}" if self.args.agent_dir else
                  f"the examples of contrib/agents/, copied to "
                  f"{self.agent_dir} (each pid a stand-in process)")
        say(f"{PROG}: every part runs on 127.0.0.1; no token is used and "
            "nothing leaves this machine.")
        say(f"  collectd   pid {c.pid}, config {c.conf_path}")
        say(f"             log {c.log_path}")
        say(f"  exporter   pid {e.proc.pid}, {e.url}, log {e.log_path}")
        say(f"  agents     {agents}")
        say(f"  GitHub     FAKE GitHub (tests/integration/fake_github.py) at "
            f"{self.github.url}, repository {self.github.repository}, "
            f"{len(self.github.items)} issues and pull requests seeded")
        say(f"  backend    STAND-IN central backend (tests/integration/"
            f"fake_backend.py) at {self.backend.url}, swarm {SWARM_ID}")
        say(f"  state      {self.state_dir}   heartbeat log "
            f"{self.root / 'heartbeat-log'}")
        say(f"The first GitHub sync and heartbeat come within "
            f"{self.args.interval:g} s. Try:")
        for path in ("/health", "/status", "/agent/status",
                     "/project/completion", "/project/issues?flagged=true",
                     "/metrics"):
            say(f"  curl -s '{e.url}{path}'")
        say(f"  curl -s -H 'Accept: text/plain' '{e.url}/metrics'")
        until = f"for {self.args.duration:g} s or " if self.args.duration \
            else ""
        say(f"{PROG}: running {until}until Ctrl-C")

    def supervise(self, stopping):
        """supervise waits for a signal, the duration or a dead daemon;
        returns the exit status."""
        deadline = time.monotonic() + self.args.duration \
            if self.args.duration else None
        while not stopping:
            for name, part in (("collectd", self.collectd),
                               ("exporter", self.exporter)):
                if not part.running:
                    return fail(f"{name} exited unexpectedly (code "
                                f"{part.proc.returncode}); see "
                                f"{part.log_path}")
            if deadline is not None and time.monotonic() >= deadline:
                break
            if self.agents is not None:
                self.agents.refresh()
            time.sleep(0.2)
        return 0

    def stop(self):
        for part in (self.exporter, self.collectd):
            if part is not None:
                part.stop()
        if self.agents is not None:
            self.agents.stop()
        self.backend.stop()
        self.github.stop()


def missing_parts(build_dir):
    need = [build_dir / "plugins" / f"{p}.so" for p in PLUGINS]
    need.append(build_dir / "bin" / "qiflow-exporter")
    return [str(p) for p in need if not p.exists()]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    build_dir = Path(args.build_dir).resolve()
    missing = missing_parts(build_dir)
    if missing:
        return fail(f"not built: {', '.join(missing)}; build first "
                    f"(cmake --build {build_dir}, or contrib/dev.sh build)")
    # The harness reads these when imported; collectd and the exporter must
    # not pick up the user's credentials for the stand-ins.
    os.environ["QF_BUILD_DIR"] = str(build_dir)
    os.environ["QF_SOURCE_DIR"] = str(SOURCE_DIR)
    for name in ("GITHUB_TOKEN", "QIFLOW_API_KEY"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(HARNESS_DIR))
    import qfstack  # pylint: disable=import-outside-toplevel
    import fake_backend  # pylint: disable=import-outside-toplevel
    import fake_github  # pylint: disable=import-outside-toplevel

    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    demo = Demo(args, qfstack, fake_github, fake_backend)
    try:
        demo.start()
        demo.banner()
        return demo.supervise(stopping)
    except (RuntimeError, OSError) as exc:
        return fail(str(exc))
    finally:
        demo.stop()
        say(f"{PROG}: stopped")


if __name__ == "__main__":
    sys.exit(main())
