"""A stock Debian install: docs/install.md's "Installing from the .deb" steps on
Debian's own example collectd.conf, run by the real collectd with our
plugins and the real exporter.

The configuration is made by running the shell lines of that section's step 1
(sudo dropped, /etc/collectd moved under tmp_path), then applying
SITE_EDITS (what the README tells an operator to edit) and SANDBOX_EDITS
(what a test cannot leave as it is: paths under tmp_path, our build's
PluginDir, loopback fakes for the internet, one-second intervals). Nothing
else of Debian's example or of our fragment changes, so its df, logging
and rrdtool settings are the ones a real site starts from.

Also here: tests/bench/run.py's dpkg status check, which once took
"unknown ok not-installed" for installed.
"""

import importlib.util
import re
import socket
import subprocess
from pathlib import Path

import pytest

import qfstack
from fake_backend import FakeBackend
from test_migrate import Recorder

INSTALL_DOC = qfstack.SOURCE_DIR / "docs" / "install.md"
FRAGMENT = qfstack.SOURCE_DIR / "contrib" / "collectd" / "qiflow.conf"
ONCE = qfstack.SOURCE_DIR / "contrib" / "qiflow-heartbeat-once"
DEBIAN_EXAMPLE = Path("/usr/share/doc/collectd-core/examples/collectd.conf")
PACKAGED_FRAGMENT = "/usr/share/qiflow/examples/collectd/qiflow.conf"
PLUGINS = ("qiflow_agents", "qiflow_github", "qiflow_heartbeat")
KEY = "stock-debian-key"
SWARM = "stock-debian-swarm"

pytestmark = pytest.mark.skipif(
    not DEBIAN_EXAMPLE.exists(),
    reason=f"{DEBIAN_EXAMPLE} missing (collectd-core's example)")


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    monkeypatch.delenv("QIFLOW_API_KEY", raising=False)


def readme_step_one():
    """The shell lines of step 1 ("collectd's configuration") of the
    "Installing from the .deb" in docs/install.md."""
    text = INSTALL_DOC.read_text()
    section = re.search(r"^## Installing from the \.deb\n(.*?)(?=^## |\Z)",
                        text, re.M | re.S).group(1)
    step = section[section.index("1. collectd's configuration"):]
    block = re.search(r"```sh\n(.*?)```", step, re.S).group(1)
    return [l.strip() for l in block.splitlines() if l.strip()]


def edit(text, edits, where):
    """Apply (old, new) edits; each old must be there exactly once, so a
    changed example or fragment fails here instead of silently."""
    for old, new in edits:
        count = text.count(old)
        assert count == 1, f"{where}: {old!r} found {count} times"
        text = text.replace(old, new)
    return text


def hostname_resolves():
    """Whether collectd's FQDNLookup can resolve this host's own name."""
    try:
        socket.getaddrinfo(socket.gethostname(), None)
        return True
    except OSError:
        return False


