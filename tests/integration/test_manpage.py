"""contrib/man/qiflow-exporter.1 matches `qiflow-exporter --help`.

Both directions: every flag of --help is documented in the man page's
OPTIONS section and the man page documents no flag the binary lacks; every
default --help states appears in the man page; the page renders without
groff warnings.
"""

import re
import shutil
import subprocess

import pytest

import qfstack

MAN_PAGE = qfstack.SOURCE_DIR / "contrib" / "man" / "qiflow-exporter.1"
EXPORTER = qfstack.BUILD_DIR / "bin" / "qiflow-exporter"
FLAG_RE = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


def help_text():
    if not EXPORTER.exists():
        pytest.skip(f"{EXPORTER} not built")
    res = subprocess.run([str(EXPORTER), "--help"], capture_output=True,
                         text=True, timeout=10, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def help_flags(text):
    """Flags that start a line of --help's flag list (indented, dash)."""
    flags = set()
    for line in text.splitlines():
        match = re.match(r"^\s{1,4}(-[-\w, ]+?)(?:\s{2,}|\s[A-Z]|$)", line)
        if match:
            flags |= set(FLAG_RE.findall(match.group(1)))
    return flags


def man_source():
    return MAN_PAGE.read_text()


def man_section(source, name):
    match = re.search(rf"^\.SH {name}\n(.*?)(?=^\.SH )", source,
                      re.M | re.S)
    assert match, f"no .SH {name} in {MAN_PAGE}"
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


def test_every_help_flag_is_in_the_man_page_and_back():
    flags = help_flags(help_text())
    assert {"--listen", "--socket", "--state-dir", "--refresh", "--help",
            "--version"} <= flags, flags
    documented = man_flags(man_source())
    assert flags - documented == set(), \
        f"in --help but not in the man page: {sorted(flags - documented)}"
    assert documented - flags == set(), \
        f"in the man page but not in --help: {sorted(documented - flags)}"


def test_synopsis_names_every_flag():
    synopsis = man_section(man_source(), "SYNOPSIS").replace("\\-", "-")
    missing = [f for f in help_flags(help_text())
               if f.startswith("--") and f not in synopsis]
    assert not missing, f"not in SYNOPSIS: {missing}"


def test_defaults_of_help_are_in_the_man_page():
    text = help_text()
    defaults = re.findall(r"\(default:? ([^)]+)\)", re.sub(r"\s+", " ", text))
    assert defaults, "--help states no defaults"
    page = plain(man_source())
    missing = [d for d in defaults if d not in page]
    assert not missing, f"defaults of --help missing from the man page: " \
        f"{missing}"


def test_version_matches():
    help_text()
    res = subprocess.run([str(EXPORTER), "--version"], capture_output=True,
                         text=True, timeout=10, check=False)
    version = res.stdout.split()[-1]
    th = [l for l in man_source().splitlines() if l.startswith(".TH ")][0]
    assert f"qiflow {version}" in th


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff missing")
def test_man_page_renders_without_warnings():
    res = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                          str(MAN_PAGE)], capture_output=True, text=True,
                         timeout=30, check=False,
                         env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0 and res.stderr == "", res.stderr
