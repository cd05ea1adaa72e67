"""Issue 16: the default state directory is one build setting.

CMake's cache variable QF_STATE_DIR is the default StateDir of every plugin
and the exporter's default --state-dir. The built parts must carry the value
this build was configured with; contrib/ (sample configuration, systemd and
tmpfiles units, the migration script), the man pages, the Debian maintainer
scripts and the docs (README.md, docs/*.md) must name the default that
CMakeLists.txt gives it.
"""
import re
import subprocess

import qfstack

PLUGINS = ("qiflow_agents", "qiflow_github", "qiflow_heartbeat",
           "qiflow_anomaly")


def source_default():
    """The default CMakeLists.txt gives QF_STATE_DIR."""
    text = (qfstack.SOURCE_DIR / "CMakeLists.txt").read_text()
    m = re.search(r'set\(QF_STATE_DIR "([^"]+)" CACHE PATH', text)
    assert m, "CMakeLists.txt no longer sets QF_STATE_DIR as a cache PATH"
    return m.group(1)


def built_value():
    """The QF_STATE_DIR this build directory was configured with."""
    cache = (qfstack.BUILD_DIR / "CMakeCache.txt").read_text()
    m = re.search(r"^QF_STATE_DIR:PATH=(.*)$", cache, re.M)
    assert m, "QF_STATE_DIR missing from CMakeCache.txt"
    return m.group(1)


def test_every_built_part_has_the_configured_default():
    value = built_value()
    out = subprocess.run(
        [str(qfstack.BUILD_DIR / "bin" / "qiflow-exporter"), "--help"],
        capture_output=True, text=True, timeout=10, check=True).stdout
    help_text = " ".join(out.split())
    assert f"swarm_id (default {value})" in help_text, out
    for name in PLUGINS:
        module = (qfstack.BUILD_DIR / "plugins" / f"{name}.so").read_bytes()
        assert value.encode() + b"\0" in module, \
            f"{name}.so does not carry QF_STATE_DIR {value}"


def test_docs_and_contrib_name_the_same_default():
    d = source_default()
    src = qfstack.SOURCE_DIR
    contrib = src / "contrib"
    # Every StateDir setting of the sample configuration, and of the docs.
    conf = (contrib / "collectd" / "qiflow.conf").read_text()
    values = re.findall(r'^\s*StateDir "([^"]*)"', conf, re.M)
    assert len(values) >= 4 and set(values) == {d}, values
    docs = "\n".join(p.read_text() for p in
                     [src / "README.md", *sorted((src / "docs").glob("*.md"))])
    rows = [l for l in docs.splitlines() if l.startswith("| `StateDir` |")]
    assert len(rows) >= 3 and all(f"`{d}`" in r for r in rows), rows
    assert set(re.findall(r'^\s*StateDir "([^"]*)"', docs, re.M)) == {d}
    # The path itself, wherever the docs name a state directory.
    named = set(re.findall(r"/var/lib/[\w/.-]*qiflow\b", docs))
    assert named <= {d, "/var/lib/qiflow"}, named
    wanted = {
        contrib / "qiflow-migrate": f'DEFAULT_STATE_DIR = "{d}"',
        contrib / "systemd" / "qiflow.tmpfiles": f"d {d} ",
        contrib / "systemd" / "qiflow-exporter.service":
            f"ReadOnlyPaths=-{d}\n",
        contrib / "man" / "qiflow-exporter.1": f"Default\n.BR {d} .",
        contrib / "man" / "qiflow-migrate.1": f"Default\n.BR {d} .",
        src / "cmake" / "debian" / "postinst": f" {d} ",
        src / "cmake" / "debian" / "postrm": f" {d} ",
    }
    for path, text in wanted.items():
        assert text in path.read_text(), f"{path} does not say {text!r}"
    service = (contrib / "systemd" / "qiflow-exporter.service").read_text()
    assert set(re.findall(r"--state-dir (\S+?)\"", service)) == {d}
