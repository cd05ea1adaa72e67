#!/usr/bin/python3
"""qfstack: the shared harness for QiFlow integration tests.

It runs the REAL parts: Debian's /usr/sbin/collectd in the foreground with a
generated config that loads our built plugins, and the real qiflow-exporter on
a loopback port. Tests talk to them over collectd's unixsock text protocol and
plain HTTP, and validate every JSON body against schema/*.schema.json.

Every wait is bounded; every failure message carries the evidence (the tail of
the daemon's log) so a red test explains itself. The demo that
`contrib/dev.sh run` starts is tools/demo.py, which imports this module.
"""

import atexit
import ctypes
import datetime
import functools
import http.client as httpclient
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("QF_SOURCE_DIR")
                  or Path(__file__).resolve().parents[3])
BUILD_DIR = Path(os.environ.get("QF_BUILD_DIR") or SOURCE_DIR / "build")

COLLECTD_BIN = "/usr/sbin/collectd"
COLLECTD_PLUGIN_DIR = "/usr/lib/collectd"
COLLECTD_TYPES_DB = "/usr/share/collectd/types.db"

# With QF_SANITIZE=1 (an ASan+UBSan build): sanitizer options for every
# child, collectd through a wrapper that preloads the ASan runtime, and
# sanitizer reports checked when a daemon stops (qfsanitize.py).
import qfsanitize  # noqa: E402  pylint: disable=wrong-import-position
COLLECTD_BIN = qfsanitize.setup(BUILD_DIR, SOURCE_DIR, COLLECTD_BIN)

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


def iso_time(offset_seconds=0.0):
    """ISO 8601 UTC timestamp ("2026-11-27T10:41:00Z") now + offset."""
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    """Epoch seconds of an ISO 8601 timestamp, None for None."""
    if text is None:
        return None
    return datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- collectd

class CollectdError(RuntimeError):
    """collectd answered a unixsock command with a negative status."""


def unixsock_command(path, line, timeout=5.0):
    """Send one unixsock command; return the reply's lines (status excluded).

    Speaks collectd's text protocol: the reply is "<N> <message>" followed by
    N lines; a negative N is an error (raised as CollectdError).
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(line.encode() + b"\n")
        reader = s.makefile("rb")
        status_line = reader.readline().decode(errors="replace").rstrip("\n")
        if not status_line:
            raise CollectdError(f"{line!r}: connection closed without reply")
        count_text, _, message = status_line.partition(" ")
        count = int(count_text)
        if count < 0:
            raise CollectdError(f"{line!r}: {message}")
        return [reader.readline().decode(errors="replace").rstrip("\n")
                for _ in range(count)]


class Collectd:
    """The real collectd daemon in the foreground, in its own workdir."""

    def __init__(self, workdir, plugin_conf="", interval=1.0,
                 hostname="qiflow-test", build_dir=None, wrapper=(),
                 plugin_dir=None):
        self.workdir = Path(workdir)
        # argv prefix, e.g. DROP_DAC_CAPS to run root collectd that file
        # permissions apply to.
        self.wrapper = list(wrapper)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.plugin_conf = plugin_conf
        self.interval = interval
        self.hostname = hostname
        self.build_dir = Path(build_dir) if build_dir else BUILD_DIR
        # Where our plugins are loaded from (an installed tree, say);
        # default: the build's plugins/.
        self.plugin_dir = Path(plugin_dir) if plugin_dir else \
            self.build_dir / "plugins"
        self.conf_path = self.workdir / "collectd.conf"
        self.socket = self.workdir / "collectd.sock"
        self.log_path = self.workdir / "collectd.log"
        self.stdout_path = self.workdir / "collectd.stdout"
        self.pid_path = self.workdir / "collectd.pid"
        self.proc = None
        self.write_config()

    def config_text(self):
        """The generated collectd.conf: base plugins, then ours verbatim."""
        w = self.workdir
        group = _group_name()
        return f"""# Generated by tests/integration/qfstack.py
Hostname "{self.hostname}"
FQDNLookup false
Interval {self.interval}
BaseDir "{w}"
PIDFile "{self.pid_path}"
TypesDB "{COLLECTD_TYPES_DB}"
PluginDir "{COLLECTD_PLUGIN_DIR}"

LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "{self.log_path}"
  Timestamp true
  PrintSeverity true
</Plugin>

LoadPlugin unixsock
<Plugin unixsock>
  SocketFile "{self.socket}"
  SocketGroup "{group}"
  SocketPerms "0660"
  DeleteSocket true
</Plugin>

LoadPlugin cpu
<Plugin cpu>
  ReportByCpu false
  ReportByState true
  ValuesPercentage true
</Plugin>

