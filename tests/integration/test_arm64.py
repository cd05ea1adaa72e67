"""The arm64 build for real: Debian's collectd-core:arm64 under qemu-user
loads our arm64 plugins, and the arm64 exporter answers /status.

Runs when QF_BUILD_DIR is a cross build made with
cmake/toolchain/aarch64-linux-gnu.cmake (contrib/dev.sh's arm stage:
build-arm64), whose sysroot (build-deps/sysroot-arm64) holds the unpacked
collectd-core:arm64. Elsewhere it skips, saying why. collectd runs as
`qemu-aarch64 -L SYSROOT SYSROOT/usr/sbin/collectd`: with -L the guest's
/usr/lib/collectd (Debian's plugins) and /usr/share/collectd/types.db are
the sysroot's, while our plugins and every test file are read from the
real paths. All three plugins are loaded, against the fake GitHub and the
stand-in backend of tools/demo.py, on 127.0.0.1.

Prints the resident memory of both (qemu-user's VmRSS: the guest's memory
plus qemu's own, so an upper bound of what a Pi sees; times under qemu
mean nothing and are not asserted).
"""

import os
import re
import sys
import time

import pytest

import qfstack

sys.path.insert(0, str(qfstack.SOURCE_DIR / "tools"))
import demo  # noqa: E402  pylint: disable=wrong-import-position
import fake_backend  # noqa: E402  pylint: disable=wrong-import-position
import fake_github  # noqa: E402  pylint: disable=wrong-import-position

# Generous: everything is emulated.
WAIT = 90


def cache_value(build, name):
    """A variable of build's CMakeCache.txt, or None."""
    try:
        text = (build / "CMakeCache.txt").read_text()
    except OSError:
        return None
    m = re.search(rf"^{name}:[A-Z]+=(.*)$", text, re.M)
    return m.group(1) if m else None


def arm64_build():
    """(qemu, sysroot) of QF_BUILD_DIR when it is an arm64 cross build with
    everything this test runs; skips otherwise."""
    build = qfstack.BUILD_DIR
    if cache_value(build, "QF_DEB_ARCH") != "arm64" or \
            not cache_value(build, "QF_CROSS_SYSROOT"):
        pytest.skip(f"{build} is not an arm64 cross build (contrib/dev.sh's "
                    "arm stage runs this test in build-arm64)")
    qemu = cache_value(build, "QF_QEMU")
    sysroot = cache_value(build, "QF_CROSS_SYSROOT")
    need = [qemu or "qemu-aarch64", f"{sysroot}/usr/sbin/collectd",
            build / "bin" / "qiflow-exporter"] + \
        [build / "plugins" / f"{p}.so" for p in demo.PLUGINS]
    missing = [str(p) for p in need if not os.path.exists(p)]
    if missing:
        pytest.skip("missing (QF_STAGES=arm contrib/dev.sh deps, then build "
                    f"{build}): {', '.join(missing)}")
    return qemu, sysroot


class QemuExporter(qfstack.Exporter):
    """qiflow-exporter of an arm64 build, under qemu-aarch64."""

    def __init__(self, qemu, sysroot, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = [qemu, "-L", sysroot]

    def argv(self):
        return self.prefix + super().argv()


def test_arm64_collectd_loads_our_plugins_and_exporter_answers(
        tmp_path, monkeypatch):
    qemu, sysroot = arm64_build()
    monkeypatch.setattr(qfstack.paths, "COLLECTD_BIN",
                        f"{sysroot}/usr/sbin/collectd")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "swarm_id").write_text(demo.SWARM_ID + "\n")
    agent_dir = tmp_path / "agents"
    agent_dir.mkdir()
    qfstack.write_agent(agent_dir, "arm-agent", pid=os.getpid())
    github = fake_github.FakeGitHub(owner=demo.OWNER, repo=demo.REPO,
                                    idle_timeout=300)
    backend = fake_backend.FakeBackend(api_keys=[demo.API_KEY],
                                       swarms=[demo.SWARM_ID], lifetime=300)
    github.start()
    demo.seed_project(github, time.time())
    backend.start()
    conf = demo.plugin_conf(agent_dir, state_dir, tmp_path / "heartbeat-log",
                            github, backend, 1)
    collectd = qfstack.Collectd(tmp_path / "collectd", conf, interval=1.0,
                                wrapper=[qemu, "-L", sysroot])
    exporter = QemuExporter(qemu, sysroot, collectd.socket, state_dir,
                            log_path=tmp_path / "exporter.log")
    try:
        collectd.start(timeout=WAIT)
        exporter.start(timeout=WAIT)
        # The guest really is arm64 (qemu-user shows the host's /proc, so
        # ask the binaries, not uname).
        with open(qfstack.BUILD_DIR / "bin" / "qiflow-exporter", "rb") as f:
            assert f.read(20)[18:20] == (183).to_bytes(2, "little")  # EM_AARCH64

        status = qfstack.wait_until(
            lambda: (lambda d: d if d["status"] != "offline"
                     and d["agents"]["total"] == 1 else None)(
                exporter.get("/status").json()),
            WAIT, 0.5, "/status with collectd's figures and the agent")
        qfstack.validate(status, "status")
        assert status["data"]["agents"]["by_status"]["active"] == 1
        assert status["memory"] is not None and status["disk"] is not None

        agent = qfstack.wait_until(
            lambda: (lambda d: d if (d["heartbeat"].get("backends") or
                                     [{}])[0].get("sent") and
                     d["github"].get("last_sync") else None)(
                exporter.get("/agent/status").json()["data"]),
            WAIT, 0.5, "a heartbeat delivered and a GitHub sync")
        assert agent["heartbeat"]["backends"][0]["last_status"] == 200
        assert agent["swarm_id"] == demo.SWARM_ID
        assert backend.records, "the stand-in backend got no heartbeat"

        for name, pid in (("collectd", collectd.pid),
                          ("qiflow-exporter", exporter.proc.pid)):
            print(f"arm64 under qemu-user: {name} VmRSS "
                  f"{qfstack.rss_kib(pid) / 1024:.1f} MiB")
    except (AssertionError, RuntimeError):
        print(f"--- collectd.log ---\n{collectd.log()}\n"
              f"--- exporter.log ---\n{exporter.log()}")
        raise
    finally:
        exporter.stop()
        assert collectd.stop() == 0
        github.stop()
        backend.stop()
    log = collectd.log()
    for plugin in demo.PLUGINS:
        assert not re.search(rf"\[error\].*{plugin}", log), log
