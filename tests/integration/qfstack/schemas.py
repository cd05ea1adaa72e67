"""JSON schema validation of every body and file the tests receive, against
schema/*.schema.json (draft 2020-12, $refs across schemas resolved)."""

import datetime
import functools
import json

from . import paths

_SCHEMAS = None


def _load_schemas():
    global _SCHEMAS  # pylint: disable=global-statement
    if _SCHEMAS is None:
        schemas = {}
        directory = paths.SOURCE_DIR / "schema"
        for path in sorted(directory.glob("*.schema.json")):
            schemas[path.name[:-len(".schema.json")]] = json.loads(
                path.read_text())
        _SCHEMAS = schemas
    return _SCHEMAS


def schema(name):
    """The parsed schema/<name>.schema.json."""
    schemas = _load_schemas()
    if name not in schemas:
        raise KeyError(f"no schema/{name}.schema.json "
                       f"(have: {', '.join(sorted(schemas))})")
    return schemas[name]


def _date_time_ok(value):
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker():
    import jsonschema  # pylint: disable=import-outside-toplevel
    checker = jsonschema.FormatChecker()
    # Debian's jsonschema checks date-time only with rfc3339-validator, which
    # is not installed; a strict stdlib parse keeps the format meaningful.
    checker.checks("date-time")(_date_time_ok)
    return checker


@functools.lru_cache(maxsize=None)
def validator(name):
    """A Draft 2020-12 validator for schema `name` that resolves $refs to
    every other schema/*.schema.json by its $id or file name."""
    import jsonschema  # pylint: disable=import-outside-toplevel
    store = {}
    for key, doc in _load_schemas().items():
        store[f"{key}.schema.json"] = doc
        if "$id" in doc:
            store[doc["$id"]] = doc
    root = schema(name)
    resolver = jsonschema.RefResolver(base_uri=root.get("$id", ""),
                                      referrer=root, store=store)
    return jsonschema.Draft202012Validator(root, resolver=resolver,
                                           format_checker=_format_checker())


def validate(instance, schema_name):
    """Assert instance matches schema/<schema_name>.schema.json; the error
    lists every violation with its JSON path. Returns instance."""
    errors = sorted(validator(schema_name).iter_errors(instance),
                    key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {e.json_path}: {e.message}" for e in errors[:20]]
        raise AssertionError(
            f"{len(errors)} violation(s) of {schema_name}.schema.json:\n"
            + "\n".join(lines)
            + f"\ninstance: {json.dumps(instance)[:2000]}")
    return instance
