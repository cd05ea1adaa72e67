"""The Debian package: cpack -G DEB, extracted with dpkg-deb -x, then run.

Builds qiflow_<version>_amd64.deb from the build dir's CPack configuration
into a scratch directory, checks its control data and file list, checks the
systemd unit, sysusers and tmpfiles entries offline, and runs what it
installs: Debian's collectd loads our plugins from <root>/usr/lib/collectd
with the packaged example configuration, and the packaged exporter from
<root>/usr/bin answers /health. Nothing is installed on the machine.
"""

import grp
import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import qfstack
from test_migrate import Recorder

PLUGINS = ("qiflow_agents", "qiflow_anomaly", "qiflow_github", "qiflow_heartbeat")
LIB_DEPENDS = ("collectd-core", "libcurl4", "libyajl2", "libmicrohttpd12",
               "libcollectdclient1")
UNIT = "lib/systemd/system/qiflow-exporter.service"


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, timeout=kwargs.pop("timeout", 300),
                          check=False, **kwargs)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """Path of the .deb built from BUILD_DIR by cpack into a scratch dir."""
    build = qfstack.BUILD_DIR
    missing = [f"plugins/{p}.so" for p in PLUGINS
               if not (build / "plugins" / f"{p}.so").exists()]
    if not (build / "bin" / "qiflow-exporter").exists():
        missing.append("bin/qiflow-exporter")
    if missing:
        pytest.skip(f"not built yet in {build}: {', '.join(missing)}")
    config = build / "CPackConfig.cmake"
    assert config.exists(), f"{config} missing: configure {build} again"
    out = tmp_path_factory.mktemp("cpack")
    res = run(["cpack", "-G", "DEB", "--config", config, "-B", out])
    assert res.returncode == 0, res.stdout + res.stderr
    debs = list(out.glob("qiflow_*.deb"))
    assert len(debs) == 1, res.stdout
    return debs[0]


@pytest.fixture(scope="module")
def root(deb, tmp_path_factory):
    """The package extracted with dpkg-deb -x."""
    path = tmp_path_factory.mktemp("root")
    res = run(["dpkg-deb", "-x", deb, path])
    assert res.returncode == 0, res.stderr
    return path


def control(deb, field):
    res = run(["dpkg-deb", "-f", deb, field])
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


# contrib/ entries installed as programs or man pages, not as examples.
NOT_EXAMPLES = {"dev.sh", "qiflow-migrate", "qiflow-heartbeat-once", "man"}
MAN_PAGES = sorted((qfstack.SOURCE_DIR / "contrib" / "man").glob("*.1"))


def expected_files():
    """Every regular file the package must hold, from the source tree."""
    src = qfstack.SOURCE_DIR
    files = {UNIT, "usr/bin/qiflow-exporter", "usr/bin/qiflow-migrate",
             "usr/bin/qiflow-heartbeat-once",
             "usr/lib/sysusers.d/qiflow.conf",
             "usr/lib/tmpfiles.d/qiflow.conf",
             "usr/share/doc/qiflow/README.md"}
    files |= {f"usr/share/doc/qiflow/docs/{p.name}"
              for p in (src / "docs").glob("*.md")}
    files |= {f"usr/share/man/man1/{p.name}.gz" for p in MAN_PAGES}
    files |= {f"usr/lib/collectd/{p}.so" for p in PLUGINS}
    files |= {f"usr/share/qiflow/schema/{p.name}"
              for p in (src / "schema").glob("*.json")}
    for path in (src / "contrib").rglob("*"):
        rel = path.relative_to(src / "contrib")
        if path.is_file() and rel.parts[0] not in NOT_EXAMPLES:
            files.add("usr/share/qiflow/examples/"
                      f"{path.relative_to(src / 'contrib')}")
    return files


def test_control_fields_and_dependencies(deb):
    assert control(deb, "Package") == "qiflow"
    assert control(deb, "Architecture") == "amd64"
    depends = control(deb, "Depends")
    names = {re.split(r"[\s(]", d.strip())[0] for d in depends.split(",")}
    for name in LIB_DEPENDS + ("python3",):
        assert name in names, f"{name} missing from Depends: {depends}"
    for name in names:
        # Real Debian package names: each is known to dpkg or apt.
        known = run(["dpkg-query", "-W", name]).returncode == 0 or \
            run(["apt-cache", "show", name]).returncode == 0
        assert known, f"Depends names an unknown package: {name}"


