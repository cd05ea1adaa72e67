#!/usr/bin/env python3
"""qiflow_agents CPU per read at 3 / 50 / 1,000 agent files (issue 18).

Runs the real Debian collectd with our built qiflow_agents.so (and the
plugins the integration harness always loads) on a registry of N agent
files, every file naming a live process (this script's own pid, so the
plugin's kill()/proc check runs for each), Interval --interval, for
--seconds. It reports the CPU (utime + stime from /proc) that collectd's
reader threads spent per read, which is the plugin's read callback plus the
other read plugins; the same run with no agent file gives that floor, and
the difference is qiflow_agents' own cost. The whole process's CPU per
read (write threads included) is shown as well. Reads are counted from
collectd's interval (window / Interval); the plugin must finish well
inside it for that to hold, which the script checks from agents.json.

  python3 tests/bench/agents_scale.py --build-dir /work/build-K [--markdown]

With --repeat N each count runs N times and the table gives the median and
the spread (min-max); with --compare OLD_BUILD_DIR the runs alternate
between OLD's plugins and --build-dir's (old, new, old, new, ...) on the
same registry, so a before/after ratio is measured under the same load of
a shared machine.

--status-vs-nginx N instead serves /status at N agent files from the real
exporter and the same bytes from nginx, alternately under wrk, with
tests/bench/run.py's machinery (issue 18: at least 0.9x nginx at 1,000).
"""

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
TARGET_MS = 20.0  # issue 18: at most 20 ms of CPU per read of 1,000 files


def import_harness(build_dir):
    """qfstack reads QF_BUILD_DIR at import."""
    os.environ["QF_BUILD_DIR"] = str(build_dir)
    os.environ["QF_SOURCE_DIR"] = str(SOURCE_DIR)
    sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration"))
    import qfstack  # pylint: disable=import-outside-toplevel
    return qfstack


def thread_cpu(pid):
    """{tid: (name, cpu seconds)} for every thread of pid."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        out[task.name] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def process_cpu(pid):
    """utime + stime of the whole process pid, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def reader_cpu(sample):
    """CPU seconds of the reader threads in a thread_cpu() sample."""
    return sum(cpu for name, cpu in sample.values()
               if name.startswith("reader"))


def write_registry(qfstack, agent_dir, count):
    """count agent files, a realistic mix, each naming this live process."""
    statuses = ("working",) * 6 + ("idle", "idle", "blocked", "failed")
    for i in range(count):
        status = statuses[i % len(statuses)]
        busy = status != "idle"
        qfstack.write_agent(
            agent_dir, f"Agent-{i + 1:04d}", status=status, pid=os.getpid(),
            current_task=f"Implement the change asked for in issue "
                         f"#{4000 + i}" if busy else "",
            issue_number=4000 + i if busy else None,
            task_started_at=qfstack.iso_time(-1800 - i),
            last_activity=qfstack.iso_time(-5))


def measure(qfstack, root, count, interval, seconds, plugin_dir):
    """One collectd run on count agent files with the qiflow_agents of
    plugin_dir: a dict of figures."""
    stack = qfstack.Stack(root, interval=interval)
    stack.collectd.plugin_dir = plugin_dir
    write_registry(qfstack, stack.agent_dir, count)
    stack.start(exporter=False)
    try:
        stack.wait_reads(2)  # warm-up: first read, seeded state
        pid = stack.collectd.pid
        before, p0, t0 = thread_cpu(pid), process_cpu(pid), time.monotonic()
        time.sleep(seconds)
        after, p1, t1 = thread_cpu(pid), process_cpu(pid), time.monotonic()
        doc = stack.snapshot()
        assert doc["counts"]["total"] + doc["counts"]["invalid"] == count, \
            doc["counts"]
        assert doc["counts"]["invalid"] == 0, doc["invalid_files"][:3]
        lag = time.time() - qfstack.parse_time(doc["updated_at"])
        assert lag < interval + 1.5, f"agents.json {lag:.1f} s old: " \
            "reads fall behind the interval"
    finally:
        stack.stop()
    reads = (t1 - t0) / interval
    return {"agents": count, "reads": reads,
            "reader_ms": 1000 * (reader_cpu(after) - reader_cpu(before)) /
            reads,
            "process_ms": 1000 * (p1 - p0) / reads,
            "json_kib": (stack.state_dir / "agents.json").stat().st_size /
            1024}


