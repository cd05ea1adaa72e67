"""The .deb of a cross build (arm64, armhf): cpack -G DEB from QF_BUILD_DIR.

Runs when QF_BUILD_DIR was configured with a toolchain file of
cmake/toolchain/ (contrib/dev.sh's arm stage: build-arm64, build-armhf);
skips elsewhere (test_package.py checks the native package). The package
must be named qiflow_<version>_<arch>.deb, say Architecture: <arch>, hold
only programs and plugins for that architecture, and depend on the
libraries dpkg-shlibdeps found (libcollectdclient1 from the sysroot's
DEBIAN/shlibs included), each of which Debian has for <arch> in a version
that satisfies the dependency.
"""

import re
import subprocess

import pytest

import qfstack
from test_arm64 import cache_value

# ELF e_machine of each Debian architecture.
MACHINE = {"arm64": 183, "armhf": 40}
LIBRARIES = ("libc6", "libcurl4", "libyajl2", "libmicrohttpd12",
             "libcollectdclient1", "zlib1g")


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, timeout=300, check=False, **kwargs)


@pytest.fixture(scope="module")
def cross(tmp_path_factory):
    """(arch, path of the .deb) built from the cross build QF_BUILD_DIR."""
    build = qfstack.BUILD_DIR
    arch = cache_value(build, "QF_DEB_ARCH")
    if arch not in MACHINE:
        pytest.skip(f"{build} is not a cross build of cmake/toolchain/ "
                    "(contrib/dev.sh's arm stage runs this test)")
    if not (build / "bin" / "qiflow-exporter").exists():
        pytest.skip(f"not built yet in {build}")
    out = tmp_path_factory.mktemp("cpack")
    res = run(["cpack", "-G", "DEB", "--config", build / "CPackConfig.cmake",
               "-B", out])
    assert res.returncode == 0, res.stdout + res.stderr
    debs = [p.name for p in out.glob("*.deb")]
    version = cache_value(build, "CMAKE_PROJECT_VERSION")
    assert debs == [f"qiflow_{version}_{arch}.deb"], res.stdout
    return arch, out / debs[0]


def control(deb, field):
    res = run(["dpkg-deb", "-f", deb, field])
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_architecture_and_binaries(cross, tmp_path):
    arch, deb = cross
    assert control(deb, "Architecture") == arch
    assert run(["dpkg-deb", "-x", deb, tmp_path]).returncode == 0
    elves = [p for p in tmp_path.rglob("*") if p.is_file()
             and p.read_bytes()[:4] == b"\x7fELF"]
    names = sorted(p.name for p in elves)
    built = sorted(["qiflow-exporter"] + [
        p.name for p in (qfstack.BUILD_DIR / "plugins").glob("*.so")])
    assert names == built and "qiflow_agents.so" in names, names
    for p in elves:
        machine = int.from_bytes(p.read_bytes()[18:20], "little")
        assert machine == MACHINE[arch], f"{p}: e_machine {machine}"


def test_dependencies_resolve_on_the_architecture(cross):
    arch, deb = cross
    depends = {}
    for item in control(deb, "Depends").split(","):
        m = re.fullmatch(r"\s*([a-z0-9.+-]+)(?:\s*\((>=)\s*([^)]+)\))?\s*",
                         item)
        assert m, f"unexpected dependency {item!r}"
        depends[m.group(1)] = m.group(3)
    missing = [lib for lib in LIBRARIES if lib not in depends]
    assert not missing, f"dpkg-shlibdeps left out {missing}: {depends}"
    for name, minimum in depends.items():
        res = run(["apt-cache", "policy", f"{name}:{arch}"])
        m = re.search(r"Candidate: (\S+)", res.stdout)
        assert m and m.group(1) != "(none)", \
            f"{name}:{arch} is not available: {res.stdout}{res.stderr}"
        if minimum:
            ok = run(["dpkg", "--compare-versions", m.group(1), "ge",
                      minimum])
            assert ok.returncode == 0, \
                f"{name}:{arch} {m.group(1)} is older than {minimum}"
