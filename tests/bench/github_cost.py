#!/usr/bin/python3
"""github_cost: what qiflow_github costs GitHub and the host (not a ctest).

For generated repositories (default 100 and 5,000 issues, 2% pull requests,
40 recent commits, 10 workflow runs) served by the fake GitHub, it runs the
real collectd with the built plugin (Interval 1) and prints:
- the first sync: cycles, requests (and how many were issue-list pages),
  wall time until the listing finished and until the first quiet cycle;
- every unchanged cycle after it: requests and how many were answered 304
  (from the fake's own log, grouped into the plugin's cycles);
- collectd's peak resident memory (VmHWM), beside a run against an empty
  repository as the baseline.

  QF_BUILD_DIR=build /usr/bin/python3 tests/bench/github_cost.py [N ...]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import qfstack  # noqa: E402  pylint: disable=wrong-import-position
from fake_github import FakeGitHub  # noqa: E402  pylint: disable=wrong-import-position


def vm_hwm_kib(pid):
    """Peak resident set size of pid in KiB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def populated_fake(issues, idle_timeout):
    """A started fake GitHub holding the generated repository: `issues`
    issues, 2% pull requests, 40 recent commits, 10 workflow runs."""
    gh = FakeGitHub(idle_timeout=idle_timeout).start()
    gh.populate(issues, prs=issues // 50)
    if issues:
        gh.add_commits(40)
        for i in range(10):
            gh.add_run(f"feature/issue-{i}", "success")
    return gh


def run(issues, workdir, quiet_cycles, timeout, gh=None):
    """Measure one repository. With `gh` (a populated_fake of `issues`
    issues) the fake is the caller's and stays running, and workdir/state
    keeps the synced mirror and project.json for a later stack."""
    own = gh is None
    if own:
        gh = populated_fake(issues, timeout + 60)
    try:
        state = workdir / "state"
        conf = (f"<LoadPlugin qiflow_github>\n  Interval 1\n</LoadPlugin>\n"
                f"<Plugin qiflow_github>\n  Repository \"{gh.repository}\"\n"
                f"  APIURL \"{gh.url}\"\n  Token \"bench\"\n"
                f"  StateDir \"{state}\"\n</Plugin>\n")
        collectd = qfstack.Collectd(workdir / "collectd", conf, interval=10)
        started = time.monotonic()
        collectd.start()
        try:
            return measure(gh, collectd, state / "project.json", started,
                           quiet_cycles, timeout)
        finally:
            collectd.stop()
    finally:
        if own:
            gh.stop()


def read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def measure(gh, collectd, project, started, quiet_cycles, timeout):
    result = {}

    def listing_done():
        doc = read(project)
        return doc if doc and doc["github"]["sync_complete"] else None

    doc = qfstack.wait_until(listing_done, timeout, 0.05, "listing done")
    result["listing_seconds"] = time.monotonic() - started
    result["listing_requests"] = gh.count()
    result["listing_pages"] = gh.count(r"issues$", 200)

    def quiet():
        doc = read(project)
        gh_ = doc["github"] if doc else {}
        return doc if gh_.get("requests") == 3 and \
            gh_.get("not_modified") == gh_.get("requests") else None

    doc = qfstack.wait_until(quiet, timeout, 0.05, "a quiet cycle")
    result["steady_seconds"] = time.monotonic() - started
    result["steady_requests"] = doc["github"]["requests_total"]
    result["steady_cycles"] = doc["github"]["cycles"]
    mark = len(gh.requests_since(0))

    def bursts():
        found = gh.bursts_since(mark)
        return found if len(found) > quiet_cycles else None

    # The first burst may have begun before the mark: measure the others.
    found = qfstack.wait_until(bursts, timeout, 0.1, "quiet cycles")[1:]
    result["unchanged"] = [(len(b), sum(r["status"] == 304 for r in b))
                           for b in found[:quiet_cycles]]
    result["vm_hwm_kib"] = vm_hwm_kib(collectd.pid)
    result["total_issues"] = doc["completion"]["total_issues"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("issues", nargs="*", type=int, default=[100, 5000])
    parser.add_argument("--cycles", type=int, default=5,
                        help="unchanged cycles to count (default 5)")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="github-cost-"))
    try:
        base = run(0, root / "empty", 2, args.timeout)
        print(f"baseline (empty repository): collectd VmHWM "
              f"{base['vm_hwm_kib'] / 1024:.1f} MiB")
        for n in args.issues:
            r = run(n, root / f"r{n}", args.cycles, args.timeout)
            print(f"\n{n} issues + {n // 50} pull requests "
                  f"(project.json total_issues {r['total_issues']}):")
            print(f"  first sync: listing done after {r['listing_requests']} "
                  f"requests ({r['listing_pages']} issue pages) in "
                  f"{r['listing_seconds']:.1f} s; quiet after "
                  f"{r['steady_requests']} requests, {r['steady_cycles']} "
                  f"cycles, {r['steady_seconds']:.1f} s (Interval 1)")
            for i, (total, n304) in enumerate(r["unchanged"], 1):
                print(f"  unchanged cycle {i}: {total} requests, "
                      f"{n304} answered 304")
            print(f"  collectd VmHWM {r['vm_hwm_kib'] / 1024:.1f} MiB "
                  f"(+{(r['vm_hwm_kib'] - base['vm_hwm_kib']) / 1024:.1f} MiB "
                  f"over the baseline)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
