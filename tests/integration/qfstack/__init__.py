"""qfstack: the shared harness for QiFlow integration tests.

It runs the REAL parts: Debian's /usr/sbin/collectd in the foreground with a
generated config that loads our built plugins, and the real qiflow-exporter on
a loopback port. Tests talk to them over collectd's unixsock text protocol and
plain HTTP, and validate every JSON body against schema/*.schema.json.

Every wait is bounded; every failure message carries the evidence (the tail of
the daemon's log) so a red test explains itself. The demo that
`contrib/dev.sh run` starts is tools/demo.py, which imports this package.

The modules, by subject:
  paths        source and build trees, Debian's collectd (QF_SANITIZE set-up)
  procs        starting and stopping processes, waiting, ports, AgentProcess
  collectd     the Collectd daemon, its base config and unixsock protocol
  exporter     the Exporter process, ENDPOINTS
  http_client  http() and its Response
  schemas      schema(), validator(), validate()
  records      agent registry files, JSON files read back, timestamps
  conf         the <Plugin> blocks of our plugins, one builder per plugin
  stack        Stack (collectd + qiflow_agents + exporter), backend_status()
Every public name (and the few private ones tests use) is importable from
qfstack itself, as before the split.
"""

import qfsanitize  # noqa: F401  (tests reach it as qfstack.qfsanitize)

from .paths import (BUILD_DIR, COLLECTD_BIN, COLLECTD_PLUGIN_DIR,
                    COLLECTD_TYPES_DB, SOURCE_DIR)
from .procs import AgentProcess, WaitTimeout, free_port, rss_kib, wait_until
from .collectd import DROP_DAC_CAPS, Collectd, CollectdError, unixsock_command
from .exporter import ENDPOINTS, Exporter
from .http_client import Response, http
from .schemas import schema, validate, validator
from .records import agent_doc, iso_time, parse_time, read_json, write_agent
from .conf import (agents_plugin_conf, anomaly_conf, backend_block,
                   github_conf, heartbeat_conf, heartbeat_plugin_conf,
                   option_value)
from .stack import Stack, backend_status
# Private helpers that tests use directly (test_fleet, test_harness,
# test_exporter_security, test_stock_debian).
from .procs import _spawn, _tail, _terminate  # noqa: F401
from .collectd import _group_name  # noqa: F401

__all__ = [
    "AgentProcess", "BUILD_DIR", "COLLECTD_BIN", "COLLECTD_PLUGIN_DIR",
    "COLLECTD_TYPES_DB", "Collectd", "CollectdError", "DROP_DAC_CAPS",
    "ENDPOINTS", "Exporter", "Response", "SOURCE_DIR", "Stack",
    "WaitTimeout", "agent_doc", "agents_plugin_conf", "anomaly_conf",
    "backend_block", "backend_status", "free_port", "github_conf",
    "heartbeat_conf", "heartbeat_plugin_conf", "http", "iso_time",
    "option_value", "parse_time", "qfsanitize", "read_json", "rss_kib",
    "schema", "unixsock_command", "validate", "validator", "wait_until",
    "write_agent",
]