class Site:
    """/etc/collectd as the README builds it, under root, with the site's
    and the sandbox's edits; the fakes standing in for the internet."""

    def __init__(self, root, df_block=None):
        self.root = root
        self.etc = root / "etc" / "collectd"
        self.conf = self.etc / "collectd.conf"
        self.fragment = self.etc / "collectd.conf.d" / "qiflow.conf"
        self.state, self.agents, self.logs = (
            root / n for n in ("state", "agents", "heartbeat-log"))
        self.work = root / "collectd"
        self.socket = self.work / "collectd.sock"
        self.log = root / "collectd.log"
        # collectd-core's own directory, as the package leaves it.
        for d in (self.etc, self.state, self.logs, self.work):
            d.mkdir(parents=True)
        self.backend = FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
        self.github = Recorder(503, {"message": "fake GitHub: unavailable"})
        self.key = root / "api-key"
        self.key.write_text(KEY + "\n")
        self.key.chmod(0o600)
        self.run_readme()
        self.edit(df_block)

    def run_readme(self):
        ran = []
        for line in readme_step_one():
            if line.startswith("sudoedit "):
                continue    # the edits: SITE_EDITS below
            cmd = line.replace("sudo ", "").replace(
                "/etc/collectd", str(self.etc)).replace(
                PACKAGED_FRAGMENT, str(FRAGMENT))
            res = subprocess.run(["sh", "-c", cmd], capture_output=True,
                                 text=True, timeout=30, check=False)
            assert res.returncode == 0, f"README line {line!r}: {res.stderr}"
            ran.append(line)
        assert any(l.startswith("sudo cp " + str(DEBIAN_EXAMPLE))
                   for l in ran), ran
        assert self.fragment.exists(), ran

    def edit(self, df_block):
        group = qfstack._group_name()
        # What the README tells the operator to edit: the lines marked
        # EDIT, the key file of step 2 (here under root), and the swarm
        # id registered with the backend.
        site_edits = [
            ('"/var/lib/qiflow/agents"', f'"{self.agents}"'),
            ('"https://backend.example/api/v1/swarms/heartbeat"',
             f'"{self.backend.url}"'),
            ('"/etc/qiflow/api-key"', f'"{self.key}"'),
            ('SwarmID ""', f'SwarmID "{SWARM}"'),
        ]
        # Unavoidable in a sandbox: paths under root instead of /var and
        # /etc, the socket's group (no "qiflow" user here), our build's
        # plugins via the fragment's commented PluginDir, a loopback fake
        # for GitHub, and one-second intervals so a test needs no minutes.
        sandbox_fragment = [
            ('"/var/log/collectd.log"', f'"{self.log}"'),
            ('"/var/run/collectd-unixsock"', f'"{self.socket}"'),
            ('SocketGroup "qiflow"', f'SocketGroup "{group}"'),
            ('#PluginDir "/usr/local/lib/collectd"',
             f'PluginDir "{qfstack.BUILD_DIR / "plugins"}"'),
            ('"https://api.github.com"', f'"{self.github.url}"'),
            ("  Interval 60                 # seconds between heartbeats",
             "  Interval 1"),
        ]
        text = edit(self.fragment.read_text(), site_edits + sandbox_fragment,
                    self.fragment)
        # Sandbox too: the StateDir all three plugins share, the
        # heartbeat log.
        text = text.replace('"/var/lib/collectd/qiflow"', f'"{self.state}"')
        text = edit(text, [('"/var/log/qiflow"', f'"{self.logs}"')],
                    self.fragment)
        self.fragment.write_text(text)
        sandbox_main = [
            # (Debian's example has no PIDFile line: collectd's default is
            # /var/run/collectd.pid.)
            ('#BaseDir "/var/lib/collectd"',
             f'BaseDir "{self.work}"\nPIDFile "{self.work / "collectd.pid"}"'),
            ("#Interval 10", "Interval 1"),
            ('DataDir "/var/lib/collectd/rrd"',
             f'DataDir "{self.work / "rrd"}"'),
            ('<Include "/etc/collectd/collectd.conf.d">',
             f'<Include "{self.etc / "collectd.conf.d"}">'),
        ]
        if not hostname_resolves():
            # README, Troubleshooting: Debian's example has FQDNLookup
            # true, and collectd stops at start when this host's name does
            # not resolve (a container or a fresh root without the name in
            # /etc/hosts); the operator's fix there is this line.
            sandbox_main.append(("FQDNLookup true", "FQDNLookup false"))
        text = edit(self.conf.read_text(), sandbox_main, self.conf)
        if df_block is not None:
            # A site whose own df block differs from Debian's.
            text = re.sub(r"^<Plugin df>\n.*?^</Plugin>\n", df_block, text,
                          count=1, flags=re.M | re.S)
        self.conf.write_text(text)

    def collectd(self):
        return SiteCollectd(self)

    def stop(self):
        self.backend.stop()
        self.github.stop()


class SiteCollectd(qfstack.Collectd):
    """The real collectd started from the site's collectd.conf as it is
    (qfstack's Collectd writes a configuration of its own)."""

    def __init__(self, site):
        super().__init__(site.work)
        self.conf_path = site.conf
        self.socket = site.socket
        self.log_path = site.log

    def write_config(self):
        pass


@pytest.fixture
def site_factory(tmp_path):
    made = []

    def make(name="site", df_block=None):
        site = Site(tmp_path / name, df_block)
        made.append(site)
        return site
    yield make
    for site in made:
        site.stop()


def need_build():
    missing = [p for p in PLUGINS
               if not (qfstack.BUILD_DIR / "plugins" / f"{p}.so").exists()]
    if not (qfstack.BUILD_DIR / "bin" / "qiflow-exporter").exists():
        missing.append("qiflow-exporter")
    if missing:
        pytest.skip(f"not built in {qfstack.BUILD_DIR}: {missing}")


def healthy_body(body):
    health = body.get("health_status") or {}
    return all(isinstance(health.get(k), (int, float))
               for k in ("cpu_percent", "memory_percent", "disk_percent"))


