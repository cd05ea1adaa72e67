"""The sanitizer hook (qfsanitize.py) fails tests on sanitizer reports.

The report judge runs on hand-written reports in every build. In an
ASan+UBSan build (QF_SANITIZE=1) the whole path is exercised for real: a
deliberately faulty collectd plugin and program, built here with the same
flags, are run the way the tests run ours, and their reports must fail.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qfsanitize  # noqa: E402  pylint: disable=wrong-import-position
import qfstack  # noqa: E402  pylint: disable=wrong-import-position

SRC = str(qfstack.SOURCE_DIR.resolve())

COLLECTD_OWN_LEAK = """
=================================================================
==5305==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 7 byte(s) in 1 object(s) allocated from:
    #0 0x7f54c967077b in __interceptor_strdup asan_interceptors.cpp:439
    #1 0x55c3794ac52c  (/usr/sbin/collectd+0xa52c)
    #2 0x55c3794ac84a in cf_read (/usr/sbin/collectd+0xa84a)
    #3 0x55c3794aa3e9 in init_config (/usr/sbin/collectd+0x83e9)

SUMMARY: AddressSanitizer: 7 byte(s) leaked in 1 allocation(s).
"""

OUR_CONFIG_LEAK = f"""
=================================================================
==5306==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 10 byte(s) in 1 object(s) allocated from:
    #0 0x7f6ac667077b in __interceptor_strdup asan_interceptors.cpp:439
    #1 0x562a767405c1 in cf_util_get_string (/usr/sbin/collectd+0x95c1)
    #2 0x7f6ac5d5239c in ag_config {SRC}/collectd-plugins/qiflow_agents.c:7
    #3 0x562a76741947 in cf_read (/usr/sbin/collectd+0xa947)

Direct leak of 7 byte(s) in 1 object(s) allocated from:
    #0 0x7f54c967077b in __interceptor_strdup asan_interceptors.cpp:439
    #1 0x55c3794ac52c  (/usr/sbin/collectd+0xa52c)

Indirect leak of 33 byte(s) in 1 object(s) allocated from:
    #0 0x7f6ac66b89cf in __interceptor_malloc asan_malloc_linux.cpp:69
    #1 0x7f6ac5d524c9  (/usr/lib/collectd/qiflow_github.so+0x24c9)

SUMMARY: AddressSanitizer: 50 byte(s) leaked in 3 allocation(s).
"""

HEAP_OVERFLOW = """
==77==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602 at pc
READ of size 1 at 0x602000000011 thread T0
    #0 0x55 in main /tmp/x.c:3
SUMMARY: AddressSanitizer: heap-buffer-overflow /tmp/x.c:3 in main
"""

UB = "x.c:4:54: runtime error: signed integer overflow: 2147483647 + 1\n"


@pytest.mark.parametrize("text, collectd, expected", [
    (COLLECTD_OWN_LEAK, True, []),
    (COLLECTD_OWN_LEAK, False, ["LeakSanitizer"]),  # the exporter's: ours
    (OUR_CONFIG_LEAK, True, ["LeakSanitizer"]),
    (HEAP_OVERFLOW, True, ["heap-buffer-overflow"]),
    (HEAP_OVERFLOW + OUR_CONFIG_LEAK, True,
     ["LeakSanitizer", "heap-buffer-overflow"]),
    (UB, False, ["runtime error"]),
    ("collectd: Exiting normally.\n", True, []),
])
def test_judge(text, collectd, expected):
    problems = qfsanitize.judge(text, collectd)
    assert len(problems) == len(expected), problems
    for problem, needle in zip(problems, expected):
        assert needle in problem


def test_judge_keeps_only_our_leak_records():
    (problem,) = qfsanitize.judge(OUR_CONFIG_LEAK, collectd=True)
    assert "ag_config" in problem and "qiflow_github.so" in problem
    assert "0xa52c" not in problem


live = pytest.mark.skipif(not qfsanitize.ACTIVE,
                          reason="needs an ASan+UBSan build (QF_SANITIZE=1)")

LEAKY_PLUGIN = r"""
#include "collectd.h"
#include "plugin.h"
#include "utils/common/common.h"
static int lk_config(oconfig_item_t *ci) {
  char *value = NULL;
  for (int i = 0; i < ci->children_num; i++)
    cf_util_get_string(ci->children + i, &value);
  return 0; /* value leaks: the fault this test plants */
}
void module_register(void);
void module_register(void) {
  plugin_register_complex_config("qiflow_leaky", lk_config);
}
"""

OVERFLOW_PROGRAM = r"""
#include <stdlib.h>
int main(int argc, char **argv) {
  char *p = malloc(4);
  (void)argv;
  p[argc + 3] = 1; /* one past the end: the fault this test plants */
  free(p);
  return 0;
}
"""


def _compile(tmp_path, name, source, extra):
    src = tmp_path / f"{name}.c"
    src.write_text(textwrap.dedent(source))
    out = tmp_path / name
    subprocess.run(["gcc", "-g", "-fsanitize=address,undefined",
                    "-fno-omit-frame-pointer", *extra, str(src), "-o",
                    str(out)], check=True, capture_output=True)
    return out


@live
def test_leak_in_a_plugin_fails_and_collectds_own_does_not(tmp_path):
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    _compile(tmp_path, "plugins/qiflow_leaky.so", LEAKY_PLUGIN,
             ["-fPIC", "-shared", "-DHAVE_CONFIG_H",
              *(f"-I{d}" for d in ("/usr/include/collectd/core",
                                   "/usr/include/collectd/core/daemon",
                                   "/usr/include/collectd"))])
    conf = 'LoadPlugin qiflow_leaky\n<Plugin qiflow_leaky>\n' \
           '  Value "planted"\n</Plugin>\n'
    collectd = qfstack.Collectd(tmp_path / "collectd", conf,
                                plugin_dir=plugin_dir)
    # collectd -T loads every plugin (LoadPlugin uptime included, whose
    # 7-byte leak is collectd's own), reads once and exits.
    res = subprocess.run([qfstack.COLLECTD_BIN, "-T", "-C",
                          str(collectd.conf_path)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    with pytest.raises(AssertionError) as err:
        qfsanitize.check_new()
    report = str(err.value)
    assert "lk_config" in report and "8 byte(s)" in report  # "planted"
    assert "7 byte(s)" not in report  # collectd's own LoadPlugin uptime


@live
def test_memory_error_in_our_process_fails(tmp_path):
    program = _compile(tmp_path, "overflow", OVERFLOW_PROGRAM, [])
    proc = subprocess.Popen([str(program)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert proc.wait(timeout=60) != 0
    with pytest.raises(AssertionError) as err:
        qfsanitize.check(proc.pid)
    assert "heap-buffer-overflow" in str(err.value)
    qfsanitize.check_new()  # that report was judged once, not twice
