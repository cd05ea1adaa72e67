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
"""

import argparse
import os
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


def measure(qfstack, root, count, interval, seconds):
    """One collectd run on count agent files: a dict of figures."""
    stack = qfstack.Stack(root, interval=interval)
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


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", type=Path, required=True)
    p.add_argument("--counts", default="0,3,50,1000",
                   help="agent file counts; 0 gives the floor")
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=30.0,
                   help="measuring window per count")
    p.add_argument("--markdown", action="store_true")
    return p.parse_args()


def main():
    args = parse_args()
    qfstack = import_harness(args.build_dir)
    counts = [int(c) for c in args.counts.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="qf-agents-bench-") as tmp:
        for count in counts:
            rows.append(measure(qfstack, Path(tmp) / f"n{count}", count,
                                args.interval, args.seconds))
    floor = next((r["reader_ms"] for r in rows if r["agents"] == 0), 0.0)
    bar = "|" if args.markdown else ""
    head = ["agent files", "reads", "reader threads ms/read",
            "qiflow_agents ms/read (minus 0-file floor)",
            "whole collectd ms/read", "agents.json KiB"]
    print(bar + " | ".join(head) + bar if args.markdown else "  ".join(head))
    if args.markdown:
        print("|" + "---|" * len(head))
    for r in rows:
        cells = [f"{r['agents']}", f"{r['reads']:.0f}",
                 f"{r['reader_ms']:.2f}", f"{r['reader_ms'] - floor:.2f}",
                 f"{r['process_ms']:.2f}", f"{r['json_kib']:.1f}"]
        print(bar + " | ".join(cells) + bar if args.markdown
              else "  ".join(cells))
    big = [r for r in rows if r["agents"] >= 1000]
    for r in big:
        own = r["reader_ms"] - floor
        print(f"{r['agents']} files: {own:.2f} ms per read, target "
              f"{TARGET_MS:.0f} ms: {'met' if own <= TARGET_MS else 'MISSED'}")


if __name__ == "__main__":
    main()
