"""Where things are: the source and build trees, and Debian's collectd
(its binary, plugin directory and types.db). Read at call time by the
other modules (qfstack.paths.COLLECTD_BIN can be patched for one test).

With QF_SANITIZE=1 (an ASan+UBSan build) qfsanitize.setup gives every child
the sanitizer options and runs collectd through a wrapper that preloads the
ASan runtime; sanitizer reports are checked when a daemon stops.
"""

import os
from pathlib import Path

import qfsanitize

SOURCE_DIR = Path(os.environ.get("QF_SOURCE_DIR")
                  or Path(__file__).resolve().parents[3])
BUILD_DIR = Path(os.environ.get("QF_BUILD_DIR") or SOURCE_DIR / "build")

COLLECTD_BIN = "/usr/sbin/collectd"
COLLECTD_PLUGIN_DIR = "/usr/lib/collectd"
COLLECTD_TYPES_DB = "/usr/share/collectd/types.db"

COLLECTD_BIN = qfsanitize.setup(BUILD_DIR, SOURCE_DIR, COLLECTD_BIN)
