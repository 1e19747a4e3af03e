"""The largest value of a codec's integer quality setting whose output fits a byte budget.

Used by the background codec (:mod:`picd.background`) and by the benchmark's classical codecs
(:mod:`picd.baselines`). Coding is the expensive part, so the search codes as few settings as
it can: it keeps a bracket ``lo`` (fits) / ``hi`` (does not fit) and probes inside it, by
interpolating log size between the two ends when both are coded, by bisection otherwise or
when interpolation stops shrinking the bracket fast enough. Sizes are taken as growing with
quality; where a codec breaks that a little, the answer is still a setting that fits.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

Guess = Callable[[int, int, float], "int | None"]


def narrowed(known: Iterable[tuple[int, int]], lo: int, hi: int, max_bytes: int) -> tuple[int, int]:
    """The bracket ``lo`` (fits) / ``hi`` (does not) of `largest_fitting` narrowed by sizes
    already coded: ``(setting, bytes)`` pairs, taken in order."""
    for q, n in known:
        if lo < q < hi:
            if n <= max_bytes:
                lo = q
            else:
                hi = q
    return lo, hi


def largest_fitting(size: Callable[[int], int], lo: int, hi: int, max_bytes: int, top: int,
                    guess: Guess | None = None, guesses: int = 3) -> int:
    """Largest setting ``q`` in ``lo <= q < hi`` with ``size(q) <= max_bytes``.

    Args:
        size: bytes at setting ``q``, at least 1 (the caller caches it: a step may ask for the
            sizes at ``lo``, ``hi`` and the probe).
        lo: a setting that fits (``size(lo) <= max_bytes``).
        hi: a setting known not to fit, or ``top + 1``: above the range, taken as not fitting
            without coding it (the top quality is the slowest to code and rarely needed).
        max_bytes: the budget, at least 1.
        top: the largest setting there is.
        guess: optional ``guess(lo, hi, log(max_bytes))``: a setting to probe next, from what
            the caller knows (another scale's size curve), or None. At most ``guesses`` are
            asked for, and none after the first None.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
    target = math.log(max_bytes)
    bisect = hi > top
    while hi - lo > 1:
        q = guess(lo, hi, target) if guess is not None and guesses > 0 else None
        guesses = guesses - 1 if q is not None else 0
        if q is None and bisect:
            q = (lo + hi) // 2
        elif q is None:  # interpolate on log size
            s_lo, s_hi = math.log(size(lo)), math.log(size(hi))
            t = (target - s_lo) / (s_hi - s_lo) if s_hi > s_lo else 0.5
            q = lo + round(t * (hi - lo))
        q = min(hi - 1, max(lo + 1, q))
        width = hi - lo
        if size(q) <= max_bytes:
            lo = q
        else:
            hi = q
        # bisect while the top is unprobed, or when interpolation shrank the bracket < half
        bisect = hi > top or (hi - lo) * 2 > width
    return lo
