#!/usr/bin/python3
"""run.py: QiFlow's benchmarks against the anchors of issue 6.

Builds Release, generates a realistic state (50 agents, a 5,000-issue fake
GitHub repository synced by the real qiflow_github, collectd with cpu,
memory, df, load and uptime), starts the real stack (collectd + our plugins
+ qiflow-exporter, on one half of the CPUs; wrk runs on the other) beside
its baselines (nginx serving the same bytes,
collectd's own write_prometheus, collectd without our plugins, collectd with
only libcurl: curl_floor.c), runs every
case and its baseline alternately, and prints one table. Every server binds
127.0.0.1; every wait and loop is bounded; the whole run stops itself.

  /usr/bin/python3 tests/bench/run.py            # full: about 7 minutes
  /usr/bin/python3 tests/bench/run.py --smoke    # every case briefly, < 90 s
  /usr/bin/python3 tests/bench/run.py --scale [--soak 600]
      # issue 18: how each cost grows over 100 / 5,000 / 100,000 issues
      # (tests/bench/scale.py), about 15 minutes plus the soak

Timing targets are reported, never asserted. The exit status is 1 when a
case could not run or a deterministic target failed (GitHub requests per
unchanged cycle), 77 when wrk, nginx or libprotobuf-c1 is missing and
cannot be installed (ctest reports the test as skipped), else 0.
What each number means: tests/bench/BENCHMARKS.md.
"""

import argparse
import atexit
import contextlib
import gzip
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
PACKAGES = (("wrk", "/usr/bin/wrk"), ("nginx-light", "/usr/sbin/nginx"),
            ("libprotobuf-c1", None))
TARGETS = ("qiflow_agents", "qiflow_github", "qiflow_heartbeat",
           "qiflow-exporter")
EXIT_SKIP = 77

# Modes: rounds of each case/baseline pair, seconds per wrk run, unchanged
# GitHub cycles counted, startups timed, seconds per heartbeat round, the
# whole run's limit.
MODES = {
    "full": {"rounds": 5, "duration": 6, "warmup": 2, "cycles": 3,
             "startups": 10, "hb_seconds": 10, "hb_rounds": 3,
             "limit": 600},
    "smoke": {"rounds": 1, "duration": 1, "warmup": 0, "cycles": 1,
              "startups": 3, "hb_seconds": 3, "hb_rounds": 1,
              "limit": 90},
    "scale": {"rounds": 2, "duration": 3, "warmup": 1, "cycles": 3,
              "startups": 0, "hb_seconds": 0, "hb_rounds": 0,
              "limit": 1500},
}

COLLECTD_INTERVAL = 10      # Debian's default; CPU is reported per interval
GITHUB_INTERVAL_CPU = 60    # the CPU stack's GitHub cycle (default 300)
TOKEN = "bench-token"
API_KEY = "bench-key"
SWARM = "bench-swarm"
# A typical swarm's agents: name, status, task, issue.
TYPICAL_AGENTS = (
    ("Agent-1", "active", "Implement OAuth", 126),
    ("Agent-2", "idle", None, None),
    ("Agent-3", "blocked", "Fix flaky CI job", 131),
)

qfstack = None      # imported once QF_BUILD_DIR is known
github_cost = None
FakeBackend = None
FakeGitHub = None

_PROCS = []


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A case could not be measured."""


# ---------------------------------------------------------------- setup

def dpkg_installed(status):
    """Whether a dpkg-query ${Status} ("want flag state") says the package
    is unpacked and configured: state "installed" with flag "ok". Not a
    suffix test: "unknown ok not-installed" ends in "installed" too."""
    words = status.split()
    return len(words) == 3 and words[1] == "ok" and words[2] == "installed"


def missing_packages():
    missing = []
    for pkg, path in PACKAGES:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                             capture_output=True, text=True, check=False)
        installed = out.returncode == 0 and dpkg_installed(out.stdout)
        if not installed and not (path and os.access(path, os.X_OK)):
            missing.append(pkg)
    return missing


def ensure_packages(allow_install):
    """Install what the baselines need from Debian; False when impossible."""
    missing = missing_packages()
    if not missing:
        return True
    if not allow_install or os.geteuid() != 0:
        log(f"missing {' '.join(missing)}: apt-get install "
            f"{' '.join(missing)} (as root)")
        return False
    log(f"installing {' '.join(missing)} from Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
    for attempt in range(2):
        if attempt:
            subprocess.run(["apt-get", "update"], env=env, timeout=300,
                           check=False, stdout=subprocess.DEVNULL)
        done = subprocess.run(cmd, env=env, timeout=300, check=False,
                              stdout=subprocess.DEVNULL)
        if done.returncode == 0 and not missing_packages():
            return True
    log(f"could not install {' '.join(missing)}")
    return False


def build(build_dir, jobs):
    """Configure (Release) when needed and build our four targets."""
    cache = build_dir / "CMakeCache.txt"
    if not cache.exists() or "CMAKE_BUILD_TYPE:STRING=Release" \
            not in cache.read_text():
        subprocess.run(["cmake", "-S", str(SOURCE_DIR), "-B", str(build_dir),
                        "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"],
                       check=True, timeout=300, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build_dir), "-j", str(jobs),
                    "--target", *TARGETS], check=True, timeout=600,
                   stdout=subprocess.DEVNULL)


def build_floor_plugin(out_dir):
    """Compile tests/bench/curl_floor.c (collectd + libcurl and nothing
    else: the memory floor of our two libcurl plugins) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl"],
                           check=True, capture_output=True, text=True,
                           timeout=30).stdout.split()
    subprocess.run(["cc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-shared", "-fPIC", "-DHAVE_CONFIG_H",
                    "-I/usr/include/collectd/core",
                    "-I/usr/include/collectd/core/daemon",
                    "-I/usr/include/collectd", "-o",
                    str(out_dir / "curl_floor.so"),
                    str(BENCH_DIR / "curl_floor.c"), *flags],
                   check=True, timeout=120)
    return out_dir


