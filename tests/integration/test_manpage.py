"""Every contrib/man/*.1 matches its program's `--help`.

For each page (qiflow-exporter.1, and the pages of the contrib scripts
qiflow-migrate and qiflow-heartbeat-once once they exist): every flag of
--help is documented in the page's OPTIONS section and the page documents
no flag the program lacks; the SYNOPSIS names every long flag; every
default --help states appears in the page; the .TH line carries the
program's --version; the page renders without groff warnings.
"""

import os
import re
import shutil
import subprocess

import pytest

import qfstack

MAN_DIR = qfstack.SOURCE_DIR / "contrib" / "man"
# Each page's program: its name without ".1", found here.
PROGRAMS = {
    "qiflow-exporter": qfstack.BUILD_DIR / "bin" / "qiflow-exporter",
    "qiflow-migrate": qfstack.SOURCE_DIR / "contrib" / "qiflow-migrate",
    "qiflow-heartbeat-once": qfstack.SOURCE_DIR / "contrib" /
    "qiflow-heartbeat-once",
}
PAGES = sorted(p.stem for p in MAN_DIR.glob("*.1"))
FLAG_RE = re.compile(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)")


def test_flag_pattern_reads_every_spelling():
    """Upper-case short flags (-C, -P) count as much as long ones: a
    lower-case-only pattern left them uncompared."""
    text = "  -C FILE  x\n  -P DIR   y\n  -c X\n  --max-connections-per-ip N\n" \
        "  -h, --help  y\n  --tls-1-3 z\n"
    assert help_flags(text) == {"-C", "-P", "-c", "--max-connections-per-ip",
                                "-h", "--help", "--tls-1-3"}
    assert FLAG_RE.findall("a-b x-C") == []  # a dash inside a word is no flag


def test_every_page_has_a_program():
    assert "qiflow-exporter" in PAGES, PAGES
    unknown = [p for p in PAGES if p not in PROGRAMS]
    assert not unknown, f"man pages without a program in PROGRAMS: {unknown}"


@pytest.fixture(params=PAGES)
def page(request):
    """The page's name; skipped when its program is not built."""
    program = PROGRAMS.get(request.param)
    if program is None:
        pytest.skip(f"{request.param}: no program (see "
                    f"test_every_page_has_a_program)")
    if not program.exists():
        pytest.skip(f"{program} not built")
    return request.param


def run(name, *args):
    """The page's program with args; the scripts find collectd's tools and
    the build's exporter as installed, so run them with the build on
    PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{qfstack.BUILD_DIR / 'bin'}:{env.get('PATH', '')}"
    return subprocess.run([str(PROGRAMS[name]), *args], capture_output=True,
                          text=True, timeout=10, check=False, env=env)


def help_text(name):
    res = run(name, "--help")
    assert res.returncode == 0, f"{name} --help: exit {res.returncode}: " \
        f"{res.stderr}"
    return res.stdout


def help_flags(text):
    """Flags that start a line of --help's flag list (indented, dash)."""
    flags = set()
    for line in text.splitlines():
        match = re.match(r"^\s{1,4}(-[-\w, ]+?)(?:\s{2,}|\s[A-Z]|$)", line)
        if match:
            flags |= set(FLAG_RE.findall(match.group(1)))
    return flags


def man_source(name):
    return (MAN_DIR / f"{name}.1").read_text()


def man_section(source, name):
    match = re.search(rf"^\.SH {name}\n(.*?)(?=^\.SH )", source,
                      re.M | re.S)
    assert match, f"no .SH {name} in the page"
    return match.group(1)


def man_flags(source):
    """Flags in the tags (.TP's next line) of the OPTIONS section."""
    lines = man_section(source, "OPTIONS").splitlines()
    flags = set()
    for previous, line in zip(lines, lines[1:]):
        if previous.startswith(".TP"):
            tag = line.replace("\\-", "-")
            flags |= set(FLAG_RE.findall(tag.replace('"', ' ')))
    return flags


def plain(source):
    """Man source with escapes undone and whitespace folded, for search."""
    text = source.replace("\\-", "-").replace("\\(dq", '"').replace("\\e",
                                                                    "\\")
    text = re.sub(r"^\.[A-Z]+ ?", "", text, flags=re.M)
    return re.sub(r"\s+", " ", text)


def test_every_help_flag_is_in_the_man_page_and_back(page):
    flags = help_flags(help_text(page))
    assert "--help" in flags, flags
    if page == "qiflow-exporter":
        assert {"--listen", "--socket", "--state-dir", "--refresh",
                "--version", "--max-connections-per-ip"} <= flags, flags
    if page == "qiflow-heartbeat-once":
        assert {"-C", "-c", "-P", "-t", "-h"} <= flags, flags
    documented = man_flags(man_source(page))
    assert flags - documented == set(), \
        f"{page}: in --help but not in the man page: " \
        f"{sorted(flags - documented)}"
    assert documented - flags == set(), \
        f"{page}: in the man page but not in --help: " \
        f"{sorted(documented - flags)}"


def test_synopsis_names_every_flag(page):
    synopsis = man_section(man_source(page), "SYNOPSIS").replace("\\-", "-")
    missing = [f for f in help_flags(help_text(page))
               if f.startswith("--") and f not in synopsis]
    assert not missing, f"{page}: not in SYNOPSIS: {missing}"


def test_defaults_of_help_are_in_the_man_page(page):
    text = help_text(page)
    defaults = re.findall(r"\(default:? ([^)]+)\)", re.sub(r"\s+", " ", text))
    if page == "qiflow-exporter":
        assert defaults, "--help states no defaults"
    text_of_page = plain(man_source(page))
    missing = [d for d in defaults if d not in text_of_page]
    assert not missing, f"{page}: defaults of --help missing from the man " \
        f"page: {missing}"


def test_version_matches(page):
    res = run(page, "--version")
    if page != "qiflow-exporter" and res.returncode != 0:
        pytest.skip(f"{page} has no --version")
    assert res.returncode == 0, res.stderr
    version = res.stdout.split()[-1]
    th = [l for l in man_source(page).splitlines() if l.startswith(".TH ")][0]
    assert f"qiflow {version}" in th, (th, version)


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff missing")
@pytest.mark.parametrize("name", PAGES)
def test_man_page_renders_without_warnings(name):
    res = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                          str(MAN_DIR / f"{name}.1")], capture_output=True,
                         text=True, timeout=30, check=False,
                         env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0 and res.stderr == "", res.stderr
