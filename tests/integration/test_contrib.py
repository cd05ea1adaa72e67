"""contrib/ examples: the agent registry files load in the real
qiflow_agents plugin, the Prometheus scrape configuration is valid, and the
annotated collectd.conf fragment names every option our plugins accept.

(The fragment itself is loaded into collectd with the packaged plugins by
test_package.py, and the systemd unit is verified there.)
"""

import json
import re
import shutil
import subprocess

import pytest

import qfstack

CONTRIB = qfstack.SOURCE_DIR / "contrib"
PLUGIN_SOURCES = qfstack.SOURCE_DIR / "collectd-plugins"


def example_agents():
    return sorted((CONTRIB / "agents").glob("*.json"))


@pytest.mark.parametrize("path", example_agents(), ids=lambda p: p.name)
def test_example_agent_files_match_the_schema(path):
    qfstack.validate(json.loads(path.read_text()), "agent")


def test_example_agents_load_in_qiflow_agents(stack_factory):
    if not (qfstack.BUILD_DIR / "plugins" / "qiflow_agents.so").exists():
        pytest.skip("qiflow_agents.so not built")
    stack = stack_factory(start=False, process_check=False,
                          stale_after=10 ** 8)
    for path in example_agents():
        (stack.agent_dir / path.name).write_bytes(path.read_bytes())
    stack.start(exporter=False)
    doc = qfstack.validate(stack.wait_reads(1), "agents-snapshot")
    assert doc["counts"]["total"] == len(example_agents())
    assert doc["counts"]["invalid"] == 0, doc["invalid_files"]
    statuses = {a["name"]: a["status"] for a in doc["agents"]}
    assert statuses == {"Agent-1": "active", "Agent-2": "idle",
                        "Agent-3": "blocked"}


def test_scrape_config_is_valid():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((CONTRIB / "prometheus" / "scrape.yml").read_text())
    (job,) = doc["scrape_configs"]
    assert job["job_name"] == "qiflow" and job["metrics_path"] == "/metrics"
    for target in job["static_configs"][0]["targets"]:
        assert re.fullmatch(r"[\w.-]+:\d+", target), target
    if shutil.which("promtool"):
        res = subprocess.run(["promtool", "check", "config",
                              str(CONTRIB / "prometheus" / "scrape.yml")],
                             capture_output=True, text=True, timeout=60,
                             check=False)
        assert res.returncode == 0, res.stdout + res.stderr


def plugin_keys(name):
    """Option names the plugin's glue compares config keys against."""
    sources = [PLUGIN_SOURCES / f"qiflow_{name}.c"] + \
        sorted(PLUGIN_SOURCES.glob(f"{name}_config*.c"))
    keys = set()
    for source in sources:
        if source.exists():
            keys |= set(re.findall(r'strcasecmp\(\s*"([A-Za-z]+)"',
                                   source.read_text()))
    return keys


@pytest.mark.parametrize("name", ["agents", "github", "heartbeat"])
def test_fragment_documents_every_option(name):
    keys = plugin_keys(name)
    if not keys:
        pytest.skip(f"qiflow_{name}.c not written yet")
    text = (CONTRIB / "collectd" / "qiflow.conf").read_text()
    block = re.search(rf"<Plugin qiflow_{name}>(.*?)\n</Plugin>", text,
                      re.S).group(1)
    written = set(re.findall(r"^\s*#?\s*<?([A-Z][A-Za-z]+)[\s>]", block,
                             re.M))
    missing = keys - written
    assert not missing, f"qiflow_{name} options missing from " \
        f"contrib/collectd/qiflow.conf: {sorted(missing)}"


# ---------------------------------------------------------------- Grafana

DASHBOARD = CONTRIB / "grafana" / "qiflow-dashboard.json"
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", re.M)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')


def dashboard_exprs():
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def test_dashboard_layout():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] == "QiFlow swarm"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    boxes = []
    for p in doc["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        for other_title, o in boxes:
            overlap = (g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"]
                       and g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"])
            assert not overlap, f"{p['title']!r} overlaps {other_title!r}"
        boxes.append((p["title"], g))
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p["targets"], p["title"]
    variables = {v["name"] for v in doc["templating"]["list"]}
    assert variables == {"datasource", "swarm", "instance"}
    for expr in dashboard_exprs():
        assert 'instance=~"$instance"' in expr, expr


def scrape_families(text):
    """{sample name: set of label names} of a Prometheus text exposition."""
    families = {}
    for name, labels in SAMPLE_RE.findall(text):
        families.setdefault(name, set()).update(LABEL_RE.findall(labels))
    return families


def test_dashboard_queries_name_what_the_exporter_exposes(stack_factory):
    """Every metric and `by (...)` label of the dashboard's queries appears
    in a real scrape (snapshots: the schema examples)."""
    for part in ("plugins/qiflow_agents.so", "bin/qiflow-exporter"):
        if not (qfstack.BUILD_DIR / part).exists():
            pytest.skip(f"{part} not built")
    stack = stack_factory(start=False)
    for name in ("project", "heartbeat"):
        example = qfstack.schema(f"{name}-snapshot")["examples"][0]
        (stack.state_dir / f"{name}.json").write_text(json.dumps(example))
    stack.write_agent("Agent-1")
    stack.start()

    def scrape():
        resp = stack.exporter.get("/metrics?format=prometheus")
        families = scrape_families(resp.text)
        return families if "qiflow_cpu_usage_ratio" in families and \
            "qiflow_project_flagged_issues" in families else None
    families = qfstack.wait_until(scrape, 20, 0.2,
                                  "a scrape with cpu and project figures")
    missing = set()
    for expr in dashboard_exprs():
        for metric in re.findall(r"\bqiflow_[a-z0-9_]+", expr):
            if metric not in families:
                missing.add(metric)
        for labels, metric in re.findall(
                r"by \(([a-z_, ]+)\) \((?:rate|increase)?\(?(qiflow_[a-z0-9_]+)",
                expr):
            for label in (l.strip() for l in labels.split(",")):
                assert label in families.get(metric, {label}), \
                    f"{metric} has no label {label}: {expr}"
    assert not missing, f"dashboard queries metrics the exporter does " \
        f"not expose: {sorted(missing)}"