def floor_conf(plugin_dir):
    return (f'PluginDir "{plugin_dir}"\nLoadPlugin curl_floor\n'
            f'PluginDir "{qfstack.BUILD_DIR / "plugins"}"\n')


def build_type(build_dir):
    try:
        m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$",
                      (build_dir / "CMakeCache.txt").read_text(), re.M)
    except OSError:
        return "?"
    return m.group(1) if m else "?"


def import_harness(build_dir):
    """Import qfstack and the fakes with QF_BUILD_DIR set (qfstack reads it
    at import)."""
    global qfstack, github_cost, FakeBackend, FakeGitHub  # noqa: PLW0603
    os.environ["QF_BUILD_DIR"] = str(build_dir)
    os.environ["QF_SOURCE_DIR"] = str(SOURCE_DIR)
    sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration"))
    sys.path.insert(0, str(BENCH_DIR))
    import qfstack as qs  # pylint: disable=import-outside-toplevel
    import github_cost as gc  # pylint: disable=import-outside-toplevel
    import fake_backend as fb  # pylint: disable=import-outside-toplevel
    import fake_github as fg  # pylint: disable=import-outside-toplevel
    qfstack, github_cost = qs, gc
    FakeBackend, FakeGitHub = fb.FakeBackend, fg.FakeGitHub


def machine():
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines()
                   if l.startswith("MemTotal"))
        mem_gib = int(mem.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        mem_gib = 0
    return {"nproc": os.cpu_count(), "cpu": model,
            "memory_gib": round(mem_gib, 1), "kernel": platform.release()}


# ---------------------------------------------------------------- CPUs

def _cpu_split():
    """The CPUs this process may use, split in two halves: the servers
    under test (the exporter, its baselines, collectd) on the first, wrk on
    the second, so that the load generator takes no CPU from the servers
    it compares. On one CPU, no split (None, None)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[:len(cpus) // 2], cpus[len(cpus) // 2:]


SERVER_CPUS, LOAD_CPUS = _cpu_split()


def cpu_note():
    """Where the servers and wrk ran, for a report's header."""
    if SERVER_CPUS is None:
        return "servers and wrk on the one CPU"
    return (f"servers on CPU {','.join(map(str, SERVER_CPUS))}, "
            f"wrk on CPU {','.join(map(str, LOAD_CPUS))}")


@contextlib.contextmanager
def server_cpus():
    """Processes started inside run on SERVER_CPUS only (a child inherits
    the affinity of the thread that starts it)."""
    if SERVER_CPUS is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, SERVER_CPUS)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# ---------------------------------------------------------------- CPU budget

# The share of one CPU each server gets in an equal-budget comparison: low
# enough that wrk, with a CPU of its own, is never what limits the rate.
BUDGET_CPU = 0.5
BUDGET_PERIOD_US = 10000


def _cpu_cgroup_mount():
    """(mount point, 1 or 2) of a cgroup hierarchy with the cpu controller
    (v1 'cpu', or v2 with cpu enabled at its root), or None."""
    v2 = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        mnt, rest = left.split()[4], right.split()
        if rest[0] == "cgroup" and "cpu" in rest[2].split(","):
            return Path(mnt), 1
        ctl = Path(mnt, "cgroup.subtree_control")
        if rest[0] == "cgroup2" and ctl.exists() and \
                "cpu" in ctl.read_text().split():
            v2 = (Path(mnt), 2)
    return v2


def budget_unavailable():
    """Why a CPU quota cannot be set here (a sentence), or None."""
    if os.geteuid() != 0:
        return "a CPU quota needs root (cgroups)"
    if _cpu_cgroup_mount() is None:
        return "no cgroup hierarchy with the cpu controller is mounted"
    return None


class CpuBudget:
    """A cgroup whose processes together get at most `share` of one CPU
    (CFS bandwidth: `share * period` of CPU time each period; v1
    cpu.cfs_quota_us or v2 cpu.max), what systemd's CPUQuota= sets for a
    unit. add() moves processes (all their threads) in; close() moves them
    back to the hierarchy's root and removes the group."""

    def __init__(self, name, share=BUDGET_CPU, period_us=BUDGET_PERIOD_US):
        found = _cpu_cgroup_mount()
        if found is None or os.geteuid() != 0:
            raise BenchError(budget_unavailable())
        self.root, version = found
        self.dir = self.root / f"qiflow-bench-{os.getpid()}-{name}"
        self.dir.mkdir()
        self.pids = []
        quota = int(share * period_us)
        if version == 1:
            (self.dir / "cpu.cfs_period_us").write_text(str(period_us))
            (self.dir / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.dir / "cpu.max").write_text(f"{quota} {period_us}")

    def add(self, pids):
        for pid in pids:
            (self.dir / "cgroup.procs").write_text(str(pid))
            self.pids.append(pid)
        return self

    def close(self):
        for pid in self.pids:
            with contextlib.suppress(OSError):  # it may have exited
                (self.root / "cgroup.procs").write_text(str(pid))
        self.pids = []
        with contextlib.suppress(OSError):
            self.dir.rmdir()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def alternate_budget(case_url, base_url, mode, pids, headers=()):
    """alternate() with each side's server processes (pids: case's,
    baseline's) in a CpuBudget of its own: both get the same CPU time, so
    the rates compare what each server does with it rather than how fast
    wrk reads (on a small machine wrk's CPU, not the servers', is what
    limits an unconstrained run). Raises BenchError where no quota can be
    set (budget_unavailable says why)."""
    with CpuBudget("case") as a, CpuBudget("base") as b:
        a.add(pids[0])
        b.add(pids[1])
        return alternate(case_url, base_url, mode, pids=pids,
                         headers=headers)


# ---------------------------------------------------------------- processes

