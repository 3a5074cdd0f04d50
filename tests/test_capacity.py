"""The capacity search (fiscosim.sim.capacity, ``fiscosim capacity``).

The search logic is tested on toy models whose capacity is known, without simulating: a toy
probe turns a rate into a hand-made summary. Then the criteria on hand-made summaries, and the
command line: bad options are one line with exit 2, and a short real search answers.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

from fiscosim.cli import main
from fiscosim.scenario import load_scenario
from fiscosim.schema import ScenarioError
from fiscosim.sim.capacity import (
    Criteria,
    SearchSettings,
    SettingsError,
    capacity_of,
    check_searchable,
    search_capacity,
    with_rate,
)

QUICKSTART = str(REPO_ROOT / "scenarios" / "quickstart.yaml")
SHORT = ["--set", "duration_s=5", "--set", "warmup_s=1", "--set", "drain_s=1"]


def summary(rate: int, passes: bool) -> dict:
    """A run at ``rate`` that passes every default criterion, or fails on goodput."""
    return {"tps": rate if passes else rate / 2, "send_rate_tps": rate,
            "latency_ms": {"p95": 300.0}, "txs_submitted": rate * 10, "txs_rejected": 0,
            "saturation": {"backlog_growth": 0.0 if passes else 0.5, "saturated": not passes},
            "bound_by": None if passes else "execution",
            "utilisation": {"max": {"resource": "node0.executor", "kind": "execution",
                                    "utilisation": 0.5 if passes else 1.0}},
            "sim_time_s": 25.0, "wall_time_s": 0.1}


class Toy:
    """A probe_round over a toy model: ``passes(rate)``; records every round it ran."""

    def __init__(self, passes) -> None:
        self.passes = passes
        self.rounds: list[list[int]] = []

    def __call__(self, rates: list[int]):
        self.rounds.append(list(rates))
        return [summary(rate, self.passes(rate)) for rate in rates]


def capacity_at(cap: int):
    return Toy(lambda rate: rate <= cap)


def answer(result) -> tuple:
    return (result.max_sustainable_tps, result.first_failing_tps, result.failed_criterion,
            result.bound_by, result.limit, result.non_monotone, result.converged)


# -- the search on toy models ------------------------------------------------------------------


@pytest.mark.parametrize("cap", [501, 777, 4_999, 5_000, 12_345, 65_432, 199_999])
@pytest.mark.parametrize("resolution", [(0.02, 100), (0.0, 100), (0.1, 1000)])
def test_the_answer_brackets_the_known_capacity_within_the_resolution(cap, resolution):
    toy = capacity_at(cap)
    settings = SearchSettings(resolution=resolution)
    result = search_capacity(toy, settings)
    lo, hi = result.max_sustainable_tps, result.first_failing_tps
    assert lo <= cap < hi
    step = settings.round_to
    assert hi - lo <= max(resolution[0] * lo, resolution[1], step)
    assert result.converged and result.limit is None and not result.non_monotone
    assert result.failed_criterion == "goodput_ratio" and result.bound_by == "execution"
    assert result.utilisation_max["utilisation"] == 1.0
    rates = [p.rate for p in result.probes]
    assert len(rates) == len(set(rates))  # no rate probed twice
    assert all(r % step == 0 or r in settings.bounds for r in rates)


@pytest.mark.parametrize("cap", [777, 12_345, 65_432])
def test_the_same_answer_for_every_number_of_probes_per_round(cap):
    answers, rounds = set(), {}
    for k in (1, 2, 3, 4, 8):
        toy = capacity_at(cap)
        result = search_capacity(toy, SearchSettings(probes_per_round=k))
        answers.add(answer(result))
        rounds[k] = result.rounds
        assert all(1 <= len(r) <= k for r in toy.rounds)
    assert len(answers) == 1, answers
    assert rounds[4] < rounds[1]


def test_a_round_is_decided_only_once_it_has_returned_and_a_resume_reruns_nothing():
    toy = capacity_at(12_345)
    first = search_capacity(toy, SearchSettings(probes_per_round=4))
    cached = {p.rate: p.passed for p in first.probes}
    replayed: list[int] = []

    def resumed(rates):
        # A resume: every probe comes from the cache of the first search.
        replayed.extend(rates)
        assert all(rate in cached for rate in rates)
        return [summary(rate, cached[rate]) for rate in rates]

    again = search_capacity(resumed, SearchSettings(probes_per_round=4))
    assert answer(again) == answer(first)
    assert sorted(replayed) == sorted(cached)
    assert again.as_dict(wall=False) == first.as_dict(wall=False)


def test_a_pass_above_a_failure_is_flagged_and_the_answer_stays_conservative():
    # Fails between 8,100 and 29,999 only: 40,000 passes again.
    toy = Toy(lambda rate: rate <= 8_000 or rate >= 30_000)
    one = search_capacity(toy, SearchSettings(probes_per_round=1))
    four = search_capacity(Toy(toy.passes), SearchSettings(probes_per_round=4))
    assert (one.max_sustainable_tps, one.first_failing_tps) == (8_000, 8_100)
    assert (four.max_sustainable_tps, four.first_failing_tps) == (8_000, 8_100)
    assert four.non_monotone  # its bracketing round saw 40,000 pass above 10,000's failure
    assert not one.non_monotone  # one probe at a time never looks above a failure


def test_a_failure_below_a_pass_lowers_the_answer():
    # A failure at 6,300 only. With k = 4 the first bisection round probes 7,500, 6,300 and
    # 8,800 at once: 6,300's failure is below 7,500's pass, and the answer goes below it.
    passes = lambda rate: rate <= 8_000 and rate != 6_300  # noqa: E731
    four = search_capacity(Toy(passes), SearchSettings(probes_per_round=4))
    assert four.first_failing_tps == 6_300
    assert four.max_sustainable_tps == max(p.rate for p in four.probes
                                           if p.passed and p.rate < 6_300)
    assert four.non_monotone
    # One probe at a time never visits 6,300: only a non-monotone model depends on k.
    one = search_capacity(Toy(passes), SearchSettings(probes_per_round=1))
    assert (one.max_sustainable_tps, one.first_failing_tps, one.non_monotone) == (
        8_000, 8_100, False)


def test_the_upper_bound_passing_says_so():
    result = search_capacity(capacity_at(10**9), SearchSettings(bounds=(500, 20_000)))
    assert result.limit == "upper_bound"
    assert (result.max_sustainable_tps, result.first_failing_tps) == (20_000, None)
    assert result.failed_criterion is None and not result.converged
    assert [p.rate for p in result.probes] == [5_000, 10_000, 20_000]


def test_the_lower_bound_failing_says_so():
    result = search_capacity(capacity_at(100), SearchSettings(bounds=(500, 20_000)))
    assert result.limit == "lower_bound"
    assert (result.max_sustainable_tps, result.first_failing_tps) == (None, 500)
    assert result.failed_criterion == "goodput_ratio"
    assert [p.rate for p in result.probes] == [5_000, 2_500, 1_300, 700, 500]  # half up


def test_a_failing_start_brackets_downwards():
    toy = capacity_at(1_234)
    result = search_capacity(toy, SearchSettings(start=20_000))
    assert [p.rate for p in result.probes][:4] == [20_000, 10_000, 5_000, 2_500]
    assert result.max_sustainable_tps <= 1_234 < result.first_failing_tps


def test_the_search_is_deterministic():
    one = search_capacity(capacity_at(33_333), SearchSettings(probes_per_round=3))
    two = search_capacity(capacity_at(33_333), SearchSettings(probes_per_round=3))
    assert one.as_dict() == two.as_dict()


@pytest.mark.parametrize(("settings", "field"), [
    (SearchSettings(bounds=(500, 500)), "bounds"),
    (SearchSettings(bounds=(0, 500)), "bounds"),
    (SearchSettings(start=100), "start"),
    (SearchSettings(growth=1.0), "growth"),
    (SearchSettings(resolution=(1.5, 100)), "resolution"),
    (SearchSettings(round_to=0), "round_to"),
    (SearchSettings(probes_per_round=0), "probes_per_round"),
])
def test_bad_settings_name_the_setting(settings, field):
    with pytest.raises(SettingsError) as caught:
        search_capacity(capacity_at(1000), settings)
    assert caught.value.field == field and caught.value.fix


# -- criteria ----------------------------------------------------------------------------------

GOOD = {"tps": 4990.0, "send_rate_tps": 5000.0, "latency_ms": {"p50": 200.0, "p95": 400.0,
                                                               "p99": 2500.0},
        "txs_submitted": 100_000, "txs_rejected": 0,
        "saturation": {"backlog_growth": 0.001, "saturated": False}}


def test_a_healthy_run_passes_every_criterion():
    verdict = Criteria().evaluate(GOOD, 5000)
    assert verdict.passed and verdict.failed is None and verdict.skipped == ()
    assert verdict.values == {"goodput_ratio": 0.998, "latency_ms.p95": 400.0,
                              "backlog_growth": 0.001, "rejected_ratio": 0.0}


@pytest.mark.parametrize(("change", "failing"), [
    ({"tps": 4800.0}, ("goodput_ratio",)),
    ({"latency_ms": {"p95": 2000.5}}, ("latency_ms.p95",)),
    ({"saturation": {"backlog_growth": 0.02}}, ("backlog_growth",)),
    ({"txs_rejected": 101}, ("rejected_ratio",)),
    ({"tps": 100.0, "txs_rejected": 90_000}, ("goodput_ratio", "rejected_ratio")),
])
def test_each_criterion_fails_on_its_own(change, failing):
    verdict = Criteria().evaluate({**GOOD, **change}, 5000)
    assert not verdict.passed and verdict.failing == failing and verdict.failed == failing[0]


def test_thresholds_are_inclusive():
    at_limits = {**GOOD, "tps": 4900.0, "latency_ms": {"p95": 2000.0}, "txs_rejected": 100,
                 "saturation": {"backlog_growth": 0.01}}
    assert Criteria().evaluate(at_limits, 5000).passed


def test_goodput_divides_by_the_rate_really_sent():
    # Poisson arrivals sent 5,100 in the window: 5,000 committed is 98 % of that, not 100 %.
    verdict = Criteria().evaluate({**GOOD, "tps": 5000.0, "send_rate_tps": 5100.0}, 5000)
    assert verdict.values["goodput_ratio"] == pytest.approx(0.980392, abs=1e-6)
    no_send_rate = {k: v for k, v in GOOD.items() if k != "send_rate_tps"}
    assert Criteria().evaluate(no_send_rate, 5000).values["goodput_ratio"] == 0.998


def test_a_criterion_the_summary_lacks_is_skipped_not_failed():
    older = {k: v for k, v in GOOD.items() if k != "saturation"}
    verdict = Criteria().evaluate(older, 5000)
    assert verdict.passed and verdict.skipped == ("backlog_growth",)
    assert verdict.values["backlog_growth"] is None


def test_criteria_can_be_changed_and_turned_off():
    criteria = Criteria().with_("latency_ms.p99", 3000).with_("backlog_growth", None)
    assert criteria.names() == ["goodput_ratio", "latency_ms.p99", "rejected_ratio"]
    assert criteria.as_dict() == {"goodput_ratio": 0.98, "latency_ms.p99": 3000,
                                  "rejected_ratio": 0.001}
    assert Criteria().with_("latency_ms.p99", 2000).evaluate(GOOD, 5000).failing == (
        "latency_ms.p99",)
    assert Criteria.from_mapping({"goodput_ratio": 0.9, "latency_ms.p95": None}).names() == [
        "goodput_ratio", "backlog_growth", "rejected_ratio"]


@pytest.mark.parametrize(("name", "value"), [("goodput", 0.9), ("latency_ms.p90", 100),
                                             ("goodput_ratio", 1.5), ("rejected_ratio", -1)])
def test_a_bad_criterion_names_itself(name, value):
    with pytest.raises(SettingsError) as caught:
        Criteria().with_(name, value)
    assert caught.value.field == f"criteria.{name}"


# -- probes as runs of a scenario --------------------------------------------------------------


def test_with_rate_changes_only_the_rate():
    scenario = load_scenario(QUICKSTART)
    faster = with_rate(scenario, 2000)
    assert faster.workload.rate_tps == 2000.0 and scenario.workload.rate_tps == 500.0
    assert faster.model_dump() == load_scenario(QUICKSTART,
                                                ["workload.rate_tps=2000"]).model_dump()


@pytest.mark.parametrize(("override", "field"), [("workload.mode=closed", "workload.mode")])
def test_a_workload_without_a_steady_rate_is_refused(override, field):
    scenario = load_scenario(QUICKSTART, [override])
    with pytest.raises(ScenarioError) as caught:
        check_searchable(scenario, "q.yaml")
    assert caught.value.field == field


def test_a_real_search_is_deterministic_whatever_the_workers():
    scenario = load_scenario(QUICKSTART, ["duration_s=3", "warmup_s=1", "drain_s=1"])
    settings = SearchSettings(start=4000, bounds=(1000, 16_000), resolution=(0.2, 1000),
                              round_to=1000, probes_per_round=2)
    one = capacity_of(scenario, settings, workers=1)
    two = capacity_of(scenario, settings, workers=2)
    assert one.as_dict(wall=False) == two.as_dict(wall=False)
    assert one.max_sustainable_tps is not None and one.first_failing_tps is not None


# -- the command line --------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(main, ["capacity", *args], catch_exceptions=False)


BAD = [
    (["--bounds", "500,x"], "--bounds", "500,200000"),
    (["--bounds", "500"], "--bounds", "500,200000"),
    (["--bounds", "500.5,1000"], "--bounds", "whole"),
    (["--bounds", "2000,1000"], "--bounds", "low below high"),
    (["--start", "100"], "--start", "inside the bounds"),
    (["--start", "0"], "--start", ">= 1"),
    (["--growth", "1"], "--growth", "> 1"),
    (["--resolution", "0.02"], "--resolution", "RELATIVE,ABSOLUTE"),
    (["--resolution", "2,100"], "--resolution", "[0, 1)"),
    (["--round-to", "0"], "--round-to", ">= 1"),
    (["--criterion", "speed=1"], "--criterion speed", "goodput_ratio"),
    (["--criterion", "goodput_ratio"], "--criterion", "NAME=VALUE"),
    (["--criterion", "goodput_ratio=lots"], "--criterion", "NAME=VALUE"),
    (["--criterion", "goodput_ratio=2"], "--criterion goodput_ratio", "<= 1"),
    (["--probes-per-round", "0"], "--probes-per-round", "auto"),
    (["-j", "0"], "--workers", ">= 1"),
    (["--set", "workload.mode=closed"], "workload.mode", "--set workload.mode=open"),
    (["--set", "workload.rate_tps=-1"], "workload.rate_tps", ">= 0"),
    (["no/such.yaml"], "no/such.yaml", "check the path"),
]


@pytest.mark.parametrize(("args", "name", "fix"), BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_a_bad_option_is_one_line_naming_it_and_the_fix(args, name, fix):
    result = CliRunner().invoke(main, ["capacity", *args])  # as the command line runs
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert name in lines[0] and fix in lines[0], lines[0]
    assert "Traceback" not in result.output and "probe" not in result.stdout


def test_a_short_real_search_prints_the_rate_and_the_bound():
    result = invoke(QUICKSTART, *SHORT, "--start", "4000", "--bounds", "500,64000",
                    "--resolution", "0.1,500", "--round-to", "500", "-j", "1", "--json")
    assert result.exit_code == 0, result.output
    assert re.search(r"^probe +4,000 TPS: pass", result.stdout, re.MULTILINE)
    assert re.search(r"max sustainable [\d,]+ TPS; [\d,]+ TPS fails on \w+", result.stdout)
    assert "saturated resource" in result.stdout and "simulated in" in result.stdout
    data = json.loads(result.stdout.splitlines()[-1])
    lo, hi = data["max_sustainable_tps"], data["first_failing_tps"]
    assert 8000 <= lo < hi <= 16000 and lo % 500 == 0
    assert data["failed_criterion"] in data["criteria"] and data["limit"] is None
    assert [p["rate"] for p in data["probes"]][:3] == [4000, 8000, 16000]


def test_a_probe_that_would_not_fit_in_memory_stops_the_search_in_one_line(monkeypatch):
    import fiscosim.sim.estimate as estimate

    scenario = load_scenario(QUICKSTART, ["duration_s=3", "warmup_s=1", "drain_s=1"])
    monkeypatch.setattr(estimate, "available_bytes", lambda: 1000)
    with pytest.raises(ScenarioError) as caught:
        capacity_of(scenario, SearchSettings(start=4000), workers=1)
    assert "the probe at 4,000 TPS on 1 worker: " in str(caught.value)
    assert "\n" not in str(caught.value)
