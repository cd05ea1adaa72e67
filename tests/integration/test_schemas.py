"""The JSON Schemas in schema/ are themselves valid, their examples pass, and
shape changes (a missing key, a wrong type, an unknown value, an extra key
where the contract is closed) fail. No daemon is started here."""

import copy
import json

import jsonschema
import pytest

import qfstack

SCHEMA_FILES = sorted((qfstack.SOURCE_DIR / "schema").glob("*.schema.json"))
NAMES = [p.name[:-len(".schema.json")] for p in SCHEMA_FILES]
# common.schema.json only holds $defs for the others; every other schema is
# one document and must show what it looks like.
DOCUMENTS = [n for n in NAMES if n != "common"]

# The documents schema/README.md defines so far; each needs a schema.
EXPECTED = {"agent", "agents-snapshot", "health", "status", "agent-status",
            "metrics", "error", "project-snapshot"}


def test_every_contract_document_has_a_schema():
    assert EXPECTED <= set(NAMES), f"missing: {EXPECTED - set(NAMES)}"


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name):
    schema = qfstack.schema(name)
    assert schema["$schema"] == \
        "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("name", NAMES)
def test_every_ref_resolves(name):
    resolver = qfstack.validator(name).resolver
    refs = sorted(set(_refs(qfstack.schema(name))))
    for ref in refs:
        url, target = resolver.resolve(ref)
        assert isinstance(target, dict), f"{ref} -> {url}: {target!r}"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_examples_validate(name):
    examples = qfstack.schema(name).get("examples")
    assert examples, f"{name}.schema.json has no examples"
    for example in examples:
        qfstack.validate(example, name)


def _first_example(name):
    return copy.deepcopy(qfstack.schema(name)["examples"][0])


def _set(doc, path, value):
    """Set doc[path...] = value; value DELETE removes the key."""
    *parents, last = path
    for key in parents:
        doc = doc[key]
    if value is DELETE:
        del doc[last]
    else:
        doc[last] = value


DELETE = object()

