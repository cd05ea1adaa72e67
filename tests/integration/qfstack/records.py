"""The JSON files the parts exchange: agent registry documents (written
atomically, as a swarm should), snapshots read back, and their ISO 8601
timestamps."""

import datetime
import json
import os
from pathlib import Path


def iso_time(offset_seconds=0.0):
    """ISO 8601 UTC timestamp ("2026-11-27T10:41:00Z") now + offset."""
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    """Epoch seconds of an ISO 8601 timestamp, None for None."""
    if text is None:
        return None
    return datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp()


def agent_doc(name, status="active", pid=None, current_task=None,
              issue_number=None, task_started_at=None, last_activity=None,
              **extra):
    """An agent registry document (schema/agent.schema.json). Defaults give a
    fresh agent: task started 10 min ago, active now. Fields passed as None
    are omitted (they are optional in the registry)."""
    doc = {
        "name": name,
        "status": status,
        "current_task": current_task if current_task is not None
        else f"Task of {name}",
        "issue_number": issue_number,
        "task_started_at": task_started_at or iso_time(-600),
        "last_activity": last_activity or iso_time(),
        "pid": pid,
    }
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


def write_agent(agent_dir, name, filename=None, raw=None, **fields):
    """Write one registry file atomically (temp file + rename, as a swarm
    should) and return its path. `raw` (str or bytes) replaces the JSON
    document to write broken content; otherwise agent_doc(name, **fields)."""
    agent_dir = Path(agent_dir)
    agent_dir.mkdir(parents=True, exist_ok=True)
    path = agent_dir / (filename or f"{name.lower()}.json")
    if raw is None:
        data = json.dumps(agent_doc(name, **fields), indent=2).encode()
    else:
        data = raw.encode() if isinstance(raw, str) else raw
    tmp = agent_dir / f".{path.name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def read_json(path):
    """Parse a JSON file; None when it does not exist (yet)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