def spawn(argv, log_path, **kwargs):
    """Start argv in its own session, output to log_path; killed at exit."""
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True, **kwargs)
    _PROCS.append(proc)
    return proc


def stop(proc, sig=signal.SIGTERM, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@atexit.register
def _reap():
    for proc in _PROCS:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def proc_status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


def memory(pid):
    """VmRSS, VmHWM and RssAnon (from status) and Pss (smaps_rollup), KiB.
    VmRSS counts every shared-library page the process touched; RssAnon is
    its private heap and stacks; Pss shares library pages among the
    processes that map them."""
    out = {k: proc_status_kib(pid, k) for k in ("VmRSS", "VmHWM", "RssAnon")}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1])
    except OSError:
        out["Pss"] = -1
    return out


def mib(kib):
    return f"{kib / 1024:.1f}"


def cpu_seconds(pid):
    """utime + stime of pid (all threads) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    """pids whose parent is pid (nginx's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def http_get(url, headers=None, timeout=5):
    resp = qfstack.http("GET", url, headers=headers, timeout=timeout)
    if resp.status != 200:
        raise BenchError(f"GET {url}: {resp.status} {resp.body[:200]!r}")
    return resp


# ---------------------------------------------------------------- wrk

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise BenchError(f"wrk latency {text!r} not understood")
    return float(m.group(1)) * _UNIT[m.group(2)]


def wrk(url, seconds, conns=50, headers=()):
    """wrk -c50 (or one connection) --latency against url, one wrk thread
    per CPU of LOAD_CPUS (two where there is no split), each request with
    the headers given ("Name: value"): req/s, p50, p99 (ms), count. Two wrk
    threads on one CPU preempt each other: that alone put p99 at 4-6 ms for
    both servers (about 1 ms with one)."""
    threads = len(LOAD_CPUS) if LOAD_CPUS is not None else 2
    argv = ["wrk", f"-t{min(threads, conns)}", f"-c{conns}",
            f"-d{seconds}s", "--timeout", "2s", "--latency"]
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    if LOAD_CPUS is not None:
        argv = ["taskset", "-c", ",".join(map(str, LOAD_CPUS))] + argv
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=seconds + 30, check=False)
    text = out.stdout
    if out.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: {out.stderr or text}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
    count = re.search(r"(\d+) requests in", text)
    if not rps or "50" not in lat or "99" not in lat or not count:
        raise BenchError(f"wrk output not understood:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if bad:
        raise BenchError(f"{url}: {bad.group(1)} answers were not 2xx")
    errors = re.search(r"Socket errors: (.*)", text)
    return {"rps": float(rps.group(1)), "p50": _ms(lat["50"]),
            "p99": _ms(lat["99"]), "requests": int(count.group(1)),
            "socket_errors": errors.group(1) if errors else None}


def alternate(case_url, base_url, mode, conns=50, pids=None, headers=()):
    """Run case and baseline alternately (the order flips each round) and
    return both lists of wrk results (headers: wrk's, for every request).
    With pids (the case's server processes, the baseline's), each result
    also has cpu_us: their CPU time during the run, in microseconds per
    request."""
    if mode["warmup"]:
        wrk(case_url, mode["warmup"], conns, headers)
        wrk(base_url, mode["warmup"], conns, headers)
    case, base = [], []
    for r in range(mode["rounds"]):
        order = [(case_url, case, pids and pids[0]),
                 (base_url, base, pids and pids[1])]
        for url, into, who in (order if r % 2 == 0 else order[::-1]):
            before = sum(cpu_seconds(p) for p in who) if who else 0
            w = wrk(url, mode["duration"], conns, headers)
            if who:
                w["cpu_us"] = 1e6 * (sum(cpu_seconds(p) for p in who)
                                     - before) / max(1, w["requests"])
            into.append(w)
    return case, base


def round_ratios(case, base):
    """Each round's case req/s over its baseline's, sorted."""
    return sorted(x["rps"] / y["rps"] for x, y in zip(case, base))


def summary(runs):
    """Median of each figure (CPU per request too when measured), and the
    req/s spread (max-min over median)."""
    rps = [r["rps"] for r in runs]
    med = statistics.median(rps)
    out = {"rps": med, "p50": statistics.median(r["p50"] for r in runs),
           "p99": statistics.median(r["p99"] for r in runs),
           "requests": sum(r["requests"] for r in runs),
           "spread_pct": 100 * (max(rps) - min(rps)) / med if med else 0,
           "runs": runs}
    if all("cpu_us" in r for r in runs):
        out["cpu_us"] = statistics.median(r["cpu_us"] for r in runs)
    return out


# ---------------------------------------------------------------- nginx

class Nginx:
    """nginx (master + one worker per CPU it may run on: what 'auto' gives
    where nginx counts the affinity, which 1.22 does not) serving files from
    root on a loopback port, Debian defaults otherwise, no access log."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.root = self.dir / "html"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = qfstack.free_port()
        self.proc = None

    def put(self, name, body):
        path = self.root / name
        path.write_bytes(body)
        path.chmod(0o644)
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self):
        d = self.dir
        user = "user root root;" if os.geteuid() == 0 else ""
        (d / "nginx.conf").write_text(f"""{user}
daemon off;
worker_processes {len(os.sched_getaffinity(0))};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/json;
  types {{ application/json json; }}
  sendfile on;
  tcp_nopush on;
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{self.port};
    root {self.root};
    # A stored gzip body (put("x.json.gz", gz)) served as what it is.
    location ~ \\.gz$ {{
      types {{ }}
      default_type application/json;
      add_header Content-Encoding gzip;
      add_header Vary Accept-Encoding;
    }}
  }}
}}
""")
        self.proc = spawn(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")],
                          d / "nginx.stdout")
        qfstack.wait_until(self._answers, 10, 0.05, "nginx answering")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise BenchError(f"nginx exited: "
                             f"{(self.dir / 'error.log').read_text()}")
        with socket.create_connection(("127.0.0.1", self.port), 0.5):
            return True

    def rss_kib(self):
        pids = [self.proc.pid] + children(self.proc.pid)
        return sum(proc_status_kib(p, "VmRSS") for p in pids), len(pids)

    def stop(self):
        stop(self.proc, signal.SIGQUIT)


# ---------------------------------------------------------------- state

AGENT_STATUSES = ("working",) * 6 + ("idle", "idle", "blocked", "failed")


def write_agents(agent_dir, count):
    """count agent files, each with a live stand-in process (pid)."""
    procs = []
    for i in range(count):
        proc = qfstack.AgentProcess(seconds=3600)
        procs.append(proc)
        status = AGENT_STATUSES[i % len(AGENT_STATUSES)]
        qfstack.write_agent(
            agent_dir, f"Agent-{i + 1:02d}", status=status, pid=proc.pid,
            current_task="" if status == "idle"
            else f"Implement the change asked for in issue #{4000 + i}",
            issue_number=None if status == "idle" else 4000 + i,
            task_started_at=qfstack.iso_time(-1800 - 60 * i))
    return procs


def agents_conf(agent_dir, state_dir):
    return qfstack.agents_plugin_conf(agent_dir, state_dir)


def github_conf(gh, state_dir, interval):
    return (f"<LoadPlugin qiflow_github>\n  Interval {interval}\n"
            f"</LoadPlugin>\n<Plugin qiflow_github>\n"
            f'  Repository "{gh.repository}"\n  APIURL "{gh.url}"\n'
            f'  Token "{TOKEN}"\n  StateDir "{state_dir}"\n</Plugin>\n')


def heartbeat_conf(state_dir, log_dir, interval, backends):
    """backends: (name, url, {Option: value})."""
    blocks = []
    for name, url, opts in backends:
        lines = [f'  <Backend "{name}">', f'    URL "{url}"',
                 f'    APIKey "{API_KEY}"']
        for key, value in opts.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            lines.append(f"    {key} {value}")
        blocks.append("\n".join(lines + ["  </Backend>"]))
    return (f"LoadPlugin qiflow_heartbeat\n<Plugin qiflow_heartbeat>\n"
            f'  SwarmID "{SWARM}"\n  Interval {interval}\n'
            f'  StateDir "{state_dir}"\n  LogDir "{log_dir}"\n'
            + "\n".join(blocks) + "\n</Plugin>\n")


def write_prometheus_conf(port):
    # qfstack's config has switched PluginDir to ours: switch back for
    # collectd's own plugin, then return to ours.
    return (f'PluginDir "{qfstack.COLLECTD_PLUGIN_DIR}"\n'
            f"LoadPlugin write_prometheus\n<Plugin write_prometheus>\n"
            f'  Host "127.0.0.1"\n  Port "{port}"\n</Plugin>\n'
            f'PluginDir "{qfstack.BUILD_DIR / "plugins"}"\n')


def seed_github_state(src, dst):
    """Copy a synced mirror and project.json: the plugin's first cycle is
    then three 304s instead of a first sync."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("github-mirror.json", "project.json"):
        shutil.copy2(src / name, dst / name)
        (dst / name).chmod(0o600 if name.startswith("github") else 0o644)