# (schema, path into its first example, new value or DELETE, why it fails)
BROKEN = [
    ("agent", ["name"], DELETE, "name is required"),
    ("agent", ["name"], "", "empty name"),
    ("agent", ["status"], "sleeping", "unknown status"),
    ("agent", ["status"], DELETE, "status is required"),
    ("agent", ["pid"], "4242", "pid as a string"),
    ("agent", ["pid"], 0, "pid 0"),
    ("agent", ["issue_number"], 12.5, "fractional issue number"),
    ("agent", ["last_activity"], "yesterday", "not a timestamp"),
    ("agent", ["task_started_at"], "2026-02-30T10:00:00Z", "no such date"),
    ("agents-snapshot", ["schema_version"], 2, "unknown schema version"),
    ("agents-snapshot", ["updated_at"], "2026-11-27T10:41:00+01:00",
     "not UTC"),
    ("agents-snapshot", ["counts", "dead"], DELETE, "a count is missing"),
    ("agents-snapshot", ["counts", "zombie"], 0, "unknown count"),
    ("agents-snapshot", ["counts", "total"], -1, "negative count"),
    ("agents-snapshot", ["agents", 0, "status"], "working",
     "reported status where the derived one belongs"),
    ("agents-snapshot", ["agents", 0, "liveness"], "maybe", "bad liveness"),
    ("agents-snapshot", ["agents", 0, "liveness"], "dead",
     "dead process but status active"),
    ("agents-snapshot", ["agents", 0, "pid"], None,
     "no pid but liveness alive"),
    ("agents-snapshot", ["agents", 0, "current_task"], DELETE,
     "absent optional field must be null, not missing"),
    ("agents-snapshot", ["agents", 0, "extra"], 1, "unknown agent field"),
    ("agents-snapshot", ["invalid_files", 0, "error"], DELETE,
     "invalid file without its error"),
    ("health", ["status"], "ok", "unknown status"),
    ("health", ["reason"], "collectd unreachable: x",
     "healthy with a reason"),
    ("health", ["collectd", "connected"], False,
     "healthy but disconnected"),
    ("health", ["swarm_id"], "has space", "swarm id with a space"),
    ("health", ["collectd", "age_seconds"], DELETE, "age missing"),
    ("health", ["uptime"], 1, "unknown top-level field"),
    ("status", ["success"], False, "success must be true"),
    ("status", ["cpu"], "12%", "cpu as a string"),
    ("status", ["cpu"], 140, "cpu over 100 percent"),
    ("status", ["agents", "active"], DELETE, "flat agents.active missing"),
    ("status", ["data", "stale"], True, "stale but status online"),
    ("status", ["data", "resources", "load_1"], DELETE, "load_1 missing"),
    ("status", ["data", "resources", "swap_percent"], 1.0,
     "unknown resource"),
    ("status", ["data", "system", "hostname"], None, "hostname null"),
    ("status", ["data", "agents", "by_status", "dead"], DELETE,
     "a status count missing"),
    ("status", ["data", "agents", "agent_list", 0, "status"], "zombie",
     "unknown derived status in agent_list"),
    ("status", ["data", "timestamp"], 1764240000, "epoch timestamp"),
    ("agent-status", ["data", "running"], "yes", "running must be a boolean"),
    ("agent-status", ["data", "exporter_running"], False,
     "exporter_running must be true"),
    ("agent-status", ["data", "exporter_running"], DELETE,
     "exporter_running missing"),
    # The earlier agent's fields (issue 15): present, with its types.
    ("status", ["data", "system", "python_version"], "3.11.0",
     "a made-up python_version"),
    ("status", ["data", "system", "python_version"], DELETE,
     "python_version missing"),
    ("status", ["data", "agents", "agents_status"], DELETE,
     "agents_status missing"),
    ("status", ["data", "agents", "agents_status"], {},
     "agents_status must be a list"),
    ("status", ["data", "agents", "agents_status", 0, "status"], DELETE,
     "an agents_status entry without its status"),
    ("status", ["data", "github", "enabled"], DELETE, "github.enabled missing"),
    ("status", ["data", "github", "open_prs"], DELETE, "open_prs missing"),
    ("status", ["data", "github"], {}, "no repository must be enabled false"),
    ("status", ["data", "github"], {"enabled": True},
     "enabled without the figures"),
    ("status", ["data", "project", "velocity_trend"], "stable",
     "velocity_trend as a word"),
    ("status", ["data", "project", "issues_requiring_human_intervention"],
     DELETE, "the flagged list missing from the project section"),
    ("metrics", ["data", "project", "velocity_trend"], DELETE,
     "velocity_trend missing"),
    ("heartbeat-body", ["project", "velocity_trend"], "increasing",
     "velocity_trend as a word in the heartbeat"),
    ("heartbeat-body", ["system", "python_version"], "3.11.0",
     "a made-up python_version in the heartbeat"),
    ("heartbeat-body", ["github", "enabled"], DELETE,
     "github.enabled missing in the heartbeat"),
    ("heartbeat-body", ["agents", "agents_status"], [{"name": "a", "x": 1}],
     "unknown field in an agents_status entry"),
    ("agent-status", ["data", "api_port"], 70000, "port out of range"),
    ("agent-status", ["data", "heartbeat"], {"running": True},
     "partial heartbeat section"),
    ("agent-status", ["data", "github"], {"repository": "no-slash",
                                          "last_sync": None,
                                          "last_error": None},
     "repository without owner"),
    ("agent-status", ["data", "collectd", "last_refresh"], "now",
     "bad timestamp"),
    ("metrics", ["data", "github"], [], "github must be an object"),
    ("metrics", ["data", "agents"], DELETE, "agents section missing"),
    ("metrics", ["data", "resources", "disk_percent"], -1,
     "negative percent"),
    ("project-snapshot", ["github", "sync_complete"], DELETE,
     "a github field missing"),
    ("project-snapshot", ["completion", "completion_percentage"], 101,
     "completion over 100"),
    ("project-snapshot", ["velocity", "daily"], [1, 2, 3], "not 7 days"),
    ("project-snapshot", ["velocity", "trend"], "up", "unknown trend"),
    ("project-snapshot", ["issues", 0, "priority"], "urgent",
     "unknown priority"),
    ("project-snapshot", ["issues", 0, "trigger"], "human_label",
     "a review trigger with priority critical"),
    ("project-snapshot", ["issues", 0, "reason"], None,
     "flagged without a reason"),
    ("project-snapshot", ["issues", 1, "priority"], "review",
     "priority on an unflagged issue"),
    ("project-snapshot", ["issues", 1, "triggers"], ["human_label"],
     "triggers on an unflagged issue"),
    ("project-snapshot", ["issues", 2, "status"], "ready",
     "closed but not done"),
    ("project-snapshot", ["issues", 0, "pull_requests"], ["130"],
     "pull request number as a string"),
    ("project-snapshot", ["estimated_completion_date"], "2026-12-11T00:00:00Z",
     "a timestamp where a date belongs"),
    ("error", ["success"], True, "errors are success false"),
    ("error", ["error"], "", "empty message"),
    ("error", ["data"], {}, "unknown field"),
]


