"""Mutation fuzzing of contrib/qiflow-migrate (issue 7: the settings.ini
importer is Python, so it gets this bounded pytest instead of a libFuzzer
target).

Mutants of a complete settings.ini (random byte flips, insertions and cuts,
hostile lines, invalid UTF-8) go through the importer's main() in-process.
For every one it must end in a documented way — exit 0 with a fragment, 1
(invalid settings, reasons on stderr) or 2 (usage) — never an uncaught
exception; a fragment must be collectd.conf-quotable line by line and must
not carry the API key or the GitHub token (they go to 0600 files).

Deterministic (seeded); QF_MIGRATE_FUZZ_CASES sets the count (default
1500, bounded to 60 s), QF_MIGRATE_FUZZ_SEED the seed.
"""

import configparser
import contextlib
import importlib.machinery
import importlib.util
import io
import os
import random
import shlex
import time
from pathlib import Path

import qfstack

MIGRATE = qfstack.SOURCE_DIR / "contrib" / "qiflow-migrate"
CASES = int(os.environ.get("QF_MIGRATE_FUZZ_CASES", "1500"))
SEED = int(os.environ.get("QF_MIGRATE_FUZZ_SEED", "20261127"))
TIME_LIMIT = 60.0

API_KEY = "fz-api-key-6b1f0c2e9d"
TOKEN = "ghp_fz0token0a1b2c3d4e5f"

BASE = f"""[heartbeat]
monitor_url = https://backend.example/api/v1/swarms/heartbeat
api_key = {API_KEY}
interval = 60
swarm_id = swarm-42
enable_api = true
api_port = 8080

[project_tracking]
enabled = true
github_repo = acme/widgets
github_token = {TOKEN}
flag_blocked_after_hours = 24
flag_failures_threshold = 3
flag_test_failure_rate = 0.10

[agents]
agent_count = 3
schedule = */15 * * * *

[logging]
level = INFO
file = heartbeat.log
"""

HOSTILE_LINES = [
    "[heartbeat]", "[project_tracking]", "[unknown section]", "[[x]]", "[",
    "api_key = \"quoted\\\" value\"", "monitor_url = http://x/\x00y",
    "monitor_url = ftp://backend.example/", "monitor_url = https://u:p@h:99999/",
    "monitor_url = https://[::1/", "interval = -1", "interval = 1e309",
    "interval = 99999999999999999999999", "interval = nan", "api_port = 0x50",
    "api_port = 70000", "swarm_id = ../../etc/passwd", "swarm_id = \"; rm",
    "github_repo = a/b/c", "github_repo = /", "github_repo = o/r\nx",
    "flag_test_failure_rate = -0.5", "flag_test_failure_rate = inf",
    "flag_failures_threshold = 3.5", "enabled = maybe", "enable_api = 1",
    "= no key", "key without value", "key: colon value", "%(interpolate)s",
    "  continuation line", "\tindented = value", "\ufeff[heartbeat]",
    "file = " + "A" * 5000, "api_key = " + "k" * 100000, "# comment",
    "; comment", "level = TRACE", "api_key =", "github_token = \\",
    "monitor_url = https://backend.example/path with space",
    "monitor_url = https://backend.example/?token=secret#frag",
]


def _load_migrate():
    loader = importlib.machinery.SourceFileLoader("qiflow_migrate",
                                                  str(MIGRATE))
    spec = importlib.util.spec_from_loader("qiflow_migrate", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _mutate(rng, data):
    """One to four random edits of data (bytes)."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # insert a hostile line at a line start
            start = data.rfind(b"\n", 0, pos) + 1
            line = rng.choice(HOSTILE_LINES).encode("utf-8", "surrogatepass")
            data[start:start] = line + b"\n"
        elif op == 2:  # cut the rest
            del data[pos:]
        elif op == 3:  # duplicate a slice
            end = min(len(data), pos + rng.randrange(1, 200))
            data[pos:pos] = data[pos:end]
        elif op == 4:  # invalid UTF-8 or a control byte
            data[pos:pos] = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80",
                                        b"\x00", b"\r", b"\x1b[2J"])
        else:  # delete a slice
            del data[pos:pos + rng.randrange(1, 50)]
    return bytes(data)


def _run(migrate, path, secrets):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = migrate.main([str(path), "--secrets-dir", str(secrets),
                                 "--force"])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _secrets(data):
    """The API key and token a mutant still holds in secret places (a
    mutation may have moved their text into another value, where printing
    it is right): long values of api_key / github_token found nowhere
    else in the file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode("utf-8"))
    except (UnicodeDecodeError, configparser.Error):
        return []
    values = {(s, k): v for s in parser.sections()
              for k, v in parser.items(s)}
    found = []
    for key in (("heartbeat", "api_key"), ("project_tracking",
                                           "github_token")):
        secret = values.get(key, "").strip()
        if len(secret) >= 8 and not any(
                secret in v for k, v in values.items() if k != key):
            found.append(secret)
    return found


