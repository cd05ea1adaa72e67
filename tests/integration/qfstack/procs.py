"""Processes the harness starts (tracked, killed at exit and when the
harness dies), bounded waiting, free loopback ports, and the throwaway
processes that stand in for agents."""

import atexit
import ctypes
import signal
import socket
import subprocess
import time
from pathlib import Path

# Processes started by this module that are still running; killed at exit so
# a crashed test never leaves a daemon or a fake agent behind.
_CHILDREN = set()


def _reap_children():
    for proc in list(_CHILDREN):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _CHILDREN.discard(proc)


atexit.register(_reap_children)


def _die_with_parent():
    """In the child before exec: SIGKILL when the harness dies, even by
    SIGKILL itself (atexit then never runs). Linux prctl PR_SET_PDEATHSIG."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(argv, log_path, **kwargs):
    """Start argv with stdout+stderr appended to log_path; tracked for exit."""
    with open(log_path, "ab") as out:
        # Own session: a Ctrl-C on the terminal reaches only the harness,
        # which then stops its children in order.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=_die_with_parent, **kwargs)
    _CHILDREN.add(proc)
    return proc


def _terminate(proc, timeout):
    """SIGTERM proc, wait up to timeout, then SIGKILL. Returns exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    _CHILDREN.discard(proc)
    return proc.returncode


def _tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        return f"<{path}: {exc.strerror}>"
    return "\n".join(text.splitlines()[-lines:])


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WaitTimeout(AssertionError):
    """wait_until gave up; an AssertionError so pytest reports it plainly."""


def wait_until(predicate, timeout, interval=0.1, message=""):
    """Call predicate until it returns a truthy value and return that value.

    Exceptions raised by predicate count as "not yet" (the daemon may still be
    starting); after `timeout` seconds a WaitTimeout names `message`, the last
    value and the last exception.
    """
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = predicate()
            last_exc = None
            if last:
                return last
        except Exception as exc:  # pylint: disable=broad-except
            last_exc = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    detail = f"last value: {last!r}"
    if last_exc is not None:
        detail += f"; last error: {type(last_exc).__name__}: {last_exc}"
    raise WaitTimeout(f"timed out after {timeout}s waiting for "
                      f"{message or predicate}: {detail}")


def rss_kib(pid):
    """The resident set (VmRSS) of process pid, in KiB."""
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class AgentProcess:
    """A throwaway process standing in for an agent; tests kill it to make
    the agent dead. kill() also reaps it: a zombie still has /proc/<pid>."""

    def __init__(self, seconds=600):
        self.proc = subprocess.Popen(["sleep", str(int(seconds))],
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent)
        _CHILDREN.add(self.proc)
        self.pid = self.proc.pid

    @property
    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        _CHILDREN.discard(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
