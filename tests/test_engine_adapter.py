"""The engine layer: the simpy adapter (the one module that touches simpy's internals), the
installed simpy's internals it relies on, ``schedule``, ``Timer`` and the counting environment.

If a test under "simpy's internals" fails, the installed simpy is not the one fiscosim was
tested with: pin it back (pyproject.toml) rather than patch the tests.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from itertools import count

import pytest
import simpy
from conftest import REPO_ROOT
from simpy.core import NORMAL, URGENT

from fiscosim.engine import CountingEnvironment, Timer, schedule
from fiscosim.engine.simpy_adapter import (
    SIMPY_PIN,
    advance_clock,
    advance_clock_if_idle,
    check_simpy,
    schedule_call,
    version_is_tested,
)

ENGINE = REPO_ROOT / "fiscosim" / "engine"


# -- simpy's internals, as the adapter assumes them ----------------------------------------
def test_simpy_version_is_in_the_pinned_range_and_pyproject_pins_it():
    assert version_is_tested(), f"simpy {simpy.__version__} is outside simpy{SIMPY_PIN}"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if re.match(r"simpy\b", d)]
    assert pins == [f"simpy{SIMPY_PIN}"]


@pytest.mark.parametrize(("version", "tested"), [
    ("4.1.0", True), ("4.1.2", True), ("4.1", True), ("4.2.0", False), ("4.0.2", False),
    ("5.0", False), ("4.10.1", False)])
def test_version_range_check(version, tested):
    assert version_is_tested(version) is tested


def test_environment_has_the_private_attributes_the_adapter_uses():
    env = simpy.Environment()
    assert env._now == 0 and env.now == 0
    assert type(env._queue) is list and env._queue == []
    assert type(env._eid) is type(count())


def test_a_queue_entry_is_time_priority_eid_event():
    env = simpy.Environment()
    event = simpy.Event(env)
    env.schedule(event, NORMAL, 5)
    timeout = env.timeout(3)
    assert env._queue[0][3] is timeout  # a heap: the earliest first
    entries = sorted(env._queue, key=lambda e: e[0])
    assert [type(e) for e in entries] == [tuple, tuple]
    assert [(e[0], e[1], e[3]) for e in entries] == [(3, NORMAL, timeout), (5, NORMAL, event)]
    eids = [e[2] for e in entries]
    assert all(type(eid) is int for eid in eids) and eids[0] > eids[1]  # insertion order
    assert env.peek() == 3
    env.step()
    assert env._now == env.now == 3


def test_step_reads_only_callbacks_and_ok_of_a_successful_event():
    # What the adapter's slotted call object relies on: no Event attributes beyond these.
    class Bare:
        __slots__ = ("_ok", "_value", "callbacks")

    env = simpy.Environment()
    seen = []
    bare = Bare()
    bare._ok, bare._value, bare.callbacks = True, None, [seen.append]
    env._queue.append((4, NORMAL, next(env._eid), bare))
    env.step()
    assert seen == [bare] and env.now == 4 and bare.callbacks is None


def test_setting_now_moves_the_public_clock_and_later_events_still_run():
    env = simpy.Environment()
    log = []
    env.timeout(100).callbacks.append(lambda _: log.append(env.now))
    env._now = 40
    assert env.now == 40
    env.run()
    assert log == [100]


# -- the adapter's startup check -----------------------------------------------------------
def test_check_simpy_passes_on_the_installed_simpy():
    check_simpy()


def test_check_simpy_names_the_version_when_an_attribute_is_gone(monkeypatch):
    class NoEid(simpy.Environment):
        def __init__(self) -> None:
            super().__init__()
            del self._eid

    monkeypatch.setattr(simpy, "Environment", NoEid)
    with pytest.raises(RuntimeError, match=rf"simpy {re.escape(simpy.__version__)} .*no env\._eid"
                       rf".*simpy{re.escape(SIMPY_PIN)}"):
        check_simpy()


def test_check_simpy_refuses_a_queue_entry_of_another_shape(monkeypatch):
    class ThreeTuple(simpy.Environment):
        def schedule(self, event, priority=NORMAL, delay=0):
            self._queue.append((self._now + delay, next(self._eid), event))

    monkeypatch.setattr(simpy, "Environment", ThreeTuple)
    with pytest.raises(RuntimeError, match=r"not \(time, priority, eid, event\)"):
        check_simpy()


def test_check_simpy_refuses_a_clock_that_is_not_now(monkeypatch):
    class Frozen(simpy.Environment):
        @property
        def now(self):
            return 0

    monkeypatch.setattr(simpy, "Environment", Frozen)
    with pytest.raises(RuntimeError, match="does not have the internals"):
        check_simpy()


# -- schedule_call / schedule --------------------------------------------------------------
def test_schedule_is_the_adapters_schedule_call():
    assert schedule is schedule_call


def test_calls_at_one_instant_run_in_scheduling_order_with_simpys_own_events():
    env = simpy.Environment()
    log = []
    schedule_call(env, 10, log.append, "a")
    env.timeout(10).callbacks.append(lambda _: log.append("timeout"))
    schedule_call(env, 10, log.append, "b")
    schedule_call(env, 5, log.append, "early")
    schedule_call(env, 10, lambda x, y: log.append(x + y), "c", "d")
    env.run()
    assert log == ["early", "a", "timeout", "b", "cd"]
    assert env.now == 10


def test_a_time_in_the_past_runs_now_after_what_is_already_due_now():
    env = simpy.Environment()
    log = []

    def at_20():
        schedule_call(env, 3, lambda: log.append(("past", env.now)))
        log.append(("at", env.now))

    schedule_call(env, 20, at_20)
    schedule_call(env, 20, lambda: log.append(("other", env.now)))
    env.run()
    assert log == [("at", 20), ("other", 20), ("past", 20)]


def test_schedule_call_entry_is_one_normal_queue_entry():
    env = simpy.Environment()
    schedule_call(env, 7, print)
    (entry,) = env._queue
    assert entry[:2] == (7, NORMAL) and type(entry[2]) is int


def test_run_until_stops_before_calls_due_at_that_time():
    # run(until=t) puts an URGENT event at t: calls due at t run after the run stops.
    env = simpy.Environment()
    log = []
    schedule_call(env, 10, log.append, 10)
    schedule_call(env, 9, log.append, 9)
    env.run(until=10)
    assert log == [9] and env.now == 10
    env.run()
    assert log == [9, 10]
    assert URGENT < NORMAL


# -- advancing the clock -------------------------------------------------------------------
def test_advance_clock_if_idle_moves_only_when_nothing_comes_first():
    env = simpy.Environment()
    assert advance_clock_if_idle(env, 5) and env.now == 5  # empty queue
    schedule_call(env, 20, print)
    assert advance_clock_if_idle(env, 19) and env.now == 19
    assert not advance_clock_if_idle(env, 20) and env.now == 19  # a tie: simpy's event first
    assert not advance_clock_if_idle(env, 25) and env.now == 19


def test_advance_clock_sets_the_clock():
    env = simpy.Environment()
    schedule_call(env, 20, print)
    advance_clock(env, 30)
    assert env.now == 30


def test_an_advanced_clock_keeps_the_order_of_later_events():
    env = simpy.Environment()
    log = []
    schedule_call(env, 50, lambda: log.append(("call", env.now)))
    assert advance_clock_if_idle(env, 40)
    schedule_call(env, 45, lambda: log.append(("new", env.now)))
    schedule_call(env, 10, lambda: log.append(("past", env.now)))  # runs at 40
    env.run()
    assert log == [("past", 40), ("new", 45), ("call", 50)]


# -- Timer ---------------------------------------------------------------------------------
def test_timer_fires_once_after_its_delay():
    env = simpy.Environment()
    fired = []
    timer = Timer(env, lambda: fired.append(env.now))
    assert not timer.armed and timer.deadline is None
    timer.set(100)
    assert timer.armed and timer.deadline == 100
    env.run()
    assert fired == [100] and not timer.armed and timer.deadline is None


def test_timer_reset_fires_only_the_latest_generation():
    env = simpy.Environment()
    fired = []
    timer = Timer(env, lambda: fired.append(env.now))
    timer.set(100)
    schedule_call(env, 30, timer.set, 100)  # re-set at 30: due at 130, the 100 is stale
    env.run()
    assert fired == [130]


def test_a_cancelled_timer_does_not_fire_and_a_stale_firing_is_ignored():
    env = simpy.Environment()
    fired = []
    timer = Timer(env, lambda: fired.append(env.now))
    timer.set(100)
    timer.cancel()
    assert not timer.armed
    env.run()
    assert fired == [] and env.now == 100  # its stale firing ran, and did nothing

    timer.set(10)
    schedule_call(env, 105, timer.cancel)
    schedule_call(env, 107, timer.set, 50)
    env.run()
    assert fired == [157]


def test_a_timer_set_from_its_own_callback_rearms():
    env = simpy.Environment()
    fired = []

    def tick():
        fired.append(env.now)
        if len(fired) < 3:
            timer.set(10)

    timer = Timer(env, tick)
    timer.set(10)
    env.run()
    assert fired == [10, 20, 30]


# -- CountingEnvironment -------------------------------------------------------------------
def test_counting_environment_counts_processed_events():
    env = CountingEnvironment()
    assert isinstance(env, simpy.Environment)
    assert env.now == 0 and env.events_processed == 0
    for at in (5, 5, 9):
        schedule(env, at, lambda: None)
    env.timeout(3)
    env.run(until=10)  # four events, and the event that stops the run
    assert env.events_processed == 5 and env.now == 10
    env = CountingEnvironment()
    schedule(env, 20, lambda: None)
    schedule(env, 20, lambda: None)
    env.run()  # two events, and the step that finds the queue empty (it counts step calls)
    assert env.events_processed == 3 and env.now == 20


def test_counting_environment_drives_the_network_the_same_way():
    import numpy as np

    from fiscosim.net.latency import LatencyModel
    from fiscosim.net.network import Network
    from fiscosim.net.topology import full_mesh

    def run(env):
        net = Network(env, full_mesh(3, LatencyModel("constant", 10.0)), 1e6, 0.0,
                      np.random.SeedSequence(1))
        log = []
        net.broadcast(0, [1, 2], "m", 986, lambda s, d, m: log.append((d, env.now)))
        env.run()
        return log

    counting = CountingEnvironment()
    assert run(counting) == run(simpy.Environment()) == [(1, 18000), (2, 26000)]
    assert counting.events_processed >= 1


# -- the layering ----------------------------------------------------------------------------
def test_the_engine_imports_only_simpy_the_standard_library_and_itself():
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert (top in ("simpy", "__future__") or top in sys.stdlib_module_names
                        or name.startswith("fiscosim.engine")), f"{path.name} imports {name}"


def test_no_module_but_the_adapter_touches_simpys_private_attributes():
    touch = re.compile(r"\benv\._(now|queue|eid)\b|\b_env\._(now|queue|eid)\b")
    offenders = []
    for path in sorted((REPO_ROOT / "fiscosim").rglob("*.py")):
        if path == ENGINE / "simpy_adapter.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if touch.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert offenders == []
