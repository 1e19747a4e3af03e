import math
import random

import pytest

from picd.search import largest_fitting


def _curve(seed: int):
    """A size curve like a codec's: log size close to linear in quality, growing, with jitter
    and a few plateaus."""
    rng = random.Random(seed)
    rate = rng.uniform(0.015, 0.05)
    sizes, s = [], rng.uniform(100, 3000)
    for _ in range(101):
        sizes.append(int(s))
        if rng.random() > 0.1:  # else a plateau
            s *= math.exp(rate * rng.uniform(0.5, 1.5))
    return sizes


def _bisection(size, lo: int, hi: int, max_bytes: int) -> int:
    while hi - lo > 1:
        q = (lo + hi) // 2
        lo, hi = (q, hi) if size(q) <= max_bytes else (lo, q)
    return lo


def test_finds_the_largest_fitting_setting_with_fewer_probes_than_bisection():
    ours = theirs = 0
    for seed in range(40):
        sizes = _curve(seed)
        for budget in (sizes[5] + 1, sizes[37], sizes[60] - 1, sizes[99] + 3, sizes[100] + 1):
            coded, coded_b = set(), set()
            q = largest_fitting(lambda q: coded.add(q) or sizes[q], 0, 101, budget, top=100)
            want = max(i for i, s in enumerate(sizes) if s <= budget)
            assert q == want
            assert _bisection(lambda q: coded_b.add(q) or sizes[q], 0, 101, budget) == want
            ours, theirs = ours + len(coded), theirs + len(coded_b)
    assert ours < theirs


def test_a_top_above_the_range_is_never_coded():
    sizes = [10 * (i + 1) for i in range(11)]
    coded = []
    q = largest_fitting(lambda q: coded.append(q) or sizes[q], 0, 11, 10_000, top=10)
    assert q == 10 and 11 not in coded


def test_a_guess_is_probed_first():
    sizes = [int(100 * math.exp(0.05 * i)) for i in range(101)]
    coded = []

    def size(q: int) -> int:
        coded.append(q)
        return sizes[q]

    want = max(i for i, s in enumerate(sizes) if s <= 500)
    q = largest_fitting(size, 0, 101, 500, top=100, guess=lambda lo, hi, t: want)
    assert q == want and coded[0] == want


def _count(sizes):
    coded = set()

    def size(q: int) -> int:
        coded.add(q)
        return sizes[q]

    return size, coded


def test_a_stalling_interpolation_falls_back_to_bisection():
    # flat, then one jump: interpolating log size between the ends barely moves the bracket
    sizes = [1000] * 31 + [100_000] * 70
    size, coded = _count(sizes)
    assert largest_fitting(size, 0, 101, 1000, top=100) == 30
    assert len(coded) <= 2 * math.ceil(math.log2(101))


def test_wrong_guesses_cost_a_few_probes_only():
    sizes = [int(100 * math.exp(0.04 * i)) for i in range(101)]
    want = max(i for i, s in enumerate(sizes) if s <= 1500)
    size, coded = _count(sizes)
    q = largest_fitting(size, 0, 101, 1500, top=100, guess=lambda lo, hi, t: lo + 1)
    assert q == want
    assert len(coded) <= 3 + math.ceil(math.log2(101))


def test_sizes_that_do_not_always_grow_still_give_a_setting_that_fits():
    rng = random.Random(7)
    for _ in range(50):
        sizes = [int(500 * math.exp(0.03 * i) * rng.uniform(0.85, 1.15)) for i in range(101)]
        budget = rng.randint(min(sizes[1:]) + 1, max(sizes))
        sizes[0] = min(sizes[0], budget)
        q = largest_fitting(lambda q: sizes[q], 0, 101, budget, top=100)
        assert sizes[q] <= budget


def test_an_empty_budget_is_refused():
    with pytest.raises(ValueError):
        largest_fitting(lambda q: 1, 0, 101, 0, top=100)


def test_a_bracket_narrowed_by_sizes_already_coded():
    from picd.search import narrowed

    sizes = _curve(3)
    budget = sizes[40]
    lo, hi = narrowed([(q, sizes[q]) for q in (0, 10, 70, 30, 95)], 0, 101, budget)
    assert (lo, hi) == (30, 70)
    assert narrowed([], 0, 101, budget) == (0, 101)
    assert narrowed([(50, sizes[50])], 0, 101, sizes[20]) == (0, 50)
    exact = largest_fitting(lambda q: sizes[q], 0, 101, budget, top=100)
    assert largest_fitting(lambda q: sizes[q], lo, hi, budget, top=100) == exact