# ---------------------------------------------------------------- cases

def github_phase(work, mode, timeout, results):
    """First sync and unchanged cycles for 100 and 5,000 issues (with
    github_cost.py); returns the 5,000-issue fake, kept running, and the
    state dir holding its synced mirror."""
    cycles = mode["cycles"]
    base = github_cost.run(0, work / "gh0", 1, timeout)
    rows = {}
    for n in (100, 5000):
        gh = github_cost.populated_fake(n, idle_timeout=mode["limit"] + 120)
        r = github_cost.run(n, work / f"gh{n}", cycles, timeout, gh=gh)
        rows[n] = (gh, r)
        if n == 100:
            gh.stop()
    for n, (_, r) in rows.items():
        unchanged = r["unchanged"]
        worst = max(t for t, _ in unchanged)
        all304 = all(t == n304 for t, n304 in unchanged)
        results.append({
            "case": f"GitHub unchanged cycle, {n} issues",
            "target": "<= 3 requests, all 304",
            "pass": worst <= 3 and all304, "asserted": True,
            "requests": ", ".join(f"{t} ({n304}x304)"
                                  for t, n304 in unchanged)})
        results.append({
            "case": f"GitHub first sync, {n} issues",
            "target": "requests ~ pages; reported",
            "pass": None,
            "requests": f"listing {r['listing_requests']} "
                        f"({r['listing_pages']} pages); "
                        f"{r['steady_requests']} until quiet",
            "time": f"{r['listing_seconds']:.1f} s listing, "
                    f"{r['steady_seconds']:.1f} s quiet",
            "rss": f"VmHWM {r['vm_hwm_kib'] / 1024:.1f} MiB "
                   f"(+{(r['vm_hwm_kib'] - base['vm_hwm_kib']) / 1024:.1f} "
                   f"over empty repo)"})
    return rows[5000][0], work / "gh5000" / "state"


