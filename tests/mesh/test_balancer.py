"""Load-balancing strategies: fairness, stickiness, latency awareness, and the empty pool."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from mesh.balancer import (
    STRATEGIES,
    Balancer,
    ConsistentHash,
    LeastConnections,
    NoInstanceAvailable,
    PowerOfTwoChoices,
    RoundRobin,
    make_balancer,
)
from mesh.registry import ServiceInstance

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Inst:
    instance_id: str


def pool(*names: str) -> list[Inst]:
    return [Inst(name) for name in names]


def names(picks: list[Inst]) -> list[str]:
    return [p.instance_id for p in picks]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- every strategy -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pick_on_an_empty_pool_raises_no_instance_available(strategy: str) -> None:
    balancer = make_balancer(strategy, pool="vectorstore")  # type: ignore[arg-type]
    with pytest.raises(NoInstanceAvailable) as caught:
        balancer.pick([], key="k")
    assert caught.value.pool == "vectorstore"
    assert caught.value.code == "no_instance_available"
    assert "vectorstore" in str(caught.value)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_make_balancer_builds_the_named_strategy(strategy: str) -> None:
    balancer = make_balancer(strategy)  # type: ignore[arg-type]
    assert isinstance(balancer, Balancer)
    assert balancer.strategy == strategy
    assert balancer.snapshot()["strategy"] == strategy


def test_make_balancer_refuses_an_unknown_strategy_and_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="round_robin, least_connections, consistent_hash, p2c"):
        make_balancer("random")  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_picks_service_instances_and_returns_one_of_the_candidates(strategy: str) -> None:
    instances = [ServiceInstance(server="search", url=f"http://127.0.0.1:{port}/mcp") for port in (9001, 9002, 9003)]
    balancer = make_balancer(strategy, rng=random.Random(1))  # type: ignore[arg-type]
    for n in range(30):
        chosen = balancer.pick(instances, key=f"k{n}")
        balancer.on_start(chosen.instance_id)
        balancer.on_finish(chosen.instance_id, 0.01, True)
        assert chosen in instances


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_single_candidate_is_always_the_choice(strategy: str) -> None:
    balancer = make_balancer(strategy)  # type: ignore[arg-type]
    only = pool("a")
    assert {balancer.pick(only, key=str(n)).instance_id for n in range(10)} == {"a"}


# -- round robin ----------------------------------------------------------------------------------


def test_round_robin_is_exactly_fair() -> None:
    balancer = RoundRobin()
    candidates = pool("a", "b", "c", "d", "e")
    picks = [balancer.pick(candidates) for _ in range(500)]
    assert names(picks[:7]) == ["a", "b", "c", "d", "e", "a", "b"]
    assert set(Counter(names(picks)).values()) == {100}


def test_round_robin_continues_with_the_successor_when_the_last_chosen_instance_leaves() -> None:
    balancer = RoundRobin()
    assert names([balancer.pick(pool("a", "b", "c", "d")) for _ in range(2)]) == ["a", "b"]
    # b leaves: a counter modulo the new size would jump to d and skip c
    assert names([balancer.pick(pool("a", "c", "d")) for _ in range(4)]) == ["c", "d", "a", "c"]


def test_round_robin_skips_nobody_when_an_earlier_instance_leaves() -> None:
    balancer = RoundRobin()
    assert names([balancer.pick(pool("a", "b", "c", "d")) for _ in range(3)]) == ["a", "b", "c"]
    assert names([balancer.pick(pool("b", "c", "d")) for _ in range(3)]) == ["d", "b", "c"]


def test_round_robin_includes_a_joining_instance_in_the_current_rotation() -> None:
    balancer = RoundRobin()
    assert names([balancer.pick(pool("a", "b", "c")) for _ in range(2)]) == ["a", "b"]
    assert names([balancer.pick(pool("x", "a", "b", "c")) for _ in range(5)]) == ["c", "x", "a", "b", "c"]


def test_round_robin_follows_the_successor_when_the_last_choice_leaves_and_another_joins() -> None:
    balancer = RoundRobin()
    assert names([balancer.pick(pool("a", "b", "c", "d")) for _ in range(3)]) == ["a", "b", "c"]
    # c leaves and x joins in front in the same update: d followed c, so d is next
    assert names([balancer.pick(pool("x", "a", "b", "d")) for _ in range(4)]) == ["d", "x", "a", "b"]


def test_round_robin_stays_fair_while_instances_join_and_leave() -> None:
    """Between two picks of one instance, every instance present all along is picked exactly once."""
    rng = random.Random(7)
    balancer = RoundRobin()
    universe = [f"i{n}" for n in range(8)]
    members = universe[:4]
    history: list[tuple[str, frozenset[str]]] = []
    for _ in range(3000):
        if rng.random() < 0.15:
            absent = [name for name in universe if name not in members]
            if absent and (len(members) < 2 or rng.random() < 0.5):
                members.insert(rng.randrange(len(members) + 1), rng.choice(absent))
            else:
                members.remove(rng.choice(members))
        chosen = balancer.pick(pool(*members)).instance_id
        history.append((chosen, frozenset(members)))
    last_seen: dict[str, int] = {}
    checked = 0
    for t, (chosen, _) in enumerate(history):
        previous = last_seen.get(chosen)
        last_seen[chosen] = t
        if previous is None:
            continue
        interval = history[previous : t + 1]
        if not all(chosen in present for _, present in interval):
            continue  # it left and came back: a new membership, not a repeat
        stayed = frozenset.intersection(*(present for _, present in interval)) - {chosen}
        between = Counter(name for name, _ in history[previous + 1 : t])
        assert all(between[name] == 1 for name in stayed), (t, chosen, stayed, between)
        checked += 1
    assert checked > 2000


# -- least connections ----------------------------------------------------------------------------


def test_least_connections_picks_the_idle_instance() -> None:
    balancer = LeastConnections()
    candidates = pool("a", "b", "c")
    for busy in ("a", "c", "c"):
        balancer.on_start(busy)
    assert [balancer.pick(candidates).instance_id for _ in range(5)] == ["b"] * 5


def test_least_connections_picks_the_least_loaded_when_none_is_idle() -> None:
    balancer = LeastConnections()
    for busy, calls in (("a", 3), ("b", 1), ("c", 2)):
        for _ in range(calls):
            balancer.on_start(busy)
    assert balancer.pick(pool("a", "b", "c")).instance_id == "b"


def test_least_connections_breaks_ties_round_robin() -> None:
    balancer = LeastConnections()
    assert names([balancer.pick(pool("a", "b", "c")) for _ in range(6)]) == ["a", "b", "c", "a", "b", "c"]
    balancer.on_start("b")
    assert names([balancer.pick(pool("a", "b", "c")) for _ in range(4)]) == ["a", "c", "a", "c"]


def test_least_connections_rotates_among_equally_busy_instances() -> None:
    balancer = LeastConnections()
    for busy in ("a", "b", "c"):
        balancer.on_start(busy)
    assert names([balancer.pick(pool("a", "b", "c")) for _ in range(6)]) == ["a", "b", "c", "a", "b", "c"]


def test_least_connections_counts_finished_calls_and_never_goes_negative() -> None:
    balancer = LeastConnections()
    balancer.on_start("a")
    balancer.on_start("a")
    balancer.on_finish("a", 0.1, True)
    assert balancer.in_flight("a") == 1
    balancer.on_finish("a", 0.1, False)
    balancer.on_finish("a", 0.1, False)
    assert balancer.in_flight("a") == 0
    assert balancer.snapshot()["in_flight"] == {}


def test_least_connections_keeps_concurrent_load_even() -> None:
    rng = random.Random(3)
    balancer = LeastConnections()
    candidates = pool("a", "b", "c", "d")
    running: list[str] = []
    for _ in range(2000):
        if running and rng.random() < 0.45:
            done = running.pop(rng.randrange(len(running)))
            balancer.on_finish(done, 0.01, True)
        else:
            least = min(balancer.in_flight(c.instance_id) for c in candidates)
            chosen = balancer.pick(candidates).instance_id
            assert balancer.in_flight(chosen) == least
            balancer.on_start(chosen)
            running.append(chosen)
        assert sum(balancer.in_flight(c.instance_id) for c in candidates) == len(running)


# -- consistent hash ------------------------------------------------------------------------------

KEYS = [f"collection-{n}" for n in range(10_000)]


def owners(balancer: ConsistentHash, candidates: list[Inst]) -> dict[str, str]:
    return {key: balancer.pick(candidates, key).instance_id for key in KEYS}


def test_consistent_hash_sends_a_key_to_the_same_instance_whatever_the_candidate_order() -> None:
    balancer = ConsistentHash()
    candidates = pool(*(f"vs-{n}" for n in range(6)))
    first = owners(balancer, candidates)
    assert owners(balancer, list(reversed(candidates))) == first
    assert owners(ConsistentHash(), candidates) == first


def test_consistent_hash_moves_only_the_keys_of_a_removed_instance() -> None:
    balancer = ConsistentHash()
    candidates = pool(*(f"vs-{n}" for n in range(10)))
    before = owners(balancer, candidates)
    removed = "vs-3"
    after = owners(balancer, [c for c in candidates if c.instance_id != removed])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert moved == {key for key in KEYS if before[key] == removed}
    assert len(moved) <= len(KEYS) * (1 / 10 + 0.05)


def test_consistent_hash_gives_a_new_instance_keys_only_from_the_others() -> None:
    balancer = ConsistentHash()
    candidates = pool(*(f"vs-{n}" for n in range(10)))
    before = owners(balancer, candidates)
    after = owners(balancer, [*candidates, Inst("vs-new")])
    moved = [key for key in KEYS if before[key] != after[key]]
    assert {after[key] for key in moved} == {"vs-new"}
    assert len(KEYS) * (1 / 11 - 0.05) <= len(moved) <= len(KEYS) * (1 / 11 + 0.05)


def test_consistent_hash_gives_an_instance_its_keys_back_when_it_returns() -> None:
    balancer = ConsistentHash()
    candidates = pool(*(f"vs-{n}" for n in range(8)))
    before = owners(balancer, candidates)
    owners(balancer, candidates[:2] + candidates[3:])
    assert owners(balancer, list(candidates)) == before


def test_consistent_hash_notices_a_list_changed_in_place_and_reuses_an_unchanged_tuple() -> None:
    balancer = ConsistentHash()
    candidates = pool("a", "b", "c")
    keys_of_b = [key for key in KEYS[:300] if balancer.pick(candidates, key).instance_id == "b"]
    assert keys_of_b
    del candidates[1]  # the same list object, now without b
    assert {balancer.pick(candidates, key).instance_id for key in keys_of_b} <= {"a", "c"}
    frozen = tuple(pool("a", "b", "c"))
    assert {balancer.pick(frozen, key).instance_id for key in keys_of_b} == {"b"}
    assert {balancer.pick(frozen, key).instance_id for key in keys_of_b} == {"b"}


def test_consistent_hash_drops_long_gone_instances_from_the_ring() -> None:
    balancer = ConsistentHash(virtual_nodes=16)
    everyone = pool(*(f"vs-{n}" for n in range(10)))
    balancer.pick(everyone, "k")
    survivors = everyone[:3]
    expected = owners(ConsistentHash(virtual_nodes=16), survivors)
    assert owners(balancer, survivors) == expected
    assert balancer.snapshot()["on_ring"] == ["vs-0", "vs-1", "vs-2"]
    balancer.forget("vs-1")
    assert owners(balancer, survivors) == expected  # forgotten while present: its points come back


def test_consistent_hash_spreads_keys_evenly_with_virtual_nodes() -> None:
    balancer = ConsistentHash(virtual_nodes=128)
    shares = Counter(owners(balancer, pool(*(f"vs-{n}" for n in range(10)))).values())
    assert len(shares) == 10
    assert all(0.06 * len(KEYS) <= count <= 0.14 * len(KEYS) for count in shares.values()), shares


def test_consistent_hash_is_the_same_in_every_process() -> None:
    """The ring uses a stable hash, not Python's per-process salted hash()."""
    candidates = pool(*(f"vs-{n}" for n in range(5)))
    keys = [f"k{n}" for n in range(20)]
    here = [ConsistentHash().pick(candidates, key).instance_id for key in keys]
    script = (
        "from dataclasses import dataclass\n"
        "from mesh.balancer import ConsistentHash\n"
        "@dataclass(frozen=True)\n"
        "class I:\n    instance_id: str\n"
        "c = [I(f'vs-{n}') for n in range(5)]\n"
        "print(','.join(ConsistentHash().pick(c, f'k{n}').instance_id for n in range(20)))\n"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip().split(",") == here


def test_consistent_hash_without_a_key_rotates_round_robin() -> None:
    balancer = ConsistentHash()
    assert names([balancer.pick(pool("a", "b", "c")) for _ in range(4)]) == ["a", "b", "c", "a"]


def test_consistent_hash_refuses_zero_virtual_nodes() -> None:
    with pytest.raises(ValueError, match="virtual_nodes"):
        ConsistentHash(virtual_nodes=0)


# -- power of two choices -------------------------------------------------------------------------

LATENCY = {"fast": 0.01, "quick": 0.02, "medium": 0.05, "slow": 0.1, "slowest": 0.2}


def run_calls(
    balancer: PowerOfTwoChoices, candidates: list[Inst], calls: int, latency: dict[str, float]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(calls):
        chosen = balancer.pick(candidates).instance_id
        balancer.on_start(chosen)
        balancer.on_finish(chosen, latency[chosen], True)
        counts[chosen] += 1
    return counts


def test_p2c_prefers_the_faster_instance_after_warmup_by_a_wide_margin() -> None:
    balancer = PowerOfTwoChoices(rng=random.Random(11), clock=FakeClock())
    candidates = pool(*LATENCY)
    run_calls(balancer, candidates, 50, LATENCY)
    counts = run_calls(balancer, candidates, 5000, LATENCY)
    ranked = [counts[name] for name in LATENCY]
    assert ranked == sorted(ranked, reverse=True) and len(set(ranked)) == 5, counts
    assert counts["fast"] >= 0.35 * 5000  # in the pair 2 times out of 5, and then it always wins
    assert counts["fast"] >= 3 * counts["slow"]
    assert counts["slowest"] == 0


def test_p2c_tries_an_instance_it_has_never_measured() -> None:
    balancer = PowerOfTwoChoices(rng=random.Random(5), clock=FakeClock())
    candidates = pool("a", "b", "c")
    run_calls(balancer, candidates, 30, {"a": 0.001, "b": 0.001, "c": 0.001})
    counts = run_calls(balancer, [*candidates, Inst("new")], 20, {"a": 0.001, "b": 0.001, "c": 0.001, "new": 1.0})
    assert counts["new"] == 1  # tried once at zero cost, then its slow answer ranks it last


def test_p2c_does_not_pile_calls_on_an_unmeasured_instance() -> None:
    balancer = PowerOfTwoChoices(rng=random.Random(5), clock=FakeClock())
    candidates = pool("a", "b", "new")
    run_calls(balancer, pool("a", "b"), 10, {"a": 0.5, "b": 0.5})
    picks = []
    for _ in range(40):  # nothing finishes: every call stays in flight
        chosen = balancer.pick(candidates).instance_id
        balancer.on_start(chosen)
        picks.append(chosen)
    assert picks.count("new") == 1


def test_p2c_counts_failures_as_slow_answers() -> None:
    balancer = PowerOfTwoChoices(rng=random.Random(2), clock=FakeClock(), failure_penalty_seconds=1.0)
    candidates = pool("failing", "healthy")
    counts: Counter[str] = Counter()
    for _ in range(200):
        chosen = balancer.pick(candidates).instance_id
        balancer.on_start(chosen)
        # the failing instance answers ten times faster, with an error
        balancer.on_finish(chosen, 0.005 if chosen == "failing" else 0.05, chosen != "failing")
        counts[chosen] += 1
    assert counts["failing"] <= 1
    assert balancer.cost("failing") >= 1.0


def test_p2c_penalises_calls_in_flight() -> None:
    balancer = PowerOfTwoChoices(rng=random.Random(4), clock=FakeClock())
    run_calls(balancer, pool("a", "b"), 10, {"a": 0.05, "b": 0.05})
    balancer.on_start("a")
    balancer.on_start("a")
    assert balancer.cost("a") == pytest.approx(3 * balancer.cost("b"))
    assert {balancer.pick(pool("a", "b")).instance_id for _ in range(20)} == {"b"}


def test_p2c_tries_a_slow_instance_again_once_its_estimate_has_decayed() -> None:
    clock = FakeClock()
    balancer = PowerOfTwoChoices(rng=random.Random(9), clock=clock, decay_seconds=10.0)
    candidates = pool("slow", "fast")
    latency = {"slow": 1.0, "fast": 0.01}
    run_calls(balancer, candidates, 10, latency)
    assert run_calls(balancer, candidates, 100, latency)["slow"] == 0
    retried_after = None
    for second in range(1, 121):  # one call a second
        clock.advance(1.0)
        if run_calls(balancer, candidates, 1, latency)["slow"]:
            retried_after = second
            break
    # 1.0 s decays below the fast one's ~0.01 s after about ln(100) x 10 s
    assert retried_after is not None and 40 <= retried_after <= 50


def test_p2c_lower_answers_bring_the_estimate_down_over_time() -> None:
    clock = FakeClock()
    balancer = PowerOfTwoChoices(clock=clock, decay_seconds=10.0)
    balancer.on_finish("a", 1.0, True)
    balancer.on_finish("a", 0.1, True)  # no time has passed: the peak holds
    assert balancer.cost("a") == pytest.approx(1.0)
    for _ in range(100):
        clock.advance(1.0)
        balancer.on_finish("a", 0.1, True)
    assert balancer.cost("a") == pytest.approx(0.1, rel=0.01)
    balancer.on_finish("a", 0.5, True)  # a slower answer counts at once
    assert balancer.cost("a") == pytest.approx(0.5)


def test_p2c_snapshot_and_forget() -> None:
    balancer = PowerOfTwoChoices(clock=FakeClock())
    balancer.on_start("a")
    balancer.on_finish("a", 0.2, True)
    balancer.on_start("a")
    entry = balancer.snapshot()["instances"]["a"]
    assert entry["in_flight"] == 1 and entry["samples"] == 1
    assert entry["latency_estimate_seconds"] == pytest.approx(0.2)
    assert entry["cost"] == pytest.approx(0.4)
    balancer.forget("a")
    assert balancer.snapshot()["instances"] == {}
    assert balancer.cost("a") == 0.0


def test_p2c_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="decay_seconds"):
        PowerOfTwoChoices(decay_seconds=0)
    with pytest.raises(ValueError, match="failure_penalty_seconds"):
        PowerOfTwoChoices(failure_penalty_seconds=-1)
