#!/usr/bin/python3
"""exporter_scale.py: the exporter's rows of the scale table (issue 18)
on a state directory that a scale run left (run.py --scale --keep), in
about a minute instead of the run's eight.

  /usr/bin/python3 tests/bench/exporter_scale.py STATE_DIR \\
      [--build-dir DIR] [--binary NAME=PATH ...] [--threads LIST]
      [--rounds N] [--json FILE]

STATE_DIR holds project.json (and the other snapshots) as qiflow_github
wrote them. A collectd with only its unixsock plugin stands in for the
scale run's (the exporter reads its values; our plugins' values change no
figure measured here). For each binary (default: DIR/bin/qiflow-exporter),
in turn and in the same run, it starts the exporter on STATE_DIR, waits
until /project/completion counts project.json's issues, and measures as
scale.py does: RSS right after indexing; /project/issues?status=open&
limit=100, /status and /health against nginx serving the same bytes
(wrk -c50 --latency, ROUNDS alternating rounds of 3 s each: req/s,
p50, p99 and each server's CPU per request as medians, and the ratio of
each round's pair: median, min and max), and as root the same rounds with
each server held to half a CPU by a cgroup quota (run.CpuBudget: the
server, not wrk, sets the rate); then settled VmRSS, peak (VmHWM)
and RssAnon 3 s after the load; and checks that every binary answers the
same bytes for a set of pages. The servers run on one half of the CPUs
and wrk on the other (run.server_cpus). --threads 2,4,default measures
each binary once per worker count ("default": no --threads given). Every
server binds 127.0.0.1; every wait is bounded.
"""

import argparse
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
import run  # noqa: E402  pylint: disable=wrong-import-position

PAGES = ("/project/issues?status=open&limit=100",
         "/project/issues?status=all&limit=100&page=7",
         "/project/issues?status=closed&flagged=false&limit=37&page=900",
         "/project/issues?status=blocked&flagged=true&limit=100",
         "/project/issues?status=done&limit=100&page=512",
         "/project/issues?status=in_progress&limit=3&page=2",
         "/project/issues?flagged=true&page=2",
         "/project/issues?status=ready&page=100000",
         "/project/completion")

# What wrk measures against nginx serving the same bytes: the page of the
# issue-18 target, and the two small bodies of the p99 <= 5 ms target.
ENDPOINTS = (("issues", PAGES[0]), ("status", "/status"),
             ("health", "/health"))