class MainStack:
    """collectd (base plugins + our three + write_prometheus) and the
    exporter over 50 agents and the synced 5,000-issue project; beside it,
    collectd with and without our plugins for RSS and CPU."""

    def __init__(self, work, gh, synced_state, backend):
        self.work = work
        self.agent_dir = work / "agents"
        self.state = work / "state"
        self.prom_port = qfstack.free_port()
        seed_github_state(synced_state, self.state)
        self.agents = write_agents(self.agent_dir, 50)
        conf = (agents_conf(self.agent_dir, self.state)
                + github_conf(gh, self.state, 300)
                + heartbeat_conf(self.state, work / "log", 60,
                                 [("central", backend.url, {})])
                + write_prometheus_conf(self.prom_port))
        self.collectd = qfstack.Collectd(work / "collectd", conf,
                                         interval=COLLECTD_INTERVAL)
        self.exporter = qfstack.Exporter(
            self.collectd.socket, self.state, refresh_ms=1000,
            log_path=work / "exporter.log")
        # RSS and CPU: the same config with all our plugins, with each
        # alone, without them, and with only libcurl (the floor), over the
        # same minutes.
        floor_dir = build_floor_plugin(work / "floor-plugin")
        self.alone = {}
        for name in ("all", "agents", "github", "heartbeat", "none",
                     "floor"):
            d = work / f"cpu-{name}"
            seed_github_state(synced_state, d / "state")
            conf = floor_conf(floor_dir) if name == "floor" else ""
            if name in ("all", "agents"):
                conf += agents_conf(self.agent_dir, d / "state")
            if name in ("all", "github"):
                conf += github_conf(gh, d / "state", GITHUB_INTERVAL_CPU)
            if name in ("all", "heartbeat"):
                conf += heartbeat_conf(d / "state", d / "log", 60,
                                       [("central", backend.url, {})])
            self.alone[name] = qfstack.Collectd(d / "collectd", conf,
                                                interval=COLLECTD_INTERVAL)
        self.cpu_mark = None

    def start(self):
        for c in list(self.alone.values()) + [self.collectd]:
            c.start()
        self.exporter.start()
        url = self.exporter.url

        def indexed():
            doc = qfstack.http("GET", url + "/project/completion").json()
            agents = qfstack.http("GET", url + "/status").json()
            return doc["data"]["total_issues"] == 5000 and \
                agents["agents"]["total"] == 50
        qfstack.wait_until(indexed, 30, 0.1, "exporter with 50 agents "
                           "and 5,000 issues")
        qfstack.wait_until(self._prom_ready, 30, 0.1, "write_prometheus")
        return self

    def _prom_ready(self):
        text = qfstack.http("GET", self.prom_url).text
        return "collectd_qiflow_agents_count" in text

    @property
    def prom_url(self):
        return f"http://127.0.0.1:{self.prom_port}/metrics"

    def _github_cycles(self, name):
        doc = qfstack.read_json(self.work / f"cpu-{name}" / "state"
                                / "project.json")
        return doc["github"]["cycles"] if doc else 0

    def mark_cpu(self):
        self.cpu_mark = (time.monotonic(),
                         {n: cpu_seconds(c.pid)
                          for n, c in self.alone.items()},
                         self._github_cycles("github"))

    def cpu_result(self):
        """CPU seconds of each instance since mark_cpu, per collectd
        interval, and our plugins' share (instance minus "none")."""
        t0, before, cycles0 = self.cpu_mark
        span = time.monotonic() - t0
        intervals = span / COLLECTD_INTERVAL
        used = {n: cpu_seconds(c.pid) - before[n]
                for n, c in self.alone.items()}
        per = {n: 1000 * v / intervals for n, v in used.items()}
        cycles = self._github_cycles("github") - cycles0
        github_ms = 1000 * (used["github"] - used["none"]) / cycles \
            if cycles else None
        return {"seconds": span, "intervals": intervals, "cpu_s": used,
                "per_interval_ms": per, "github_cycles": cycles,
                "github_ms_per_cycle": github_ms,
                "tick_ms": 1000 / os.sysconf("SC_CLK_TCK")}

    def stop(self):
        self.exporter.stop()
        for c in [self.collectd] + list(self.alone.values()):
            c.stop()
        for proc in self.agents:
            proc.kill()


def http_row(name, case, base, base_name, target, ok, body_bytes):
    c, b = summary(case), summary(base)
    ratio = c["rps"] / b["rps"] if b["rps"] else 0
    return {"case": name, "rps": c["rps"], "p50": c["p50"], "p99": c["p99"],
            "baseline": base_name, "base_rps": b["rps"],
            "base_p99": b["p99"], "ratio": ratio, "target": target,
            "pass": ok(ratio, c), "requests": f"{c['requests']} / "
            f"{b['requests']}", "bytes": body_bytes,
            "spread": f"{c['spread_pct']:.0f}% / {b['spread_pct']:.0f}%",
            "case_runs": c["runs"], "base_runs": b["runs"]}


def http_cases(stack, nginx, mode, results):
    url = stack.exporter.url
    same_size = lambda r, c: r >= 0.9 and c["p99"] <= 5.0  # noqa: E731
    for path in ("/health", "/status"):
        body = http_get(url + path).body
        static = nginx.put(path.strip("/") + ".json", body)
        case, base = alternate(url + path, static, mode)
        results.append(http_row(
            f"exporter {path}", case, base, "nginx, same bytes",
            ">= 0.9x, p99 <= 5 ms", same_size, f"{len(body)}"))
        if path == "/health":
            # The anchors' one-connection figure: latency without queueing.
            case, base = alternate(url + path, static, mode, conns=1)
            results.append(http_row(
                "exporter /health, 1 connection", case, base,
                "nginx, same bytes", "reported", lambda r, c: None,
                f"{len(body)}"))
    ours = http_get(url + "/metrics?format=prometheus").text
    theirs = http_get(stack.prom_url).text
    case, base = alternate(url + "/metrics?format=prometheus",
                           stack.prom_url, mode)
    samples = lambda t: sum(1 for l in t.splitlines()  # noqa: E731
                            if l and not l.startswith("#"))
    results.append(http_row(
        "exporter /metrics (Prometheus)", case, base, "write_prometheus",
        ">= 3x", lambda r, c: r >= 3.0,
        f"{len(ours)} ({samples(ours)} samples) / {len(theirs)} "
        f"({samples(theirs)} samples)"))
    query = "/project/issues?status=open&limit=100"
    body = http_get(url + query).body
    static = nginx.put("issues.json", body)
    case, base = alternate(url + query, static, mode)
    results.append(http_row(
        "exporter /project/issues open, limit 100 (5,000 issues)", case,
        base, "nginx, same bytes", ">= 0.5x", lambda r, c: r >= 0.5,
        f"{len(body)}"))