@pytest.mark.parametrize("name,path,value,why", BROKEN,
                         ids=[f"{b[0]}:{b[3]}" for b in BROKEN])
def test_broken_instances_fail(name, path, value, why):
    doc = _first_example(name)
    qfstack.validate(doc, name)  # the unbroken example passes
    _set(doc, path, value)
    with pytest.raises(AssertionError) as info:
        qfstack.validate(doc, name)
    assert f"{name}.schema.json" in str(info.value), why


def test_registry_file_allows_unknown_fields():
    doc = _first_example("agent")
    doc["model"] = "claude"
    doc["nested"] = {"anything": [1, 2, 3]}
    qfstack.validate(doc, "agent")


def test_harness_helpers_produce_valid_agent_files(tmp_path):
    path = qfstack.write_agent(tmp_path, "Agent-9", status="working", pid=1,
                               issue_number=9)
    qfstack.validate(json.loads(path.read_text()), "agent")
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


def test_validation_error_names_the_path():
    doc = _first_example("status")
    doc["data"]["resources"]["cpu_percent"] = "high"
    with pytest.raises(AssertionError, match=r"\$\.data\.resources\."
                       r"cpu_percent"):
        qfstack.validate(doc, "status")


def test_heartbeat_section_is_the_snapshot_without_schema_version():
    """/agent/status (and /status, /metrics) carry heartbeat.json minus
    schema_version, member for member as heartbeat-snapshot defines it."""
    doc = copy.deepcopy(qfstack.schema("agent-status")["examples"][1])
    section = doc["data"]["heartbeat"]
    assert section, "the second example carries a heartbeat section"
    snapshot = dict(section, schema_version=1)
    qfstack.validate(snapshot, "heartbeat-snapshot")
    qfstack.validate(doc, "agent-status")
    section["backends"][0]["url"] = "https://user:secret@backend.example/x"
    with pytest.raises(AssertionError, match="backends"):
        qfstack.validate(doc, "agent-status")
    section["backends"][0]["url"] = "https://backend.example/x"
    section["schema_version"] = 1
    with pytest.raises(AssertionError):
        qfstack.validate(doc, "agent-status")


@pytest.mark.parametrize("name,path", [
    ("health", ["swarm_id"]), ("status", ["data", "swarm_id"]),
    ("agent-status", ["data", "swarm_id"]), ("metrics", ["data", "swarm_id"])])
def test_every_exporter_document_allows_a_null_swarm_id(name, path):
    """The exporter serves swarm_id null in all four while no id is known
    (render.c writes the same field for each): every schema says so."""
    doc = _first_example(name)
    _set(doc, path, None)
    qfstack.validate(doc, name)
    _set(doc, path, 7)
    with pytest.raises(AssertionError):
        qfstack.validate(doc, name)