def _check_fragment(text, secrets):
    for secret in secrets:
        assert secret not in text, f"secret {secret!r} printed"
    for line in text.splitlines():
        shlex.split(line, comments=True, posix=True)  # raises if unquotable


def test_mutated_settings_end_in_documented_ways(tmp_path):
    migrate = _load_migrate()
    rng = random.Random(SEED)
    # The unmutated base converts: the mutants start from a working file.
    ini = tmp_path / "settings.ini"
    ini.write_text(BASE)
    code, out, err = _run(migrate, ini, tmp_path / "secrets")
    assert code == 0, err
    _check_fragment(out, [API_KEY, TOKEN])
    outcomes = {0: 0, 1: 0, 2: 0}
    deadline = time.monotonic() + TIME_LIMIT
    done = 0
    for case in range(CASES):
        if time.monotonic() > deadline:
            break
        data = _mutate(rng, BASE.encode())
        ini.write_bytes(data)
        try:
            code, out, err = _run(migrate, ini, tmp_path / "secrets")
            assert code in outcomes, f"exit {code!r}"
            if code == 0:
                _check_fragment(out, _secrets(data))
            else:
                assert err.strip(), "a refusal without a reason"
        except Exception as exc:  # pylint: disable=broad-except
            crash = tmp_path / f"crash-{case}.ini"
            crash.write_bytes(data)
            raise AssertionError(f"case {case} (seed {SEED}, input saved as "
                                 f"{crash}): {type(exc).__name__}: {exc}\n"
                                 f"input: {data[:400]!r}") from exc
        outcomes[code] += 1
        done += 1
    print(f"qiflow-migrate fuzz: {done} mutants, outcomes {outcomes}")
    assert done >= min(CASES, 200)
    # The mutants exercise both sides: accepted and refused files.
    assert outcomes[0] > 0 and outcomes[1] > 0, outcomes


# Found by this fuzz test (seeds 2 and 4): a monitor_url with an unbalanced
# "[" or "]" made urllib raise "Invalid IPv6 URL" out of the importer; the
# same held for --github-api-url.
BAD_URLS = ("https://backend.[example/api", "https://backend.examp]e/api",
            "https://[::1/api", "http://]/")


def test_unsplittable_monitor_url_is_refused(tmp_path):
    migrate = _load_migrate()
    ini = tmp_path / "settings.ini"
    for url in BAD_URLS:
        ini.write_text(BASE.replace(
            "https://backend.example/api/v1/swarms/heartbeat", url))
        code, out, err = _run(migrate, ini, tmp_path / "secrets")
        assert code == 1 and out == "", (url, code, out)
        assert "[heartbeat] monitor_url" in err and "must be an http" in err, \
            (url, err)
    # A bracketed IPv6 host is still a URL.
    ini.write_text(BASE.replace("backend.example", "[::1]:8443"))
    code, out, err = _run(migrate, ini, tmp_path / "secrets")
    assert code == 0 and 'URL "https://[::1]:8443/' in out, err


def test_unsplittable_github_api_url_is_a_usage_error(tmp_path, capsys):
    migrate = _load_migrate()
    ini = tmp_path / "settings.ini"
    ini.write_text(BASE)
    for url in BAD_URLS:
        try:
            migrate.main([str(ini), "--secrets-dir", str(tmp_path / "s"),
                          "--github-api-url", url])
            code = 0
        except SystemExit as exc:
            code = exc.code
        assert code == 2, url
        assert "--github-api-url must be an http" in capsys.readouterr().err
