"""The central backend's poller can read a token-protected exporter (issue
13, "The poller must be able to read us"), end to end with the real collectd
and the real exporter over HTTP:

- the poller's exact request (../shared/reference/central-backend.md: GET
  host_url + "/status", then host_url + "/project/completion", no
  Authorization header, only Content-Type: application/json, 5 s timeout)
  gets 200 and JSON from a client in an --open-read network while
  --auth-token-file protects every other endpoint (401 without the token);
- without --open-read, or from a client outside the networks (10.0.0.0/8
  excludes 127.0.0.1; ::1 is outside 127.0.0.0/8), the poller gets 401;
- X-Forwarded-For does not move a client into a network;
- a host_url registered with a trailing slash ("//status",
  "///project//completion") reaches the same endpoints; an escaped "/"
  (%2F) is neither merged nor decoded into a route.

Servers listen on loopback only (127.0.0.1, and ::1 for the IPv6 case);
every wait is bounded.
"""

import socket
import subprocess

import pytest

import qfstack
from qfstack import validate, wait_until

WAIT = 15.0
TOKEN = "poller-" + "0123456789abcdef" * 2
POLLER_HEADERS = {"Content-Type": "application/json"}
CLOSED = ["/agent/status", "/project/issues", "/metrics"]


def poll(host_url, path, headers=None):
    """One request as the backend's poller sends it: the URL is string
    concatenation, the only header Content-Type (http.client adds Host and
    Accept-Encoding as every client does), 5 s timeout."""
    return qfstack.http("GET", host_url + path,
                        headers=dict(headers or POLLER_HEADERS), timeout=5)


def write_token(path):
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """collectd with qiflow_agents, and an exporter that requires the token
    except for /status and /project/completion from 127.0.0.0/8."""
    root = tmp_path_factory.mktemp("poller")
    token = write_token(root / "token")
    s = qfstack.Stack(root, exporter_args=["--auth-token-file", str(token),
                                           "--open-read", "127.0.0.0/8"])
    qfstack.write_agent(s.agent_dir, "Agent-1", status="active")
    with s:
        wait_until(lambda: poll(s.exporter.url, "/status").status == 200,
                   WAIT, 0.2, "/status open to the poller")
        yield s


@pytest.fixture
def another(stack, tmp_path):
    """make(args, host) -> a second exporter on the stack's collectd with
    the token and args; stopped at teardown."""
    made = []

    def make(args, host="127.0.0.1"):
        exporter = qfstack.Exporter(
            stack.collectd.socket, stack.state_dir, host=host,
            extra_args=["--auth-token-file",
                        str(write_token(tmp_path / "token"))] + args,
            log_path=tmp_path / f"exporter{len(made)}.log")
        made.append(exporter)
        return exporter.start()

    yield make
    for exporter in made:
        exporter.stop()


def test_the_poller_reads_status_and_completion_without_a_token(stack):
    status = poll(stack.exporter.url, "/status")
    assert status.status == 200, status
    body = validate(status.json(), "status")
    assert body["success"] is True
    # The flat fields the poller reads (central-backend.md).
    assert body["status"] in ("online", "offline", "degraded"), body
    completion = poll(stack.exporter.url, "/project/completion")
    assert completion.status == 200, completion
    validate(completion.json(), "project-completion")
    head = qfstack.http("HEAD", stack.exporter.url + "/status",
                        headers=POLLER_HEADERS)
    assert head.status == 200 and head.body == b"", head
    log = stack.exporter.log()
    assert "GET /status and /project/completion need no token from " \
        "127.0.0.0/8 (--open-read" in log, log


@pytest.mark.parametrize("path", CLOSED + ["/health-check", "/"])
def test_every_other_endpoint_still_needs_the_token(stack, path):
    res = poll(stack.exporter.url, path)
    assert res.status == 401, res
    assert res.headers["www-authenticate"].startswith("Bearer"), res.headers
    validate(res.json(), "error")
    with_token = poll(stack.exporter.url, path,
                      dict(POLLER_HEADERS,
                           Authorization=f"Bearer {TOKEN}"))
    assert with_token.status in (200, 404), with_token
    assert with_token.status == 200 or path not in CLOSED, with_token


