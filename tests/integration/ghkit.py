"""ghkit: what the GitHub-realism tests share: GitHub's OpenAPI description
(the pinned npm package @octokit/openapi, fetched by contrib/dev.sh), a
checker of requests against its paths and parameters, and a qiflow_github
run (the real collectd) against tests/integration/fake_github.py.
"""

import json
import os
import re
import urllib.parse
from pathlib import Path

import pytest

import qfstack
from fake_github import FakeGitHub

OPENAPI_VERSION = "23.0.2"
OPENAPI_NAME = f"@octokit/openapi@{OPENAPI_VERSION}"
# per_page's maximum is in the parameter's prose, not its schema.
PER_PAGE_MAX = 100

# Headers api.github.com sends with every answer besides the fake's own
# (ETag, x-ratelimit-*, Cache-Control, Vary, Content-Type, Link).
GITHUB_HEADERS = {
    "X-GitHub-Media-Type": "github.v3; format=json",
    "X-GitHub-Request-Id": "C0DE:1F2E:3D4C:5B6A:7980A1B2",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "deny",
    "Strict-Transport-Security": "max-age=31536000; includeSubdomains; "
                                 "preload",
    "Access-Control-Allow-Origin": "*",
}


def openapi_path():
    """Where contrib/dev.sh keeps the description (QF_OPENAPI_JSON wins)."""
    env = os.environ.get("QF_OPENAPI_JSON")
    if env:
        return Path(env)
    return (qfstack.SOURCE_DIR / "build-deps" / f"openapi-{OPENAPI_VERSION}"
            / "api.github.com.json")


_DESCRIPTION = None


def description():
    """GitHub's OpenAPI description, parsed once. Skips the test when it
    was never fetched, except under CI (CI set), where that fails."""
    global _DESCRIPTION  # pylint: disable=global-statement
    if _DESCRIPTION is None:
        path = openapi_path()
        if not path.is_file():
            why = (f"GitHub's OpenAPI description ({OPENAPI_NAME}) is not at "
                   f"{path}: contrib/dev.sh test fetches it with npm")
            if os.environ.get("CI"):
                pytest.fail(why)
            pytest.skip(why)
        with open(path, encoding="utf-8") as f:
            _DESCRIPTION = json.load(f)
    return _DESCRIPTION


def _deref(doc, node):
    """node with every "$ref" followed inside doc."""
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def example(path, code="200", method="get", name=None):
    """The example body the description gives for path's answer code (the
    first one unless name is given), unchanged."""
    d = description()
    resp = _deref(d, d["paths"][path][method]["responses"][code])
    examples = resp["content"]["application/json"]["examples"]
    ex = examples[name] if name else next(iter(examples.values()))
    return _deref(d, ex)["value"]


def component_example(name):
    return description()["components"]["examples"][name]["value"]


def _templates():
    d = description()
    out = []
    for tmpl, item in d["paths"].items():
        rx = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(tmpl)))
        out.append((tmpl.count("{"), tmpl, rx, item))
    out.sort(key=lambda t: t[0])  # the most literal template first
    return out


def _value_ok(schema, value):
    """Does the query string value fit the parameter's schema?"""
    kind = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        return False
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return False
        n = int(value)
        return (n >= schema.get("minimum", n)
                and n <= schema.get("maximum", n))
    if kind == "boolean":
        return value in ("true", "false")
    if schema.get("format") == "date-time":
        return bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value))
    return kind in (None, "string")


def undocumented(method, path, query, owner="octocat", repo="Hello-World"):
    """Why GitHub's description does not document this request (None when
    it does). Link URLs of the /repositories/{id}/ form stand for
    /repos/{owner}/{repo}/ (GitHub's pagination guide)."""
    m = re.fullmatch(r"/repositories/\d+/(.*)", path)
    if m:
        path = f"/repos/{owner}/{repo}/{m.group(1)}"
    d = description()
    for _, tmpl, rx, item in _templates():
        if not rx.fullmatch(path):
            continue
        op = item.get(method.lower())
        if op is None:
            return f"{method} {tmpl}: method not documented"
        params = {}
        for p in op.get("parameters", []):
            p = _deref(d, p)
            if p["in"] == "query":
                params[p["name"]] = p.get("schema", {})
        for key, value in urllib.parse.parse_qsl(query,
                                                 keep_blank_values=True):
            if key not in params:
                return f"{method} {tmpl}: query parameter {key!r} " \
                       f"not documented"
            if not _value_ok(params[key], value):
                return f"{method} {tmpl}: {key}={value!r} does not fit " \
                       f"{params[key]}"
            if key == "per_page" and int(value) > PER_PAGE_MAX:
                return f"{method} {tmpl}: per_page={value} over GitHub's " \
                       f"maximum {PER_PAGE_MAX}"
        return None
    return f"{method} {path}: no such path in GitHub's description"


@pytest.fixture
def gh():
    """A fake GitHub on 127.0.0.1, stopped after the test (a test module
    imports this fixture: from ghkit import gh)."""
    fake = FakeGitHub(idle_timeout=300).start()
    yield fake
    fake.stop()


def plugin_conf(gh, state_dir, token="t0ken-for-tests", interval=1,
                timeout=2, **options):
    """qfstack's github_conf with these tests' defaults: a token, every
    second, a 2 s timeout; options: its extra, url, repository."""
    return qfstack.github_conf(gh, state_dir, token=token, interval=interval,
                               timeout=timeout, **options)


class Run:
    """collectd with qiflow_github against a fake GitHub, under workdir."""

    def __init__(self, workdir, gh, **conf):
        self.gh = gh
        self.state_dir = Path(workdir) / "state"
        self.collectd = qfstack.Collectd(
            Path(workdir) / "collectd",
            plugin_conf(gh, self.state_dir, **conf), interval=10)
        self.project_path = self.state_dir / "project.json"

    def start(self):
        self.collectd.start()
        return self

    def stop(self):
        self.collectd.stop()

    def evidence(self, tail=4000):
        """collectd.log's tail, headed by its path (printed at teardown:
        pytest shows it when the test fails)."""
        log = self.collectd.log()
        return f"--- {self.collectd.log_path} ---\n{log[-tail:]}"

    def project(self, validate=True):
        """project.json, validated against its schema (None before it)."""
        doc = qfstack.read_json(self.project_path)
        if doc is not None and validate:
            qfstack.validate(doc, "project-snapshot")
        return doc

    def wait(self, predicate, timeout=30, message=""):
        """Poll project.json until predicate(doc) holds; return that
        document, validated against its schema (the polls before it are not
        validated: 5,000 issues take a while)."""
        def check():
            doc = self.project(validate=False)
            return doc if doc is not None and predicate(doc) else None
        try:
            doc = qfstack.wait_until(check, timeout, 0.05, message)
        except qfstack.WaitTimeout as exc:
            raise AssertionError(
                f"{exc}\nproject.json: "
                f"{str(self.project(validate=False))[:1500]}\n"
                f"--- collectd.log ---\n{self.collectd.log()[-3000:]}"
            ) from None
        return qfstack.validate(doc, "project-snapshot")

    def wait_log(self, needle, timeout=30):
        return qfstack.wait_until(
            lambda: needle in self.collectd.log(), timeout, 0.05,
            f"{needle!r} in collectd.log:\n{self.collectd.log()[-3000:]}")

    def log_count(self, needle):
        return self.collectd.log().count(needle)
