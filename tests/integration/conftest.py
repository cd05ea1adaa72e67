"""pytest fixtures over qfstack: stacks that always tear down."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qfstack  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def stack_factory(tmp_path):
    """make(**Stack kwargs) -> a started Stack under tmp_path/<n>; every
    stack made is stopped at teardown, and its log tails printed (pytest
    shows them when the test fails)."""
    made = []

    def make(start=True, **kwargs):
        stack = qfstack.Stack(tmp_path / f"stack{len(made)}", **kwargs)
        made.append(stack)
        if start:
            stack.start()
        return stack

    yield make
    for stack in made:
        stack.stop()
        print(stack.evidence())


@pytest.fixture
def stack(stack_factory):
    """collectd (interval 1 s) + qiflow_agents + exporter, started."""
    return stack_factory()


@pytest.fixture
def agent_process():
    """make(seconds=600) -> a live throwaway process; killed at teardown."""
    procs = []

    def make(seconds=600):
        proc = qfstack.AgentProcess(seconds)
        procs.append(proc)
        return proc

    yield make
    for proc in procs:
        proc.kill()


@pytest.fixture(autouse=True)
def sanitizer_reports():
    """With QF_SANITIZE=1: a sanitizer report written during a test (by a
    process the test ran itself, too) fails that test. Set up first, so
    torn down after every stack the test made has stopped."""
    qfstack.qfsanitize.check_new()
    yield
    qfstack.qfsanitize.check_new()