GZIP = ("Accept-Encoding: gzip",)


def _versus(run, url, static, mode, pids, headers):
    """Alternating rounds of url against static (headers on every request),
    then the same with each server held to an equal CPU budget where that
    can be set: (case, base, budget or None, why not)."""
    case, base = run.alternate(url, static, mode, headers=headers)
    why = run.budget_unavailable()
    budget = None if why else run.alternate_budget(url, static, mode, pids,
                                                   headers)
    return case, base, budget, why


def _report(run, label, size, versus, target):
    """Print one comparison of _versus: both medians, the ratio against
    target (None: reported only), then the equal-budget rounds."""
    case, base, budget, why = versus
    c, b = run.summary(case), run.summary(base)
    print(f"  {label} ({size} bytes):")
    for name, m in (("exporter", c), ("nginx, same bytes", b)):
        print(f"    {name}: {m['rps']:.0f} req/s median (spread "
              f"{m['spread_pct']:.0f} %), p50 {m['p50']:.2f} ms, p99 "
              f"{m['p99']:.2f} ms")
    ratio = c["rps"] / b["rps"] if b["rps"] else 0
    verdict = "reported" if target is None else \
        f"target >= {target}x: {'met' if ratio >= target else 'MISSED'}"
    print(f"    ratio {ratio:.2f}x, {verdict}")
    if budget is None:
        print(f"    at an equal CPU budget: not measured: {why}")
        return
    c, b = run.summary(budget[0]), run.summary(budget[1])
    ratios = run.round_ratios(*budget)
    print(f"    each server at {run.BUDGET_CPU:g} CPU (cgroup quota): "
          f"exporter {c['rps']:.0f}, nginx {b['rps']:.0f} req/s; round "
          f"ratios median {statistics.median(ratios):.2f}x ({ratios[0]:.2f}-"
          f"{ratios[-1]:.2f}x)")


