"""qiflow_heartbeat to a backend over HTTPS and mutual TLS: the fake
backend (tests/integration/fake_backend.py, unchanged) has its listening
socket wrapped with ssl here; certificates come from a throwaway CA made by
openssl (tlskit). Shows delivery with CACert, delivery with a client
certificate (ClientCert/ClientKey) to a backend that requires one, and what
the plugin logs when the backend is not trusted or the client certificate
is missing: libcurl's cause, then the cause in words and the <Backend> key
that fixes it (libqiflow's qf_http_tls_hint, shared with qiflow_github).
"""


import pytest

import qfsanitize

import qfstack
from fake_backend import FakeBackend, HEARTBEAT_PATH
from tlskit import make_ca, make_cert, server_context

SWARM = "swarm-tls-1"
KEY = "test-key-tls"


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch):
    monkeypatch.delenv("QIFLOW_API_KEY", raising=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_ca(d, "client-ca")
    make_cert(d, "server", "ca", "DNS:localhost,IP:127.0.0.1")
    make_cert(d, "client", "client-ca", "DNS:qiflow-agent",
              usage="clientAuth")
    return d


@pytest.fixture
def backend(pki):
    """backend(mutual) -> a started FakeBackend served over TLS (with a
    required client certificate when mutual) and its https URL."""
    made = []

    def make(mutual=False):
        fake = FakeBackend(api_keys=[KEY], swarms=[SWARM]).start()
        made.append(fake)
        ctx = server_context(pki, "server",
                             client_ca="client-ca" if mutual else None)
        # The serving thread accepts on the same descriptor; the handshake
        # runs on the first read, in the request's thread.
        fake._server.socket = ctx.wrap_socket(  # pylint: disable=protected-access
            fake._server.socket, server_side=True,  # pylint: disable=protected-access
            do_handshake_on_connect=False)
        return fake, f"https://127.0.0.1:{fake.port}{HEARTBEAT_PATH}"

    yield make
    for fake in made:
        fake.stop()


def start_collectd(root, url, **options):
    lines = [f'  <Backend "central">', f'    URL "{url}"',
             f'    APIKey "{KEY}"', "    Timeout 2", "    Retries 1",
             "    RetryDelay 0.3", "    RequestLimit 0"]
    lines += [f'    {k} "{v}"' for k, v in options.items()]
    lines.append("  </Backend>")
    conf = f"""
LoadPlugin qiflow_heartbeat
<Plugin qiflow_heartbeat>
  SwarmID "{SWARM}"
  Interval 1
  StateDir "{root / 'state'}"
  LogDir "{root / 'log'}"
{chr(10).join(lines)}
</Plugin>
"""
    collectd = qfstack.Collectd(root / "collectd", conf, interval=1)
    collectd.start()
    return collectd


@pytest.fixture
def collectds():
    made = []

    def make(root, url, **options):
        c = start_collectd(root, url, **options)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
        print(f"--- {c.log_path} ---\n{c.log()[-3000:]}")


def test_delivery_over_https_with_cacert(pki, backend, collectds, tmp_path):
    fake, url = backend()
    c = collectds(tmp_path, url, CACert=pki / "ca.pem")
    assert fake.wait_for(lambda f: len(f.delivered()) >= 2, 20), c.log()[-2000:]
    assert fake.statuses()[:2] == [200, 200]


def test_mutual_tls_with_client_certificate(pki, backend, collectds,
                                            tmp_path):
    fake, url = backend(mutual=True)
    c = collectds(tmp_path, url, CACert=pki / "ca.pem",
              ClientCert=pki / "client.pem", ClientKey=pki / "client.key")
    assert fake.wait_for(lambda f: len(f.delivered()) >= 2, 20), c.log()[-2000:]
    body = fake.delivered()[0]
    assert body["swarm_id"] == SWARM


REFUSALS = [
    ("untrusted-server", False, {"CACert": "other-ca.pem"},
     "unable to get local issuer certificate",
     "not signed by a CA this host trusts: set CACert to the file of the CA"),
    ("no-client-certificate", True, {"CACert": "ca.pem"},
     "alert certificate required",
     "the server requires a client certificate: set ClientCert and "
     "ClientKey"),
    ("client-certificate-of-another-ca", True,
     {"CACert": "ca.pem", "ClientCert": "server.pem",
      "ClientKey": "server.key"},
     "alert unknown ca",
     "the server refused the client certificate: set ClientCert to one "
     "signed by a CA the server trusts"),
]

# Under TLS 1.3 the server refuses a client certificate after the client's
# Finished, sends its alert and closes; the fake (like nginx) closes with
# the request unread, which resets the connection. A client slower to write
# its request than the server to reset never reads the alert: it logs
# "Broken pipe" or "getpeername() failed". Under ASan collectd runs with
# fast_unwind_on_malloc=0 (tests/sanitize/collectd-asan), every malloc of
# libcurl and OpenSSL unwinds the stack, and the client loses that race on
# every attempt (seen 3 of 3 runs, after the connection reuse of 9744b28's
# note was fixed). The wording of those two refusals is checked without
# ASan; the untrusted-server case, refused by the client, runs under both.
POST_HANDSHAKE = {"no-client-certificate",
                  "client-certificate-of-another-ca"}


@pytest.mark.parametrize("mutual,options,cause,fix", [
    pytest.param(*r[1:], id=r[0], marks=pytest.mark.skipif(
        qfsanitize.ACTIVE and r[0] in POST_HANDSHAKE,
        reason="TLS 1.3 post-handshake refusal: the ASan-slowed client "
               "loses the race with the server's reset"))
    for r in REFUSALS])
def test_tls_refusals_deliver_nothing(pki, backend, collectds, tmp_path,
                                      mutual, options, cause, fix):
    fake, url = backend(mutual=mutual)
    c = collectds(tmp_path, url,
                  **{k: pki / v for k, v in options.items()})
    qfstack.wait_until(lambda: "central" in c.log() and (
        "SSL" in c.log() or "TLS" in c.log() or "certificate" in c.log()),
        20, 0.1, f"a TLS failure in the log:\n{c.log()[-2000:]}")
    # Under TLS 1.3 a server refuses a client certificate after the
    # client's Finished and closes: an attempt whose request is written
    # after that close ends in a write error (EPIPE) before the alert is
    # read, and one of the next attempts (once a second) names the alert.
    # So: wait, bounded, for the cause and its fix to be named; nothing is
    # ever delivered meanwhile.
    qfstack.wait_until(lambda: cause in c.log() and fix in c.log(), 15, 0.2,
                       f"{cause!r} and its fix in the log")
    assert fake.delivered() == []
    # libcurl keeps a connection whose write failed; qf_http drops it
    # after every failure. Written to again, the dead TLS session gives
    # "bad write retry" on every later attempt and the alert is never read
    # (the ASan failure of 9744b28).
    assert "bad write retry" not in c.log()