def smaps(pid):
    """Anonymous and file-backed resident KiB (smaps_rollup)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("Rss", "Anonymous", "Private_Clean", "Shared_Clean"):
            out[key] = int(line.split()[1])
    return out


def versus(ex, ex_url, nginx, static, rounds):
    """wrk against the exporter's url and nginx's static copy, alternating
    (run.alternate: the order flips each round, 3 s each): the medians of
    both, the spread of the per-round ratios, and each server's CPU per
    request."""
    servers = ([ex.proc.pid],
               [nginx.proc.pid] + run.children(nginx.proc.pid))
    mode = {"warmup": 1, "rounds": rounds, "duration": 3}
    out = figures(run.alternate(ex_url, static, mode, pids=servers))
    if run.budget_unavailable() is None:
        out["budget"] = figures(run.alternate_budget(ex_url, static, mode,
                                                     servers))
    return out


def figures(runs):
    """Medians of both sides of alternate()'s rounds, and the spread of the
    per-round ratios."""
    out = {"ratios": run.round_ratios(*runs)}
    out["ratio"] = statistics.median(out["ratios"])
    for prefix, side in (("", runs[0]), ("nginx_", runs[1])):
        m = run.summary(side)
        for key in ("rps", "p50", "p99", "cpu_us"):
            out[prefix + key] = m[key]
        out[prefix + "p99_max"] = max(x["p99"] for x in side)
    return out


def one(qf, variant, collectd, state, work, rounds, issues):
    """Start one exporter binary (with --threads, unless the default) and
    measure it; returns a dict."""
    name, binary, threads = variant
    extra = [] if threads == "default" else ["--threads", threads]
    tag = re.sub(r"[^\w.-]+", "-", name)  # spaces would break nginx.conf
    ex = qf.Exporter(collectd.socket, state, refresh_ms=1000,
                     binary=binary, extra_args=extra,
                     log_path=work / f"exporter-{tag}.log")
    nginx = None
    try:
        with run.server_cpus():
            ex.start()
        t0 = time.monotonic()

        def indexed():
            doc = qf.http("GET", ex.url + "/project/completion").json()
            return doc["data"]["total_issues"] == issues
        qf.wait_until(indexed, 120, 0.1, "the exporter indexing")
        res = {"name": name, "index_s": round(time.monotonic() - t0, 2)}
        time.sleep(1.5)
        res["indexed"] = run.memory(ex.proc.pid)
        bodies = {}
        for page in PAGES:
            r = run.http_get(ex.url + page)
            bodies[page] = hashlib.sha256(r.body).hexdigest()
        res["bodies"] = bodies
        with run.server_cpus():
            nginx = run.Nginx(work / f"nginx-{tag}").start()
        for key, path in ENDPOINTS:
            static = nginx.put(f"{key}.json", run.http_get(ex.url + path).body)
            res[key] = versus(ex, ex.url + path, nginx, static, rounds)
        time.sleep(3)
        res["settled"] = run.memory(ex.proc.pid)
        res["smaps"] = smaps(ex.proc.pid)
        return res
    finally:
        if nginx is not None:
            nginx.stop()
        ex.stop()


def report(r, same):
    """One variant's lines."""
    s, i = r["settled"], r["indexed"]
    print(f"{r['name']}: indexed in {r['index_s']} s, VmRSS "
          f"{i['VmRSS'] / 1024:.1f} MiB after indexing; settled VmRSS "
          f"{s['VmRSS'] / 1024:.1f} MiB (RssAnon {s['RssAnon'] / 1024:.1f}"
          f"), peak {s['VmHWM'] / 1024:.1f} MiB; bodies "
          f"{'same' if same else 'DIFFER'}")
    for key, label in ENDPOINTS:
        x = r[key]
        print(f"  {label}: {x['rps']:,.0f} vs nginx {x['nginx_rps']:,.0f} "
              f"req/s, ratio {x['ratio']:.2f}x (rounds "
              f"{min(x['ratios']):.2f}-{max(x['ratios']):.2f}); p50 "
              f"{x['p50']:.2f} vs {x['nginx_p50']:.2f} ms, p99 "
              f"{x['p99']:.2f} vs {x['nginx_p99']:.2f} ms (worst round "
              f"{x['p99_max']:.2f} vs {x['nginx_p99_max']:.2f}); CPU "
              f"{x['cpu_us']:.1f} vs {x['nginx_cpu_us']:.1f} us/request")
        b = x.get("budget")
        if b:
            print(f"    at {run.BUDGET_CPU:g} CPU each: {b['rps']:,.0f} vs "
                  f"{b['nginx_rps']:,.0f} req/s, ratio {b['ratio']:.2f}x "
                  f"(rounds {min(b['ratios']):.2f}-{max(b['ratios']):.2f}); "
                  f"p99 {b['p99']:.2f} vs {b['nginx_p99']:.2f} ms; CPU "
                  f"{b['cpu_us']:.1f} vs {b['nginx_cpu_us']:.1f} us/request")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("state_dir", type=Path)
    p.add_argument("--build-dir", type=Path,
                   default=run.SOURCE_DIR / "build-bench")
    p.add_argument("--binary", action="append", default=[],
                   help="NAME=PATH of an exporter to measure (repeatable)")
    p.add_argument("--threads", default="default",
                   help="comma-separated --threads values to measure each "
                        "binary with; 'default' gives no --threads")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    run.import_harness(args.build_dir.resolve())
    qf = run.qfstack
    binaries = [b.split("=", 1) for b in args.binary] or \
        [("build", str(args.build_dir / "bin" / "qiflow-exporter"))]
    threads = args.threads.split(",")
    for t in threads:
        if t != "default" and not t.isdigit():
            p.error(f"--threads: {t!r} is neither a number nor 'default'")
    variants = [(f"{n} --threads {t}" if len(threads) > 1 else n, b, t)
                for n, b in binaries for t in threads]
    doc = json.loads((args.state_dir / "project.json").read_text())
    issues = doc["completion"]["total_issues"]
    work = Path(tempfile.mkdtemp(prefix="qiflow-exscale-"))
    collectd = qf.Collectd(work / "collectd", "", interval=10)
    collectd.start(timeout=60)
    results = []
    try:
        for v in variants:
            results.append(one(qf, v, collectd, args.state_dir, work,
                               args.rounds, issues))
    finally:
        collectd.stop()
    ref = results[0]["bodies"]
    print(run.cpu_note())
    for r in results:
        report(r, r["bodies"] == ref)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(r["bodies"] == ref for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
