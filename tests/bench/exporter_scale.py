#!/usr/bin/python3
"""exporter_scale.py: the exporter's rows of the scale table (issue 18)
on a state directory that a scale run left (run.py --scale --keep), in
about a minute instead of the run's eight.

  /usr/bin/python3 tests/bench/exporter_scale.py STATE_DIR \\
      [--build-dir DIR] [--binary NAME=PATH ...] [--rounds N]

STATE_DIR holds project.json (and the other snapshots) as qiflow_github
wrote them. A collectd with only its unixsock plugin stands in for the
scale run's (the exporter reads its values; our plugins' values change no
figure measured here). For each binary (default: DIR/bin/qiflow-exporter),
in turn and in the same run, it starts the exporter on STATE_DIR, waits
until /project/completion counts project.json's issues, and measures as
scale.py does: RSS right after indexing, /project/issues?status=open&
limit=100 req/s against nginx serving the same bytes (wrk, alternating),
then settled VmRSS, peak (VmHWM) and RssAnon 3 s after the load; and
checks that every binary answers the same bytes for a set of pages.
Every server binds 127.0.0.1; every wait is bounded.
"""

import argparse
import hashlib
import json
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


def smaps(pid):
    """Anonymous and file-backed resident KiB (smaps_rollup)."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("Rss", "Anonymous", "Private_Clean", "Shared_Clean"):
            out[key] = int(line.split()[1])
    return out


def one(qf, name, binary, collectd, state, work, rounds, issues):
    """Start one exporter binary and measure it; returns a dict."""
    ex = qf.Exporter(collectd.socket, state, refresh_ms=1000,
                     binary=binary, log_path=work / f"exporter-{name}.log")
    nginx = None
    try:
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
        nginx = run.Nginx(work / f"nginx-{name}").start()
        query = PAGES[0]
        static = nginx.put("issues.json", run.http_get(ex.url + query).body)
        mode = {"rounds": rounds, "duration": 3, "warmup": 1}
        case, base = run.alternate(ex.url + query, static, mode)
        c, b = run.summary(case), run.summary(base)
        res["rps"], res["nginx_rps"] = c["rps"], b["rps"]
        time.sleep(3)
        res["settled"] = run.memory(ex.proc.pid)
        res["smaps"] = smaps(ex.proc.pid)
        return res
    finally:
        if nginx is not None:
            nginx.stop()
        ex.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("state_dir", type=Path)
    p.add_argument("--build-dir", type=Path,
                   default=run.SOURCE_DIR / "build-bench")
    p.add_argument("--binary", action="append", default=[],
                   help="NAME=PATH of an exporter to measure (repeatable)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    run.import_harness(args.build_dir.resolve())
    qf = run.qfstack
    binaries = [b.split("=", 1) for b in args.binary] or \
        [("build", str(args.build_dir / "bin" / "qiflow-exporter"))]
    doc = json.loads((args.state_dir / "project.json").read_text())
    issues = doc["completion"]["total_issues"]
    work = Path(tempfile.mkdtemp(prefix="qiflow-exscale-"))
    collectd = qf.Collectd(work / "collectd", "", interval=10)
    collectd.start(timeout=60)
    results = []
    try:
        for name, binary in binaries:
            results.append(one(qf, name, binary, collectd, args.state_dir,
                               work, args.rounds, issues))
    finally:
        collectd.stop()
    ref = results[0]["bodies"]
    for r in results:
        s, i = r["settled"], r["indexed"]
        print(f"{r['name']}: indexed in {r['index_s']} s, VmRSS "
              f"{i['VmRSS'] / 1024:.1f} MiB after indexing; settled VmRSS "
              f"{s['VmRSS'] / 1024:.1f} MiB (RssAnon {s['RssAnon'] / 1024:.1f}"
              f"), peak {s['VmHWM'] / 1024:.1f} MiB; open/100 "
              f"{r['rps']:,.0f} vs nginx {r['nginx_rps']:,.0f} req/s "
              f"({r['rps'] / r['nginx_rps']:.2f}x); bodies "
              f"{'same' if r['bodies'] == ref else 'DIFFER'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(r["bodies"] == ref for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