def test_a_wrong_method_is_still_refused(stack):
    res = qfstack.http("POST", stack.exporter.url + "/status",
                       headers=POLLER_HEADERS, body=b"{}")
    assert res.status == 405, res
    assert res.headers["allow"] == "GET, HEAD, OPTIONS", res.headers


def test_a_trailing_slash_in_host_url_reaches_the_same_endpoints(stack):
    host_url = stack.exporter.url + "/"  # as registered by an operator
    for path in ("/status", "/project/completion"):
        res = poll(host_url, path)
        assert res.status == 200, (path, res)
    assert poll(stack.exporter.url, "///project//completion").status == 200
    assert poll(stack.exporter.url, "//status?x=1").status == 200
    # Merged slashes are no way around the token.
    assert poll(stack.exporter.url, "//agent//status").status == 401
    authorised = dict(POLLER_HEADERS, Authorization=f"Bearer {TOKEN}")
    res = poll(stack.exporter.url, "//agent//status", authorised)
    assert res.status == 200, res
    validate(res.json(), "agent-status")


@pytest.mark.parametrize("path", ["/project%2Fcompletion", "/%2Fstatus",
                                  "/project%2F%2Fcompletion",
                                  "/project%2f/completion"])
def test_an_escaped_slash_is_neither_merged_nor_decoded(stack, path):
    # Not an open route: without the token, 401 like any unknown path.
    assert poll(stack.exporter.url, path).status == 401
    authorised = dict(POLLER_HEADERS, Authorization=f"Bearer {TOKEN}")
    res = poll(stack.exporter.url, path, authorised)
    assert res.status == 404, res
    error = validate(res.json(), "error")["error"]
    if path != "/%2Fstatus":
        assert "%2F" in error and "not a path separator" in error, error


def test_an_escaped_unreserved_character_still_routes(stack):
    res = poll(stack.exporter.url, "/st%61tus")
    assert res.status == 200, res


def test_without_open_read_the_poller_gets_401(another):
    exporter = another([])
    for path in ("/status", "/project/completion"):
        res = poll(exporter.url, path)
        assert res.status == 401, (path, res)
        validate(res.json(), "error")
    assert "need no token" not in exporter.log()


def test_a_client_outside_the_networks_gets_401(another):
    exporter = another(["--open-read", "10.0.0.0/8", "--open-read",
                        "::1/128"])
    for path in ("/status", "/project/completion", "//status"):
        assert poll(exporter.url, path).status == 401, path
    authorised = dict(POLLER_HEADERS, Authorization=f"Bearer {TOKEN}")
    assert poll(exporter.url, "/status", authorised).status == 200


def test_x_forwarded_for_is_not_trusted(another):
    exporter = another(["--open-read", "10.0.0.0/8"])
    res = poll(exporter.url, "/status",
               dict(POLLER_HEADERS, **{"X-Forwarded-For": "10.1.2.3",
                                       "X-Real-IP": "10.1.2.3",
                                       "Forwarded": "for=10.1.2.3"}))
    assert res.status == 401, res


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_clients_match_ipv6_networks_only(another):
    outside = another(["--open-read", "127.0.0.0/8"], host="[::1]")
    assert outside.url.startswith("http://[::1]:"), outside.url
    assert poll(outside.url, "/status").status == 401
    inside = another(["--open-read", "127.0.0.0/8", "--open-read", "::1"],
                     host="[::1]")
    assert poll(inside.url, "/status").status == 200
    assert poll(inside.url, "/metrics").status == 401


def test_bad_networks_stop_the_start_naming_the_fix(tmp_path):
    token = write_token(tmp_path / "token")
    exporter = qfstack.BUILD_DIR / "bin" / "qiflow-exporter"
    cases = [
        (["--auth-token-file", str(token), "--open-read", "10.1.2.3/8"],
         "write 10.0.0.0/8 for that network"),
        (["--auth-token-file", str(token), "--open-read", "backend.example"],
         "names are not resolved"),
        (["--open-read", "127.0.0.0/8"], "needs --auth-token-file"),
    ]
    for args, says in cases:
        res = subprocess.run([str(exporter), "--listen",
                              f"127.0.0.1:{qfstack.free_port()}", *args],
                             capture_output=True, text=True, timeout=10,
                             check=False)
        assert res.returncode == 2, (args, res)
        assert "--open-read" in res.stderr and says in res.stderr, res.stderr