LoadPlugin memory
<Plugin memory>
  ValuesAbsolute true
  ValuesPercentage true
</Plugin>

LoadPlugin df
<Plugin df>
  MountPoint "/"
  IgnoreSelected false
  ValuesAbsolute true
  ValuesPercentage true
</Plugin>

LoadPlugin load
LoadPlugin uptime

# Without any write plugin collectd logs an INFO line for every dispatched
# value ("Available write targets: [none]"), drowning the plugins' messages.
LoadPlugin csv
<Plugin csv>
  DataDir "{w / 'csv'}"
</Plugin>

# Our plugins: a second PluginDir applies to the LoadPlugin lines after it.
PluginDir "{self.plugin_dir}"
{self.plugin_conf}
"""

    def write_config(self):
        self.conf_path.write_text(self.config_text())

    def start(self, timeout=20.0):
        """Start collectd; return once its socket answers LISTVAL."""
        if self.running:
            raise RuntimeError("collectd already running")
        self.write_config()
        try:
            self.socket.unlink()
        except FileNotFoundError:
            pass
        self.proc = _spawn(self.wrapper + [COLLECTD_BIN, "-f", "-C",
                                           str(self.conf_path)],
                           self.stdout_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"collectd exited with {self.proc.returncode} during "
                    f"start-up\n{self._evidence()}")
            try:
                self.listval()
                return self
            except (OSError, CollectdError, ValueError):
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"collectd did not answer LISTVAL on {self.socket} "
                           f"within {timeout}s\n{self._evidence()}")

    def _evidence(self):
        return (f"--- {self.log_path} (tail) ---\n{_tail(self.log_path)}\n"
                f"--- {self.stdout_path} (tail) ---\n"
                f"{_tail(self.stdout_path)}")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=15.0):
        """SIGTERM, bounded wait, then SIGKILL. Returns the exit code."""
        rc = _terminate(self.proc, timeout)
        self._check_sanitizer()
        return rc

    def kill(self):
        """SIGKILL (no shutdown callbacks run). Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        _CHILDREN.discard(self.proc)
        self._check_sanitizer()
        return self.proc.returncode

    def _check_sanitizer(self):
        if self.proc is not None:
            qfsanitize.check(self.proc.pid, [self.stdout_path],
                             collectd=True)

    def log(self):
        """The whole collectd.log so far ("" before the first line)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, needle=""):
        return [l for l in self.log().splitlines() if needle in l]

    def notifications(self):
        """Notifications logged by the logfile plugin, as dicts.

        logfile renders them as "Notification: severity = FAILURE, host = h,
        plugin = p, [plugin_instance = i, ] type = t, [type_instance = j, ]
        message = text"; message is last and may contain commas.
        """
        result = []
        for line in self.log_lines("Notification: severity = "):
            body = line.split("Notification: ", 1)[1]
            head, _, message = body.partition(", message = ")
            fields = dict(part.split(" = ", 1) for part in head.split(", ")
                          if " = " in part)
            fields["message"] = message
            result.append(fields)
        return result

    def command(self, line, timeout=5.0):
        """Any unixsock command; returns the reply lines."""
        return unixsock_command(self.socket, line, timeout)

    def _full_ident(self, ident):
        # "plugin/type" is short for "<our hostname>/plugin/type".
        return ident if ident.count("/") >= 2 else f"{self.hostname}/{ident}"

    def getval(self, ident):
        """GETVAL ident -> {ds_name: float} (NaN stays NaN).

        DERIVE/COUNTER come back as per-second rates (collectd's getval.c).
        Raises CollectdError when collectd has no such value.
        """
        values = {}
        for line in self.command(f'GETVAL "{self._full_ident(ident)}"'):
            name, _, value = line.partition("=")
            values[name] = float(value)
        return values

    def listval(self):
        """LISTVAL -> {identifier: last update epoch seconds}."""
        result = {}
        for line in self.command("LISTVAL"):
            stamp, _, ident = line.partition(" ")
            result[ident] = float(stamp)
        return result

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# Tests run as root, and root reads any file whatever its mode. Run under
# this prefix, collectd is still root but without the capabilities that
# bypass file permissions, so a chmod 000 file is really unreadable to it.
DROP_DAC_CAPS = ("setpriv", "--bounding-set=-dac_override,-dac_read_search",
                 "--")


def _group_name():
    import grp  # pylint: disable=import-outside-toplevel
    try:
        return grp.getgrgid(os.getegid()).gr_name
    except KeyError:
        return str(os.getegid())


# ---------------------------------------------------------------- exporter

class Exporter:
    """The real qiflow-exporter on a loopback port."""

    def __init__(self, socket, state_dir, port=None, extra_args=(),
                 host="127.0.0.1", log_path=None, refresh_ms=200,
                 build_dir=None, binary=None, ca_file=None):
        self.socket = Path(socket)
        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        self.host = host
        self.extra_args = list(extra_args)
        self.refresh_ms = refresh_ms
        self.build_dir = Path(build_dir) if build_dir else BUILD_DIR
        # binary: an installed qiflow-exporter; default: the build's bin/.
        self.binary = Path(binary) if binary else \
            self.build_dir / "bin" / "qiflow-exporter"
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        # ca_file: the exporter serves HTTPS (--tls-cert/--tls-key in
        # extra_args) with a certificate that this CA file verifies.
        self.ssl_context = ssl.create_default_context(cafile=str(ca_file)) \
            if ca_file else None
        scheme = "https" if ca_file else "http"
        self.url = f"{scheme}://{connect_host}:{self.port}"
        self.log_path = Path(log_path) if log_path else \
            self.state_dir.parent / f"exporter-{self.port}.log"
        self.proc = None

    def argv(self):
        return [str(self.binary), "--listen", f"{self.host}:{self.port}",
                "--socket", str(self.socket),
                "--state-dir", str(self.state_dir),
                "--refresh", str(self.refresh_ms)] + self.extra_args

    def start(self, timeout=15.0):
        """Start the exporter; return once GET /health answers any status."""
        if self.running:
            raise RuntimeError("exporter already running")
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} not built")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if _port_answers(self.url):
            # Otherwise /health from that other server would pass for ours.
            raise RuntimeError(f"something already listens on {self.url}")
        self.proc = _spawn(self.argv(), self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"qiflow-exporter exited with {self.proc.returncode} "
                    f"during start-up: {' '.join(self.argv())}\n"
                    f"--- {self.log_path} ---\n{_tail(self.log_path)}")
            try:
                http("GET", self.url + "/health", timeout=1,
                     context=self.ssl_context)
            except OSError:
                time.sleep(0.1)
                continue
            if self.proc.poll() is None:
                return self
        self.stop()
        raise RuntimeError(f"qiflow-exporter did not answer /health on "
                           f"{self.url} within {timeout}s\n"
                           f"--- {self.log_path} ---\n{_tail(self.log_path)}")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, bounded wait, then SIGKILL. Returns the exit code."""
        rc = _terminate(self.proc, timeout)
        if self.proc is not None:
            qfsanitize.check(self.proc.pid, [self.log_path])
        return rc

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def get(self, path, **kwargs):
        kwargs.setdefault("context", self.ssl_context)
        return http("GET", self.url + path, **kwargs)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- HTTP

def _port_answers(url):
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), 0.5):
            return True
    except OSError:
        return False