def check_stack(site, tmp_path):
    """collectd + exporter from the site's files: /status and a heartbeat
    carry cpu, memory and disk; our plugins' messages are in the log the
    fragment names. Returns collectd's LISTVAL."""
    qfstack.write_agent(site.agents, "Agent-1")
    collectd = site.collectd()
    exporter = qfstack.Exporter(site.socket, site.state,
                                log_path=tmp_path / "exporter.log")
    try:
        collectd.start()
        exporter.start()

        # The flat cpu/memory/disk say 0 until read; the resources block
        # says null, so it is what tells that collectd reported them (df
        # can come a read after cpu under a slow build).
        def status():
            doc = exporter.get("/status").json()
            res = (doc.get("data") or {}).get("resources") or {}
            return doc if all(isinstance(res.get(k), (int, float)) for k in
                              ("cpu_percent", "memory_percent",
                               "disk_percent")) else None
        doc = qfstack.wait_until(status, 30, 0.3,
                                 "/status with cpu, memory and disk")
        qfstack.validate(doc, "status")
        res = doc["data"]["resources"]
        assert 0 < res["disk_percent"] <= 100 and res["disk_total_gb"] > 0
        bodies = site.backend.wait_for(
            lambda fake: [b for b in fake.delivered() if healthy_body(b)], 30)
        assert bodies, site.backend.records
        qfstack.validate(bodies[-1], "heartbeat-body")
        health = bodies[-1]["health_status"]
        assert bodies[-1]["status"] == qfstack.backend_status(
            health["cpu_percent"], health["memory_percent"]), bodies[-1]
        assert bodies[-1]["resources"]["disk_percent"] > 0
        listval = collectd.listval()
    finally:
        exporter.stop()
        collectd.stop()
    log = site.log.read_text()
    for plugin in PLUGINS:
        assert f"{plugin} plugin" in log, f"no {plugin} line in {site.log}"
    return listval


def test_debian_example_with_our_fragment(site_factory, tmp_path):
    need_build()
    site = site_factory()
    # Debian's df block is there, unchanged, and ours selects nothing.
    assert "FSType rootfs" in site.conf.read_text()
    assert not re.search(r"^\s*(MountPoint|IgnoreSelected)\b",
                         site.fragment.read_text(), re.M)
    check_stack(site, tmp_path)


SEVERAL_MOUNTS = """<Plugin df>
\tMountPoint "/"
\tMountPoint "/proc"
\tMountPoint "/dev"
\tIgnoreSelected false
</Plugin>
"""


def test_site_df_block_with_several_mounts(site_factory, tmp_path):
    """Another df selection: root among several mounts. Both consumers pick
    df-root whatever else df reports."""
    need_build()
    site = site_factory(df_block=SEVERAL_MOUNTS)
    listval = check_stack(site, tmp_path)
    mounts = {re.search(r"/df-([^/]+)/", i).group(1) for i in listval
              if "/df-" in i}
    assert "root" in mounts and len(mounts) >= 2, mounts


def run_once(site, timeout=90):
    return subprocess.run([str(ONCE), "-C", str(site.conf), "-P",
                           str(qfstack.BUILD_DIR / "plugins"),
                           "-t", str(timeout - 20)],
                          capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_heartbeat_once_checks_the_site_configuration(site_factory):
    need_build()
    site = site_factory()
    res = run_once(site)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "qiflow-heartbeat-once: OK" in res.stderr
    assert "recommended settings" not in res.stderr
    (body,) = site.backend.delivered()
    assert healthy_body(body), body
    # The daemon's files: the check read the fragment through the Include.
    assert str(site.fragment) in res.stderr


def test_heartbeat_once_names_a_missing_root_file_system(site_factory):
    """A site whose df selection leaves "/" out: the daemon would send
    heartbeats without disk figures, and the check says so, with the fix."""
    need_build()
    site = site_factory(df_block='<Plugin df>\n\tMountPoint "/proc"\n'
                                 '\tIgnoreSelected false\n</Plugin>\n')
    res = run_once(site)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "does not report the root file system" in res.stderr
    assert 'add MountPoint "/"' in res.stderr
    (body,) = site.backend.delivered()
    # The one status rule: figures not all read are offline, and why; the
    # flat figure not read is 0, as /status gives it to the poller.
    assert body["health_status"]["disk_percent"] == 0
    assert body["status"] == "offline"
    assert "cpu, memory or disk not read from collectd" in \
        body["attention"]["reasons"], body["attention"]


def test_heartbeat_once_help():
    res = subprocess.run([str(ONCE), "--help"], capture_output=True,
                         text=True, timeout=10, check=False)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith("Usage: qiflow-heartbeat-once ")
    for flag in ("-C FILE", "-c FILE", "-P PLUGINDIR", "-t SECONDS",
                 "--help"):
        assert flag in res.stdout, flag
    res = subprocess.run([str(ONCE), "-x"], capture_output=True, text=True,
                         timeout=10, check=False)
    assert res.returncode == 2 and "see --help" in res.stderr


def bench_module():
    path = qfstack.SOURCE_DIR / "tests" / "bench" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("status,installed", [
    ("install ok installed", True),
    ("hold ok installed", True),
    ("unknown ok not-installed", False),
    ("deinstall ok config-files", False),
    ("install ok half-configured", False),
    ("", False),
])
def test_bench_dpkg_status(status, installed):
    assert bench_module().dpkg_installed(status) is installed