def test_file_list_and_modes(deb):
    res = run(["dpkg-deb", "-c", deb])
    assert res.returncode == 0, res.stderr
    entries = {}
    for line in res.stdout.splitlines():
        perms, owner, _size, _date, _time, path = line.split(None, 5)
        assert owner == "root/root", line
        if not perms.startswith("d"):
            entries[path[2:]] = perms
    assert set(entries) == expected_files(), \
        f"extra: {sorted(set(entries) - expected_files())}; " \
        f"missing: {sorted(expected_files() - set(entries))}"
    for path, perms in entries.items():
        wanted = "-rwxr-xr-x" if path.startswith("usr/bin/") else "-rw-r--r--"
        assert perms == wanted, f"{path}: {perms}"


def stub_path(directory, names):
    """A PATH directory of stubs that record their argv in calls.log."""
    directory.mkdir()
    log = directory / "calls.log"
    for name in names:
        stub = directory / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n'
                        f'[ "{name}" = getent ] && exit 2\nexit 0\n')
        stub.chmod(0o755)
    return log


def test_maintainer_scripts(deb, tmp_path):
    res = run(["dpkg-deb", "-e", deb, tmp_path / "DEBIAN"])
    assert res.returncode == 0, res.stderr
    for name in ("postinst", "prerm", "postrm"):
        script = tmp_path / "DEBIAN" / name
        assert os.access(script, os.X_OK), name
        assert run(["sh", "-n", script]).returncode == 0, name
    # postinst with stubbed tools (nothing touches the machine): systemd's
    # sysusers/tmpfiles when present, adduser/install otherwise.
    postinst = tmp_path / "DEBIAN" / "postinst"
    log = stub_path(tmp_path / "with", ["systemd-sysusers",
                                        "systemd-tmpfiles", "systemctl"])
    res = run([postinst, "configure"],
              env={"PATH": f"{tmp_path / 'with'}:/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    calls = log.read_text().splitlines()
    assert calls[:2] == ["systemd-sysusers qiflow.conf",
                         "systemd-tmpfiles --create qiflow.conf"], calls
    log = stub_path(tmp_path / "without", ["getent", "adduser", "install",
                                           "systemctl"])
    res = run(["/bin/sh", postinst, "configure"],
              env={"PATH": str(tmp_path / "without")})
    assert res.returncode == 0, res.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "getent passwd qiflow", calls
    assert calls[1].startswith("adduser --system --group"), calls
    assert any("/var/lib/collectd/qiflow" in c for c in calls
               if c.startswith("install -d")), calls


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_is_the_source_page(root, page):
    packaged = gzip.decompress(
        (root / f"usr/share/man/man1/{page.name}.gz").read_bytes())
    assert packaged == page.read_bytes()


def test_every_command_has_a_man_page():
    names = {p.stem for p in MAN_PAGES}
    assert {"qiflow-exporter", "qiflow-heartbeat-once"} <= names, names


def test_packaged_commands_run(root):
    res = run([root / "usr/bin/qiflow-migrate", "--version"])
    assert res.returncode == 0 and res.stdout.startswith("qiflow-migrate ")
    res = run([root / "usr/bin/qiflow-exporter", "--version"])
    assert res.returncode == 0 and res.stdout.startswith("qiflow-exporter ")
    for flag in ("-h", "--help"):
        res = run([root / "usr/bin/qiflow-heartbeat-once", flag])
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("Usage: qiflow-heartbeat-once")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze missing")
def test_unit_verifies_and_is_hardened(root, tmp_path):
    text = (root / UNIT).read_text()
    for line in ("User=qiflow", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SystemCallFilter=@system-service",
                 "ReadOnlyPaths=-/var/lib/collectd/qiflow", "MemoryMax=64M"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    # systemd-analyze checks that ExecStart's binary exists: point it at
    # the extracted one. Any output is an unknown key or a bad value.
    unit = tmp_path / "qiflow-exporter.service"
    unit.write_text(text.replace("ExecStart=/usr/bin/qiflow-exporter",
                                 f"ExecStart={root}/usr/bin/qiflow-exporter"))
    res = run(["systemd-analyze", "verify", "--man=no", unit])
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    # systemd's own exposure score (0 best, 10 worst; up to 2.9 is "OK").
    res = run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
               unit])
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                      res.stdout)
    assert score and float(score.group(1)) <= 2.0, res.stdout[-2000:]


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None or
                    shutil.which("systemd-tmpfiles") is None,
                    reason="systemd-sysusers/systemd-tmpfiles missing")