def memory_rows(stack, nginx, results):
    m = memory(stack.exporter.proc.pid)
    results.append({
        "case": "exporter RSS, 50 agents + 5,000 issues (after the load)",
        "target": "<= 8 MB", "pass": m["VmRSS"] <= 8 * 1024,
        "rss": f"VmRSS {mib(m['VmRSS'])} MiB (peak {mib(m['VmHWM'])}), "
               f"RssAnon {mib(m['RssAnon'])}, Pss {mib(m['Pss'])}",
        "memory": m})
    ng, procs = nginx.rss_kib()
    results.append({"case": "nginx RSS (baseline)", "target": "reported",
                    "pass": None,
                    "rss": f"VmRSS {mib(ng)} MiB ({procs} processes)"})
    mem = {n: memory(c.pid) for n, c in stack.alone.items()}
    a, z, f = mem["all"], mem["none"], mem["floor"]
    results.append({
        "case": "collectd RSS with our plugins (vs without)",
        "target": "<= 12 MB", "pass": a["VmRSS"] <= 12 * 1024,
        "rss": f"VmRSS {mib(a['VmRSS'])} vs {mib(z['VmRSS'])} MiB (peak "
               f"{mib(a['VmHWM'])}), RssAnon {mib(a['RssAnon'])} vs "
               f"{mib(z['RssAnon'])}, Pss {mib(a['Pss'])} vs "
               f"{mib(z['Pss'])}; {over_floor(a, f)}",
        "memory": mem})
    results.append({
        "case": "  collectd + libcurl only (floor: curl_floor.c)",
        "target": "reported", "pass": None,
        "rss": f"VmRSS {mib(f['VmRSS'])} MiB (peak {mib(f['VmHWM'])}), "
               f"RssAnon {mib(f['RssAnon'])}"})
    for name in ("agents", "github", "heartbeat"):
        m = mem[name]
        results.append({
            "case": f"  collectd + qiflow_{name} alone", "target": "reported",
            "pass": None,
            "rss": f"VmRSS {mib(m['VmRSS'])} MiB (peak {mib(m['VmHWM'])}), "
                   f"RssAnon {mib(m['RssAnon'])}"})
    return f


def over_floor(m, floor):
    """What our plugins add to collectd + libcurl alone."""
    return (f"+{mib(m['VmRSS'] - floor['VmRSS'])} MiB VmRSS, "
            f"+{mib(m['RssAnon'] - floor['RssAnon'])} RssAnon over the "
            f"libcurl floor")


def cpu_row(stack, results):
    c = stack.cpu_result()
    per = c["per_interval_ms"]
    ours = {n: per[n] - per["none"] for n in ("all", "agents", "github",
                                                "heartbeat")}
    gh = c["github_ms_per_cycle"]
    results.append({
        "case": f"our plugins' CPU per {COLLECTD_INTERVAL} s interval",
        "target": "reported", "pass": None,
        "cpu": f"{ours['all']:+.1f} ms ({per['all']:.1f} with vs "
               f"{per['none']:.1f} without; agents {ours['agents']:+.1f}, "
               f"github {ours['github']:+.1f}, heartbeat "
               f"{ours['heartbeat']:+.1f})",
        "time": f"{c['seconds']:.0f} s, {c['intervals']:.0f} intervals; "
                f"github {c['github_cycles']} cycles"
                + (f", {gh:.0f} ms each" if gh is not None else ""),
        "cpu_detail": c})


def startup_row(stack, mode, work, results):
    """Exporter start to its first 200 on /health, N times."""
    times = []
    for i in range(mode["startups"]):
        port = qfstack.free_port()
        argv = [str(stack.exporter.binary), "--listen", f"127.0.0.1:{port}",
                "--socket", str(stack.collectd.socket), "--state-dir",
                str(stack.state)]
        began = time.monotonic()
        proc = spawn(argv, work / f"startup-{i}.log")
        try:
            times.append(1000 * (_first_200(proc, port, began) - began))
        finally:
            stop(proc)
    med = statistics.median(times)
    results.append({
        "case": f"exporter start to first 200 (median of {len(times)})",
        "target": "< 100 ms", "pass": med < 100,
        "time": f"{med:.1f} ms (min {min(times):.1f}, max {max(times):.1f})"})


