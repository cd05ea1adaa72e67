"""qfsanitize: run the integration tests against an ASan+UBSan build.

Active only when the environment has QF_SANITIZE=1 (ctest sets it for the
integration tests of a build configured with -DQF_SANITIZE=ON). Then:

- every sanitized process started from the tests (the exporter; collectd,
  which loads our sanitized plugins) gets ASAN_OPTIONS / UBSAN_OPTIONS that
  halt on the first error, print stacks and write reports into one directory
  per test process (REPORT_DIR);
- Debian's collectd is not sanitized, so it cannot dlopen a plugin that
  needs the ASan runtime unless that runtime comes first in the process:
  COLLECTD_BIN becomes tests/sanitize/collectd-asan, which preloads it
  (and the environment's COLLECTD, read by contrib/qiflow-heartbeat-once,
  points there too);
- check() after a daemon stops and check_new() after each test turn any
  sanitizer report into a test failure that quotes the report.

Leaks: the exporter is ours alone, so every leak it reports fails. collectd
leaks a few blocks of its own at exit (7 bytes per `LoadPlugin uptime`: the
plugin context name strdup'ed in its config dispatcher). An LSan
suppressions file cannot exclude those without hiding ours: a suppression
matches ANY frame of the allocation stack, and the stack of a string our
config callback forgets to free also runs through cf_read. So collectd's
leak records count only when a frame lies in our code (a source file under
SOURCE_DIR or a qiflow_*.so module); full stacks through collectd's
frame-pointer-less code come from fast_unwind_on_malloc=0 in the wrapper.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

ACTIVE = os.environ.get("QF_SANITIZE") == "1"

_HERE = Path(__file__).resolve().parent
WRAPPER = _HERE.parent / "sanitize" / "collectd-asan"

# Where the sanitizer runtimes write reports (<prefix>.<pid>) and our
# source tree (frames there are ours); both set by setup().
REPORT_DIR = None
_SOURCE_DIR = None

# Report files already judged, and how far each captured log was scanned.
_SEEN_REPORTS = set()
_LOG_OFFSETS = {}

_ERROR_RE = re.compile(r"ERROR: \w*Sanitizer|runtime error:")
_LEAK_SPLIT_RE = re.compile(r"\n(?=(?:Direct|Indirect) leak of )")
# A frame's module as "(/path+0x12)" or, with the wrapper's stack format,
# "<path>": our plugins are the qiflow_*.so modules.
_OUR_MODULE_RE = re.compile(r"[(<][^()<>]*/qiflow_\w+\.so[+>]")


def _asan_runtime():
    """The libasan the plugins were linked against (gcc's, by default)."""
    path = os.environ.get("QF_ASAN_RUNTIME")
    if path:
        return path
    cc = shutil.which(os.environ.get("CC", "gcc")) or "gcc"
    out = subprocess.run([cc, "-print-file-name=libasan.so"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _prune(reports):
    """Remove the report directories of test processes that have ended
    (their reports were judged then); those of live ones stay."""
    if not reports.is_dir():
        return
    for path in reports.iterdir():
        try:
            os.kill(int(path.name), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError):
            pass


def setup(build_dir, source_dir, collectd_bin):
    """Prepare the environment; returns the collectd binary tests must run
    (the preloading wrapper when active, collectd_bin otherwise)."""
    global REPORT_DIR, _SOURCE_DIR  # pylint: disable=global-statement
    _SOURCE_DIR = str(Path(source_dir).resolve())
    if not ACTIVE:
        return collectd_bin
    reports = Path(build_dir) / "sanitizer-reports"
    _prune(reports)
    REPORT_DIR = reports / str(os.getpid())
    shutil.rmtree(REPORT_DIR, ignore_errors=True)
    REPORT_DIR.mkdir(parents=True)
    os.environ["ASAN_OPTIONS"] = ":".join([
        "halt_on_error=1", "detect_leaks=1", "check_initialization_order=1",
        "detect_stack_use_after_return=1", "print_summary=1",
        f"log_path={REPORT_DIR}/asan"])
    # With ASan in the same process gcc's UBSan prints to stderr whatever
    # log_path says; the captured logs are scanned too.
    os.environ["UBSAN_OPTIONS"] = ":".join([
        "halt_on_error=1", "print_stacktrace=1",
        f"log_path={REPORT_DIR}/ubsan"])
    os.environ["QF_ASAN_RUNTIME"] = _asan_runtime()
    os.environ["QF_SANITIZE_DIR"] = str(REPORT_DIR)
    os.environ["QF_COLLECTD_REAL"] = collectd_bin
    os.environ["COLLECTD"] = str(WRAPPER)
    return str(WRAPPER)


def _our_frame(record):
    """True when a leak record's stack has a frame in our code."""
    for line in record.splitlines():
        line = line.strip()
        if not line.startswith("#"):
            continue
        if (_SOURCE_DIR and f" {_SOURCE_DIR}/" in line) or \
                _OUR_MODULE_RE.search(line):
            return True
    return False


def judge(text, collectd=False):
    """The parts of a sanitizer report (or captured stderr) that fail a
    test: every ASan/UBSan error, every leak record (for collectd: those
    with a frame in our code). Returns a list of report excerpts."""
    problems = []
    head, marker, leaks = text.partition("ERROR: LeakSanitizer")
    if marker:
        records = _LEAK_SPLIT_RE.split(leaks)[1:]
        ours = [r.split("\nSUMMARY:")[0].strip() for r in records
                if not collectd or _our_frame(r)]
        if ours:
            problems.append("LeakSanitizer:\n" + "\n\n".join(ours))
    if _ERROR_RE.search(head):
        problems.append(head.strip()[-6000:])
    return problems


def _read(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _scan_reports(pid=None):
    problems = []
    if REPORT_DIR is None:
        return problems
    for path in sorted(REPORT_DIR.iterdir()):
        if path in _SEEN_REPORTS:
            continue
        if pid is not None and not path.name.endswith(f".{pid}"):
            continue
        _SEEN_REPORTS.add(path)
        for problem in judge(_read(path), path.name.startswith("collectd.")):
            problems.append(f"{path}:\n{problem}")
    return problems


def _scan_logs(logs, collectd):
    problems = []
    for log in logs:
        text = _read(log)
        start = _LOG_OFFSETS.get(str(log), 0)
        _LOG_OFFSETS[str(log)] = len(text)
        for problem in judge(text[start:], collectd):
            problems.append(f"{log}:\n{problem}")
    return problems


def _raise(problems):
    if problems:
        raise AssertionError("sanitizer report(s):\n\n"
                             + "\n\n".join(problems))


def check(pid, logs=(), collectd=False):
    """After process `pid` ended: fail on its sanitizer reports and on
    sanitizer output in `logs` (files holding its stderr)."""
    if ACTIVE and pid is not None:
        _raise(_scan_reports(pid) + _scan_logs(logs, collectd))


def check_new():
    """Fail on any report not judged yet (processes a test ran itself)."""
    if ACTIVE:
        _raise(_scan_reports())