def test_sysusers_and_tmpfiles_entries(root, tmp_path):
    target = tmp_path / "target"
    (target / "etc").mkdir(parents=True)
    res = run(["systemd-sysusers", f"--root={target}",
               root / "usr/lib/sysusers.d/qiflow.conf"])
    assert res.returncode == 0, res.stderr
    passwd = (target / "etc/passwd").read_text()
    assert re.search(r"^qiflow:x:\d+:\d+:", passwd, re.M), passwd
    assert re.search(r"^qiflow:x:\d+:", (target / "etc/group").read_text(),
                     re.M)
    res = run(["systemd-tmpfiles", f"--root={target}", "--create",
               root / "usr/lib/tmpfiles.d/qiflow.conf"])
    assert res.returncode == 0, res.stderr
    for path, mode in (("var/lib/collectd/qiflow", 0o755),
                       ("var/log/qiflow", 0o750),
                       ("var/lib/qiflow/agents", 0o755)):
        assert (target / path).stat().st_mode & 0o777 == mode, path


def localize(text, replacements):
    """Rewrite the packaged example's site paths and URLs to test ones;
    each original must be present, so a changed example fails loudly
    instead of reaching a real host."""
    for old, new in replacements.items():
        assert old in text, f"example no longer contains {old!r}"
        text = text.replace(old, new)
    live = [l for l in text.splitlines()
            if "https://" in l.split("#")[0]]
    assert not live, f"example would contact a real host: {live}"
    return text


def mapped_plugins(pid):
    """Paths of qiflow_*.so mapped into process pid."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {line.split()[-1] for line in maps.splitlines()
            if "/qiflow_" in line and line.endswith(".so")}


def test_installed_plugins_and_exporter_run(root, tmp_path):
    github = Recorder(503, {"message": "fake GitHub: unavailable"})
    backend = Recorder(200, {"success": True})
    work = tmp_path / "collectd"
    state, agents, logs = (tmp_path / n for n in ("state", "agents", "logs"))
    for d in (state, logs):
        d.mkdir()
    qfstack.write_agent(agents, "Agent-1")
    group = grp.getgrgid(os.getegid()).gr_name
    key = tmp_path / "api-key"
    key.write_text("package-test-key")
    key.chmod(0o600)
    example = (root / "usr/share/qiflow/examples/collectd/qiflow.conf")
    conf = localize(example.read_text(), {
        '"/var/lib/collectd/qiflow"': f'"{state}"',
        '"/var/lib/qiflow/agents"': f'"{agents}"',
        '"/var/log/qiflow"': f'"{logs}"',
        # The fragment's logfile: where qfstack's collectd logs already.
        '"/var/log/collectd.log"': f'"{work / "collectd.log"}"',
        '"/var/run/collectd-unixsock"': f'"{work / "collectd.sock"}"',
        'SocketGroup "qiflow"': f'SocketGroup "{group}"',
        '"https://api.github.com"': f'"{github.url}"',
        '"https://backend.example/api/v1/swarms/heartbeat"':
            f'"{backend.url}/api/v1/swarms/heartbeat"',
        '"/etc/qiflow/api-key"': f'"{key}"',
    })
    collectd = qfstack.Collectd(work, plugin_conf=conf,
                                plugin_dir=root / "usr/lib/collectd")
    exporter = qfstack.Exporter(collectd.socket, state,
                                binary=root / "usr/bin/qiflow-exporter",
                                log_path=tmp_path / "exporter.log")
    try:
        collectd.start()
        assert mapped_plugins(collectd.pid) == \
            {str(root / f"usr/lib/collectd/{p}.so") for p in PLUGINS}
        qfstack.wait_until(
            lambda: any("qiflow_agents/count-total" in i
                        for i in collectd.listval()), 15,
            message="values of the packaged qiflow_agents")
        exporter.start()
        health = qfstack.wait_until(
            lambda: (lambda r: r if r.status == 200 else None)(
                exporter.get("/health")), 15, message="/health 200")
        qfstack.validate(health.json(), "health")
        status = exporter.get("/status")
        assert status.status == 200
        qfstack.validate(status.json(), "status")
    finally:
        exporter.stop()
        collectd.stop()
        github.stop()
        backend.stop()