def _first_200(proc, port, began):
    while time.monotonic() - began < 5:
        if proc.poll() is not None:
            raise BenchError(f"exporter exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.001)
    raise BenchError("exporter gave no 200 within 5 s")


# ---------------------------------------------------------------- heartbeat

def heartbeat_phase(work, mode, floor, results):
    """A typical swarm (3 agents, a 100-issue project with four flagged
    issues): the heartbeat's size raw and gzip, then the lag and spacing of
    another plugin's values with the backend hung versus answering."""
    gh = FakeGitHub(idle_timeout=mode["limit"] + 120).start()
    plain = FakeBackend(api_keys=(API_KEY,), swarms=(SWARM,), limit=10 ** 6,
                        lifetime=mode["limit"] + 120).start()
    zipped = FakeBackend(api_keys=(API_KEY,), swarms=(SWARM,), limit=10 ** 6,
                         lifetime=mode["limit"] + 120).start()
    procs = []
    collectd = None
    try:
        flagged = typical_repository(gh)
        state, agent_dir = work / "state", work / "agents"
        for name, status, task, issue in TYPICAL_AGENTS:
            procs.append(qfstack.AgentProcess(seconds=3600))
            qfstack.write_agent(agent_dir, name, status=status,
                                pid=procs[-1].pid, current_task=task or "",
                                issue_number=issue,
                                task_started_at=qfstack.iso_time(-1800))
        fast = {"Timeout": 2, "Retries": 3, "RetryDelay": 1,
                "RequestLimit": 0}
        conf = (agents_conf(agent_dir, state) + github_conf(gh, state, 1)
                + heartbeat_conf(state, work / "log", 1, [
                    ("plain", plain.url, fast),
                    ("zipped", zipped.url, dict(fast, Compress=True))]))
        collectd = qfstack.Collectd(work / "collectd", conf, interval=1.0)
        collectd.start()
        body_row(plain, zipped, flagged, results)
        lag_rows(collectd, plain, zipped, mode, results)
        m = memory(collectd.pid)
        results.append({
            "case": "collectd RSS with our plugins, typical swarm (3 agents, "
                    "100 issues)", "target": "<= 12 MB",
            "pass": m["VmRSS"] <= 12 * 1024,
            "rss": f"VmRSS {mib(m['VmRSS'])} MiB (peak {mib(m['VmHWM'])}), "
                   f"RssAnon {mib(m['RssAnon'])}, Pss {mib(m['Pss'])}; "
                   f"{over_floor(m, floor)}",
            "memory": m})
    finally:
        plain.hang(0)
        zipped.hang(0)
        if collectd is not None:
            collectd.stop()
        for p in procs:
            p.kill()
        for fake in (gh, plain, zipped):
            fake.stop()


def typical_repository(gh):
    """100 issues, 2 pull requests; three open issues labelled human and
    one with a conflicting pull request. Returns the flagged count."""
    gh.populate(100, prs=2)
    gh.add_commits(20)
    # The generator labels a sixth of the issues "blocked", long ago: all
    # of them would be flagged. A typical swarm has a few flags.
    for n, doc in list(gh.items.items()):
        if any(l["name"] == "blocked" for l in doc["labels"]):
            gh.update(n, when=time.time() - 86400, labels=["bug"])
    open_plain = [n for n, d in sorted(gh.items.items())
                  if d["state"] == "open" and "pull_request" not in d
                  and not d["labels"]]
    for n in open_plain[:3]:
        gh.update(n, labels=["human"])
    target = open_plain[3]
    gh.add_pr(200, title=f"Fix issue {target}", body=f"Closes #{target}",
              branch=f"feature/issue-{target}", mergeable_state="dirty")
    return 4


def body_row(plain, zipped, flagged, results):
    def typical(fake):
        for rec in reversed(fake.requests()):
            body = rec.body
            if rec.status == 200 and body and \
                    body.get("agents", {}).get("total_agents") == 3 and \
                    body.get("project", {}).get("flagged_issues") == flagged:
                return rec
        return None
    rec = qfstack.wait_until(lambda: typical(plain), 30, 0.2,
                             "a heartbeat with 3 agents and the flags")
    qfstack.validate(rec.body, "heartbeat-body")
    hid = rec.body["heartbeat_id"]
    zrec = qfstack.wait_until(
        lambda: next((r for r in zipped.requests() if r.status == 200
                      and r.body.get("heartbeat_id") == hid), None),
        30, 0.1, "the same heartbeat, gzip")
    if zrec.headers.get("content-encoding") != "gzip":
        raise BenchError("the Compress backend got no gzip body")
    raw, zipped_len = len(rec.raw), len(zrec.raw)
    results.append({
        "case": "heartbeat body, 3 agents + 4 flagged issues",
        "target": "<= 1 KB gzip", "pass": zipped_len <= 1024,
        "bytes": f"{raw} raw, {zipped_len} gzip (as sent; gzip -9: "
                 f"{len(gzip.compress(rec.raw, 9))})"})


def watch_values(collectd, ident, seconds):
    """Poll LISTVAL every 20 ms for `seconds`: for each new timestamp of
    ident, (value time, seen at). Returns spacings and lags in ms."""
    seen = []
    last = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stamp = collectd.listval().get(ident)
        if stamp is not None and stamp != last:
            seen.append((stamp, time.time()))
            last = stamp
        time.sleep(0.02)
    seen = seen[1:]  # the first was there before the window began
    spacing = [1000 * (b[0] - a[0]) for a, b in zip(seen, seen[1:])]
    lag = [1000 * (t - s) for s, t in seen]
    return spacing, lag


def lag_rows(collectd, plain, zipped, mode, results):
    ident = f"{collectd.hostname}/load/load"
    hung = {"spacing": [], "lag": []}
    answering = {"spacing": [], "lag": []}
    for r in range(mode["hb_rounds"]):
        for hang in ((True, False) if r % 2 == 0 else (False, True)):
            for fake in (plain, zipped):
                fake.hang(3600 if hang else 0)
            spacing, lag = watch_values(collectd, ident, mode["hb_seconds"])
            into = hung if hang else answering
            into["spacing"] += spacing
            into["lag"] += lag
    for fake in (plain, zipped):
        fake.hang(0)
    if len(hung["lag"]) < 2 or len(answering["lag"]) < 2:
        raise BenchError(f"too few values of {ident} seen")
    worst = max(hung["lag"]) - max(answering["lag"])

    def fmt(d):
        dev = max(abs(s - 1000) for s in d["spacing"]) if d["spacing"] else 0
        return (f"lag p50 {statistics.median(d['lag']):.0f} max "
                f"{max(d['lag']):.0f} ms, spacing max dev {dev:.0f} ms")
    results.append({
        "case": "other plugins' values, backend hung vs answering",
        "target": "no measurable delay (max lag +< 100 ms)",
        "pass": worst < 100,
        "time": f"hung: {fmt(hung)}; answering: {fmt(answering)} "
                f"({len(hung['lag'])}+{len(answering['lag'])} values)"})


# ---------------------------------------------------------------- table

COLUMNS = (("case", "case"), ("rps", "req/s"), ("p50", "p50 ms"),
           ("p99", "p99 ms"), ("baseline", "baseline"),
           ("base_rps", "base req/s"), ("base_p99", "base p99"),
           ("ratio", "ratio"),
           ("target", "target"), ("result", "result"), ("rss", "RSS"),
           ("cpu", "CPU"), ("time", "time"), ("requests", "requests"),
           ("bytes", "bytes"), ("spread", "req/s spread"))


def cell(row, key):
    if key == "result":
        p = row.get("pass")
        return "-" if p is None else "pass" if p else "FAIL"
    value = row.get(key)
    if value is None:
        return "-"
    if key in ("rps", "base_rps"):
        return f"{value:,.0f}"
    if key in ("p50", "p99", "base_p99"):
        return f"{value:.2f}"
    if key == "ratio":
        return f"{value:.2f}x"
    return str(value)


def table(results, markdown=False):
    cols = [(k, h) for k, h in COLUMNS
            if any(cell(r, k) != "-" for r in results)]
    cells = [[cell(r, k) for k, _ in cols] for r in results]
    heads = [h for _, h in cols]
    if markdown:
        lines = ["| " + " | ".join(heads) + " |",
                 "|" + "|".join("---" for _ in heads) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells))
              for i, h in enumerate(heads)]
    fmt = lambda vals: "  ".join(v.ljust(w)  # noqa: E731
                                 for v, w in zip(vals, widths)).rstrip()
    return "\n".join([fmt(heads), fmt(["-" * w for w in widths])]
                     + [fmt(c) for c in cells])