class Response:
    """status, headers (lower-case keys), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise AssertionError(
                f"HTTP {self.status} body is not JSON ({exc}): "
                f"{self.body[:500]!r}") from None

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def http(method, url, headers=None, body=None, timeout=5, context=None):
    """One HTTP request; returns a Response for every status (no raising on
    4xx/5xx). Raises OSError only when the server cannot be reached. An
    https:// url is verified with context (default: the system's CAs)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        conn = httpclient.HTTPSConnection(
            parts.hostname, parts.port or 443, timeout=timeout,
            context=context or ssl.create_default_context())
    else:
        conn = httpclient.HTTPConnection(parts.hostname, parts.port or 80,
                                          timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        merged = {}
        for name, value in resp.getheaders():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Response(resp.status, merged, data)
    except httpclient.HTTPException as exc:
        raise ConnectionError(f"{method} {url}: {exc!r}") from exc
    finally:
        conn.close()


# ---------------------------------------------------------------- schemas

_SCHEMAS = None


def _load_schemas():
    global _SCHEMAS  # pylint: disable=global-statement
    if _SCHEMAS is None:
        schemas = {}
        for path in sorted((SOURCE_DIR / "schema").glob("*.schema.json")):
            schemas[path.name[:-len(".schema.json")]] = json.loads(
                path.read_text())
        _SCHEMAS = schemas
    return _SCHEMAS


def schema(name):
    """The parsed schema/<name>.schema.json."""
    schemas = _load_schemas()
    if name not in schemas:
        raise KeyError(f"no schema/{name}.schema.json "
                       f"(have: {', '.join(sorted(schemas))})")
    return schemas[name]


def _date_time_ok(value):
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker():
    import jsonschema  # pylint: disable=import-outside-toplevel
    checker = jsonschema.FormatChecker()
    # Debian's jsonschema checks date-time only with rfc3339-validator, which
    # is not installed; a strict stdlib parse keeps the format meaningful.
    checker.checks("date-time")(_date_time_ok)
    return checker


@functools.lru_cache(maxsize=None)
def validator(name):
    """A Draft 2020-12 validator for schema `name` that resolves $refs to
    every other schema/*.schema.json by its $id or file name."""
    import jsonschema  # pylint: disable=import-outside-toplevel
    store = {}
    for key, doc in _load_schemas().items():
        store[f"{key}.schema.json"] = doc
        if "$id" in doc:
            store[doc["$id"]] = doc
    root = schema(name)
    resolver = jsonschema.RefResolver(base_uri=root.get("$id", ""),
                                      referrer=root, store=store)
    return jsonschema.Draft202012Validator(root, resolver=resolver,
                                           format_checker=_format_checker())


def validate(instance, schema_name):
    """Assert instance matches schema/<schema_name>.schema.json; the error
    lists every violation with its JSON path. Returns instance."""
    errors = sorted(validator(schema_name).iter_errors(instance),
                    key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {e.json_path}: {e.message}" for e in errors[:20]]
        raise AssertionError(
            f"{len(errors)} violation(s) of {schema_name}.schema.json:\n"
            + "\n".join(lines)
            + f"\ninstance: {json.dumps(instance)[:2000]}")
    return instance


# ---------------------------------------------------------------- agents

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


def agent_doc(name, status="active", pid=None, current_task=None,
              issue_number=None, task_started_at=None, last_activity=None,
              **extra):
    """An agent registry document (schema/agent.schema.json). Defaults give a
    fresh agent: task started 10 min ago, active now. Fields passed as None
    are omitted (they are optional in the registry)."""
    doc = {
        "name": name,
        "status": status,
        "current_task": current_task if current_task is not None
        else f"Task of {name}",
        "issue_number": issue_number,
        "task_started_at": task_started_at or iso_time(-600),
        "last_activity": last_activity or iso_time(),
        "pid": pid,
    }
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


def write_agent(agent_dir, name, filename=None, raw=None, **fields):
    """Write one registry file atomically (temp file + rename, as a swarm
    should) and return its path. `raw` (str or bytes) replaces the JSON
    document to write broken content; otherwise agent_doc(name, **fields)."""
    agent_dir = Path(agent_dir)
    agent_dir.mkdir(parents=True, exist_ok=True)
    path = agent_dir / (filename or f"{name.lower()}.json")
    if raw is None:
        data = json.dumps(agent_doc(name, **fields), indent=2).encode()
    else:
        data = raw.encode() if isinstance(raw, str) else raw
    tmp = agent_dir / f".{path.name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


# Every REST endpoint with the schema its body follows.
ENDPOINTS = (("/health", "health"), ("/status", "status"),
             ("/agent/status", "agent-status"), ("/metrics", "metrics"),
             ("/project/completion", "project-completion"),
             ("/project/issues", "project-issues"))


def backend_status(cpu, memory):
    """The one status rule (libqiflow/qf_status.c) for current figures:
    "degraded" above 90 % cpu or memory, else "online". Tests compare with
    it instead of "online": a shared 2-core machine may really be busy."""
    return "degraded" if (cpu or 0) > 90 or (memory or 0) > 90 else "online"


def rss_kib(pid):
    """The resident set (VmRSS) of process pid, in KiB."""
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def read_json(path):
    """Parse a JSON file; None when it does not exist (yet)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def agents_plugin_conf(agent_dir, state_dir, stale_after=None,
                       process_check=None):
    """The <Plugin qiflow_agents> block (with its LoadPlugin)."""
    lines = ["LoadPlugin qiflow_agents", "<Plugin qiflow_agents>",
             f'  AgentDir "{agent_dir}"', f'  StateDir "{state_dir}"']
    if stale_after is not None:
        lines.append(f"  StaleAfter {stale_after}")
    if process_check is not None:
        lines.append(f"  ProcessCheck {'true' if process_check else 'false'}")
    lines.append("</Plugin>")
    return "\n".join(lines) + "\n"


def heartbeat_plugin_conf(root, url, swarm, key, log_dir="log", **backend):
    """The <Plugin qiflow_heartbeat> block (with its LoadPlugin): every
    second, StateDir root/state and LogDir root/log_dir, one backend
    "central" at url with key; backend: more options for it, in order
    (Timeout=2 writes "Timeout 2")."""
    lines = ["", "LoadPlugin qiflow_heartbeat", "<Plugin qiflow_heartbeat>",
             f'  SwarmID "{swarm}"', "  Interval 1",
             f'  StateDir "{root / "state"}"',
             f'  LogDir "{root / log_dir}"', '  <Backend "central">',
             f'    URL "{url}"', f'    APIKey "{key}"']
    lines += [f"    {name} {value}" for name, value in backend.items()]
    lines += ["  </Backend>", "</Plugin>"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- stack

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


# ---------------------------------------------------------------- demo run
