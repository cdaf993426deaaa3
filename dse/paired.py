"""Which designs the selection split cannot tell apart in accuracy: a paired test.

Every evaluated trial (and each hardware variant, which copies it) records which selection
images its design classifies correctly: `selection_correct`, the hex text of
``numpy.packbits(correct)``, and `selection_images`, how many images that is.  All trials of
a study see the same images in the same order, so two designs are compared *paired*: images
both get right or both get wrong say nothing about which is better; only the discordant ones
do (a right, b wrong: `only_a`; the reverse: `only_b`).

The test is the exact McNemar test: under "equally accurate" each discordant image is a fair
coin, so ``only_a ~ Binomial(only_a + only_b, 1/2)``, two-sided (twice the smaller tail).
It is chosen over a paired bootstrap because it is exact where it matters most (a handful of
discordant images, the usual case between neighbours on a front), deterministic without a
resampling seed, and cheap enough to run on every pair of a front.  Two designs are
*indistinguishable* when p >= `ALPHA` (0.05).  Independent-sample intervals (`dse.intervals`)
ignore that the designs share images and so call far more pairs ties than this test does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial
from scipy.stats import binom

from dse.metrics import trial_metrics

#: User attribute: hex text of ``numpy.packbits(correct.astype(np.uint8))``, selection split.
CORRECT_ATTR = "selection_correct"
#: User attribute: how many selection images `CORRECT_ATTR` covers (packbits pads to bytes).
IMAGES_ATTR = "selection_images"
#: Significance level: a pair with p >= ALPHA is a tie.
ALPHA = 0.05


def correct_vector(attrs: Mapping[str, Any]) -> np.ndarray | None:
    """Per-image correctness (bool array) recorded in a trial's user attributes, or None for
    trials without it (studies recorded before the selection split)."""
    text, images = attrs.get(CORRECT_ATTR), attrs.get(IMAGES_ATTR)
    if text is None or images is None:
        return None
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))
    if len(bits) < images:
        raise ValueError(f"{CORRECT_ATTR}: {len(bits)} bits for {images} selection images")
    return bits[: int(images)].astype(bool)


@dataclass(frozen=True)
class PairedTest:
    """The exact McNemar test of two designs' accuracy on the same images."""

    only_a: int  # images the first design gets right and the second wrong
    only_b: int  # the reverse
    p_value: float

    @property
    def tied(self) -> bool:
        """Whether the images cannot tell the two designs' accuracy apart."""
        return self.p_value >= ALPHA


def mcnemar(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """Exact two-sided McNemar test on the discordant pairs of two correctness vectors."""
    if a.shape != b.shape:
        raise ValueError(f"paired test: {a.shape} and {b.shape} images are not the same images")
    only_a = int(np.count_nonzero(a & ~b))
    only_b = int(np.count_nonzero(~a & b))
    return PairedTest(only_a, only_b, _two_sided_p(only_a, only_b))


def _two_sided_p(only_a: int, only_b: int) -> float:
    """The exact two-sided binomial p of ``only_a`` in ``only_a + only_b`` fair coins: the
    distribution is symmetric, so twice the smaller tail (what `scipy.stats.binomtest`
    gives at p = 1/2, equal to 1e-15, without its root search: a report pairs every front
    design with every other, and the search made `dse report` of mnist98 take 43 s)."""
    return float(min(1.0, 2.0 * binom.cdf(min(only_a, only_b), only_a + only_b, 0.5)))


def ties_of(trial: FrozenTrial, candidates: Iterable[FrozenTrial]) -> dict[int, float]:
    """{trial number: McNemar p} of the `candidates` (other than `trial`) whose accuracy the
    selection split cannot tell apart from `trial`'s.

    Empty when `trial` recorded no correctness vector; a candidate without one, or scored on
    a different number of images (`evaluation.refine_front` re-scores designs near the front
    on more), cannot be paired and is never a tie (the old behaviour).
    """
    mine = correct_vector(trial_metrics(trial))
    if mine is None:
        return {}
    ties = {}
    for other in candidates:
        theirs = correct_vector(trial_metrics(other))
        if other.number == trial.number or theirs is None or theirs.shape != mine.shape:
            continue
        test = mcnemar(mine, theirs)
        if test.tied:
            ties[other.number] = test.p_value
    return ties


def describe_ties(ties: Mapping[int, float], images: int) -> str:
    """One line for people: "indistinguishable from trials 12 (p = 0.41), 31 (p = 1) ..."."""
    if not ties:
        return (
            f"accuracy distinguishable from every other front design on the {images} "
            "selection images (exact McNemar test, p < 0.05)"
        )
    listed = ", ".join(f"{n} (p = {p:.2g})" for n, p in sorted(ties.items()))
    noun = "trial" if len(ties) == 1 else "trials"
    return (
        f"accuracy indistinguishable from front {noun} {listed} on the {images} selection "
        "images (exact McNemar test)"
    )