# ---------------------------------------------------------------- main

def run_all(args, mode, work, results):
    timeout = 120
    gh, synced = github_phase(work / "github", mode, timeout, results)
    backend = FakeBackend(api_keys=(API_KEY,), swarms=(SWARM,),
                          limit=10 ** 6,
                          lifetime=mode["limit"] + 120).start()
    stack = MainStack(work / "main", gh, synced, backend)
    with server_cpus():
        nginx = Nginx(work / "nginx").start()
    try:
        with server_cpus():
            stack.start()
        stack.mark_cpu()
        http_cases(stack, nginx, mode, results)
        floor = memory_rows(stack, nginx, results)
        startup_row(stack, mode, work / "main", results)
        heartbeat_phase(work / "heartbeat", mode, floor, results)
        cpu_row(stack, results)
    finally:
        stack.stop()
        nginx.stop()
        backend.stop()
        gh.stop()
    del args


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true",
                   help="every case briefly (< 90 s), for CI")
    p.add_argument("--build-dir", type=Path,
                   default=SOURCE_DIR / "build-bench",
                   help="Release build dir (default: build-bench)")
    p.add_argument("--no-build", action="store_true",
                   help="use --build-dir as it is")
    p.add_argument("--no-install", action="store_true",
                   help="never run apt-get; exit 77 when a tool is missing")
    p.add_argument("--scale", action="store_true",
                   help="the growth table over 100 / 5,000 / 100,000 issues "
                        "(issue 18) instead of the anchors")
    p.add_argument("--sizes", type=lambda t: [int(x) for x in t.split(",")],
                   default=None, help="--scale: comma-separated sizes "
                   "(default 100,5000,100000)")
    p.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                   help="--scale: then soak the largest size this long "
                        "(issue 18 asks 600)")
    p.add_argument("--rounds", type=int, help="override the mode's rounds")
    p.add_argument("--duration", type=int,
                   help="override the seconds per wrk run")
    p.add_argument("--json", type=Path, help="also write results here")
    p.add_argument("--markdown", action="store_true",
                   help="print the table in Markdown (for BENCHMARKS.md)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory")
    return p.parse_args()


def main():
    args = parse_args()
    name = "scale" if args.scale else "smoke" if args.smoke else "full"
    mode = dict(MODES[name])
    if args.scale:
        mode["limit"] += args.soak
    if args.rounds:
        mode["rounds"] = mode["hb_rounds"] = max(1, args.rounds)
    if args.duration:
        mode["duration"] = max(1, args.duration)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    if not ensure_packages(not args.no_install):
        return EXIT_SKIP
    build_dir = args.build_dir.resolve()
    if not args.no_build:
        log(f"building Release in {build_dir}")
        build(build_dir, os.cpu_count() or 2)
    import_harness(build_dir)

    def overrun(*_):
        raise TimeoutError(f"over the {mode['limit']} s limit")
    signal.signal(signal.SIGALRM, overrun)
    signal.alarm(mode["limit"] + 60)
    work = Path(tempfile.mkdtemp(prefix="qiflow-bench-"))
    results, failed = [], None
    try:
        if args.scale:
            import scale  # pylint: disable=import-outside-toplevel
            scale.run_scale(sys.modules[__name__], work, mode,
                            args.sizes or scale.SIZES, args.soak,
                            markdown=args.markdown, json_path=args.json)
        else:
            run_all(args, mode, work, results)
    except (BenchError, TimeoutError, RuntimeError, AssertionError,
            OSError, subprocess.SubprocessError) as exc:
        failed = f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    info = dict(machine(), mode=name,
                build_type=build_type(build_dir), seconds=round(elapsed),
                rounds=mode["rounds"], duration=mode["duration"],
                load_before=load_before, load_after=os.getloadavg()[0])
    # Load from other work on the machine makes every figure noisier.
    print(f"\nQiFlow benchmarks ({info['mode']}, {info['build_type']}, "
          f"{info['rounds']} round(s) of {info['duration']} s per case, "
          f"{info['nproc']} CPUs {info['cpu']}, {info['memory_gib']} GiB, "
          f"load {load_before:.1f} -> {info['load_after']:.1f}, "
          f"{cpu_note()}, {elapsed:.0f} s)")
    if results:
        print(table(results, markdown=args.markdown))
    if args.json and not args.scale:
        args.json.write_text(json.dumps({"machine": info, "results": results},
                                        indent=1))
    if failed:
        print(f"\nbench: FAILED before the end: {failed}", file=sys.stderr)
        return 1
    bad = [r["case"] for r in results if r.get("asserted") and not r["pass"]]
    if bad:
        print(f"\nbench: deterministic target missed: {', '.join(bad)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