def status_vs_nginx(count, interval, rounds, duration):
    """/status of the exporter at count agent files against nginx serving
    the same bytes (run.py's Nginx, alternate and summary): the plain body,
    then the gzip body a client that asks for it gets (the mobile app
    does), each also with both servers held to the same share of a CPU
    (run.alternate_budget) where that can be set."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run  # pylint: disable=import-outside-toplevel
    run.import_harness(os.environ["QF_BUILD_DIR"])
    qfstack = run.qfstack
    mode = {"rounds": rounds, "duration": duration, "warmup": 2}
    with tempfile.TemporaryDirectory(prefix="qf-agents-status-") as tmp:
        stack = qfstack.Stack(Path(tmp) / "stack", interval=interval)
        write_registry(qfstack, stack.agent_dir, count)
        nginx = run.Nginx(Path(tmp) / "nginx")
        with run.server_cpus():
            stack.start()
        try:
            with run.server_cpus():
                nginx.start()
            url = stack.exporter.url + "/status"
            qfstack.wait_until(
                lambda: run.http_get(url).json()["agents"]["total"]
                == count, 30, 0.2, f"/status with {count} agents")
            body = run.http_get(url).body
            gz = run.http_get(url, {"Accept-Encoding": "gzip"})
            if gz.headers.get("content-encoding") != "gzip" or \
                    gzip.decompress(gz.body) != body:
                raise run.BenchError("/status: no gzip body of the same "
                                     "document")
            pids = ([stack.exporter.proc.pid],
                    [nginx.proc.pid] + run.children(nginx.proc.pid))
            plain = _versus(run, url, nginx.put("status.json", body), mode,
                            pids, ())
            zipped = _versus(run, url, nginx.put("status.json.gz", gz.body),
                             mode, pids, GZIP)
        finally:
            nginx.stop()
            stack.stop()
    print(f"/status at {count} agent files, wrk -t2 -c50, {rounds} x "
          f"{duration} s each, alternating")
    _report(run, "plain", len(body), plain, 0.9)
    _report(run, "gzip (Accept-Encoding: gzip)", len(gz.body), zipped, None)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", type=Path, required=True)
    p.add_argument("--compare", type=Path, metavar="OLD_BUILD_DIR",
                   help="alternate with this build's plugins (before)")
    p.add_argument("--counts", default="0,3,50,1000",
                   help="agent file counts; 0 gives the floor")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per count (and build): median and spread")
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=30.0,
                   help="measuring window per run")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--status-vs-nginx", type=int, metavar="N",
                   help="instead: /status at N agents against nginx")
    p.add_argument("--rounds", type=int, default=5,
                   help="with --status-vs-nginx: wrk runs of each")
    return p.parse_args()


def spread(values, fmt="{:.2f}"):
    """median, and min-max when there is more than one value."""
    med = fmt.format(statistics.median(values))
    if len(values) < 2:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(label, rows, markdown, header):
    """Print one build's rows (a list of runs per count); return
    {count: median qiflow_agents ms per read}."""
    floor = statistics.median(
        [r["reader_ms"] for r in rows.get(0, [])] or [0.0])
    bar = "|" if markdown else ""
    head = ["build", "agent files", "runs x reads",
            "reader threads ms/read",
            "qiflow_agents ms/read (minus 0-file floor)",
            "whole collectd ms/read", "agents.json KiB"]
    if header:
        print(bar + " | ".join(head) + bar if markdown else "  ".join(head))
    if header and markdown:
        print("|" + "---|" * len(head))
    own = {}
    for count, runs in rows.items():
        mine = [r["reader_ms"] - floor for r in runs]
        own[count] = statistics.median(mine)
        cells = [label, f"{count}",
                 f"{len(runs)} x {statistics.median(r['reads'] for r in runs):.0f}",
                 spread([r["reader_ms"] for r in runs]), spread(mine),
                 spread([r["process_ms"] for r in runs]),
                 f"{runs[-1]['json_kib']:.1f}"]
        print(bar + " | ".join(cells) + bar if markdown else "  ".join(cells))
    return own


def main():
    args = parse_args()
    qfstack = import_harness(args.build_dir)
    if args.status_vs_nginx is not None:
        status_vs_nginx(args.status_vs_nginx, args.interval, args.rounds,
                        6)
        return
    counts = [int(c) for c in args.counts.split(",")]
    builds = [("new", args.build_dir)]
    if args.compare:
        builds = [("old", args.compare)] + builds
    rows = {label: {c: [] for c in counts} for label, _ in builds}
    with tempfile.TemporaryDirectory(prefix="qf-agents-bench-") as tmp:
        for rep in range(args.repeat):
            for count in counts:
                for label, build in builds:
                    rows[label][count].append(measure(
                        qfstack, Path(tmp) / f"{label}-n{count}-{rep}",
                        count, args.interval, args.seconds,
                        build / "plugins"))
    own = {label: table(label if args.compare else str(build),
                        rows[label], args.markdown, header=i == 0)
           for i, (label, build) in enumerate(builds)}
    for count in (c for c in counts if c >= 1000):
        new = own["new"][count]
        line = f"{count} files: {new:.2f} ms per read (median), target " \
            f"{TARGET_MS:.0f} ms: {'met' if new <= TARGET_MS else 'MISSED'}"
        if args.compare and own["old"][count] > 0:
            line += f"; new/old {new / own['old'][count]:.2f}"
        print(line)


if __name__ == "__main__":
    main()
