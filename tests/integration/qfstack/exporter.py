"""The real qiflow-exporter on a loopback port."""

import ssl
import time
from pathlib import Path

import qfsanitize

from . import paths
from .http_client import _port_answers, http
from .procs import _spawn, _tail, _terminate, free_port


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
        self.build_dir = Path(build_dir) if build_dir else paths.BUILD_DIR
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


# Every REST endpoint with the schema its body follows.
ENDPOINTS = (("/health", "health"), ("/status", "status"),
             ("/agent/status", "agent-status"), ("/metrics", "metrics"),
             ("/project/completion", "project-completion"),
             ("/project/issues", "project-issues"))
