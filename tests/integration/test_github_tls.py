"""qiflow_github over HTTPS: the fake GitHub serves TLS with certificates a
throwaway CA made by openssl here signs; the real collectd syncs through
libcurl with CACert, and each TLS failure (no or the wrong CA, an expired
certificate, one for another host, an unreadable CACert) is refused with a
message naming the cause and the option that fixes it.
"""

import time

import pytest

import ghkit
from fake_github import FakeGitHub
from tlskit import make_ca, make_cert, server_context

DAY = 86400


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_cert(d, "good", "ca", "DNS:localhost,IP:127.0.0.1")
    make_cert(d, "elsewhere", "ca", "DNS:github.example.org")
    make_cert(d, "expired", "ca", "DNS:localhost,IP:127.0.0.1",
              start="20200101000000Z", end="20200102000000Z")
    (d / "not-pem.pem").write_text("this is no certificate\n")
    return d


@pytest.fixture
def https(pki):
    """https(cert_name) -> a started FakeGitHub over TLS with a small repo."""
    made = []

    def make(name="good"):
        gh = FakeGitHub(idle_timeout=300, tls=server_context(pki, name))
        made.append(gh.start())
        now = time.time()
        gh.add_issue(1, labels=["blocked"], created_at=now - 3 * DAY)
        gh.add_issue(2, state="closed", created_at=now - 3 * DAY,
                     closed_at=now - DAY, updated_at=now - DAY)
        gh.add_pr(3, body="Fixes #1", created_at=now - DAY)
        gh.add_commits(2)
        return gh

    yield make
    for gh in made:
        gh.stop()


@pytest.fixture
def start(tmp_path):
    made = []

    def make(gh, **conf):
        run = ghkit.Run(tmp_path / f"run{len(made)}", gh, **conf)
        made.append(run)
        return run.start()

    yield make
    for run in made:
        run.stop()
        print(f"--- {run.collectd.log_path} ---\n{run.collectd.log()[-3000:]}")


def test_sync_over_https_with_cacert(pki, https, start):
    gh = https("good")
    assert gh.url.startswith("https://127.0.0.1:")
    run = start(gh, extra=f'  CACert "{pki / "ca.pem"}"')
    doc = run.wait(lambda d: d["sync_state"] == "ok"
                   and d["github"]["cycles"] >= 3, timeout=40)
    assert doc["last_error"] is None
    assert doc["completion"]["total_issues"] == 2
    assert doc["completion"]["completed_issues"] == 1
    assert doc["github"]["open_pull_requests"] == 1
    assert gh.count(r"/issues$", 200) >= 1
    assert gh.count(r"/issues$", 304) >= 1  # ETags work over TLS too


FAILURES = [
    # id, certificate served, CACert, the cause and the fix expected
    ("no-cacert", "good", None,
     "not signed by a CA this host trusts: set CACert"),
    ("wrong-ca", "good", "other-ca.pem",
     "not signed by a CA this host trusts: set CACert"),
    ("expired", "expired", "ca.pem",
     "certificate has expired: it must be renewed on the server"),
    ("wrong-host", "elsewhere", "ca.pem",
     "does not name APIURL's host: put the host name the certificate names "
     "in APIURL"),
    ("unreadable-cacert", "good", "not-pem.pem",
     "CACert cannot be read as a PEM CA file"),
]


@pytest.mark.parametrize("served,cacert,hint", [f[1:] for f in FAILURES],
                         ids=[f[0] for f in FAILURES])
def test_tls_failures_name_cause_and_fix(pki, https, start, served, cacert,
                                         hint):
    gh = https(served)
    extra = f'  CACert "{pki / cacert}"' if cacert else ""
    # Timeout 10, not ghkit's 2 s: with no CACert libcurl loads the whole
    # system CA bundle, which took over 4 s under ASan (collectd runs with
    # fast_unwind_on_malloc=0 there: every malloc of OpenSSL unwinds) and
    # the first error was a connect timeout. A refusal returns at once.
    run = start(gh, extra=extra, timeout=10)
    doc = run.wait(lambda d: d["last_error"] is not None, timeout=30)
    assert hint in doc["last_error"], doc["last_error"]
    assert doc["last_error"].startswith(f"{gh.url}/repos/acme/widgets/issues")
    assert doc["sync_state"] == "never" and doc["last_sync"] is None
    assert hint in run.collectd.log()
    assert gh.requests_since(0) == []  # no request got through
