"""The accelerator template's datapath primitives: PRNG, codes, sampling, schedule."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwmodel.cycles import cycle_breakdown_from_events
from hwmodel.errors import HardwareInputError
from hwmodel.template import (
    AcceleratorConfig,
    layer_key,
    prng_word,
    quantize_probability,
    random_codes,
    sample_signs,
    saturate,
    scale_word,
    segment_of_timestep,
)


def test_prng_known_answers_match_a_c_implementation(tmp_path: Path):
    """prng_kat.c (uint32_t arithmetic, written from the module doc) is compiled and run here;
    every key, word and scaled random number must agree."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("needs a C compiler (gcc)")
    exe = tmp_path / "prng_kat"
    source = Path(__file__).with_name("prng_kat.c")
    subprocess.run([compiler, "-O1", "-Wall", "-Werror", str(source), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    rows = np.array([line.split() for line in out.splitlines()], dtype=np.uint64)
    assert len(rows) == 4 * 3 * 3 * 8
    seed, sample, layer, group, key, word, r8, r13 = rows.T
    keys = np.array(
        [layer_key(int(a), int(b), int(c)) for a, b, c in zip(seed, sample, layer, strict=True)]
    )
    np.testing.assert_array_equal(keys, key)
    np.testing.assert_array_equal(prng_word(key, group), word)
    np.testing.assert_array_equal(scale_word(word, 8), r8)
    np.testing.assert_array_equal(scale_word(word, 13), r13)


def test_random_codes_are_uniform_and_independent_across_samples():
    codes = random_codes(3, np.arange(2), 1, n_in=300, n_out=200, reuse=1, k=8)
    assert codes.shape == (2, 200, 300)
    assert codes.max() == 254  # values on 0 .. 2**8 - 2
    counts = np.bincount(codes[0].ravel(), minlength=255)
    expected = codes[0].size / 255
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 400  # 254 degrees of freedom: mean 254, sd ~22.5
    a, b = codes[0].ravel().astype(float), codes[1].ravel().astype(float)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.01


def test_reuse_shares_one_word_between_consecutive_input_major_weights():
    reuse = 4
    codes = random_codes(5, 0, 2, n_in=6, n_out=8, reuse=reuse, k=10)
    flat_input_major = codes.T.ravel()  # index = i * n_out + j
    groups = flat_input_major.reshape(-1, reuse)
    assert (groups == groups[:, :1]).all()
    assert len(np.unique(groups[:, 0])) > len(groups) // 2


def test_quantize_probability_rounds_symmetrically():
    codes = quantize_probability(np.array([0.0, 0.001, 0.5, 0.999, 1.0, 0.2, 0.8]), 8)
    assert codes.tolist() == [0, 0, 128, 255, 255, 51, 204]
    assert codes[5] + codes[6] == 255  # p and 1 - p map to mirrored codes


def test_scale_word_is_uniform_on_the_comparison_range():
    words = np.linspace(0, 2**32 - 1, 4096 * 15, dtype=np.uint64)
    scaled = scale_word(words, 4)
    assert scaled.min() == 0 and scaled.max() == 14
    assert np.bincount(scaled).tolist() == [4096] * 15


def test_sample_signs_extreme_codes_are_deterministic_and_middle_is_fair():
    randoms = np.arange(15)  # every value on 0 .. 2**4 - 2
    assert (sample_signs(np.uint16(0), randoms) == -1).all()
    assert (sample_signs(np.uint16(15), randoms) == 1).all()
    # code c in between: +1 for exactly c of the 15 random values, P = c / 15
    assert (sample_signs(np.uint16(5), randoms) == 1).sum() == 5


def test_k1_codes_reproduce_mode_weights():
    probs = np.array([0.1, 0.49, 0.51, 0.9])
    randoms = random_codes(1, 0, 0, n_in=4, n_out=3, reuse=1, k=1)
    assert (randoms == 0).all()
    signs = sample_signs(quantize_probability(probs, 1), randoms)
    assert (signs == np.array([-1, -1, 1, 1])).all()


def test_saturate_two_complement_limits():
    assert saturate(np.array([-200, -128, 0, 127, 300]), 8).tolist() == [-128, -128, 0, 127, 127]


def test_time_ensemble_sample_schedule():
    assert segment_of_timestep(np.arange(8), 8, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert segment_of_timestep(np.arange(8), 8, 3).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]


def test_cycle_breakdown_broadcasts_over_images():
    cfg = AcceleratorConfig(widths=(16, 8, 4), pe=2, samples=4, timesteps=4, ensemble="time")
    events = np.random.default_rng(0).integers(0, 8, size=(5, 1, 4, 2))
    batch = cycle_breakdown_from_events(cfg, events)["total"]
    single = [float(cycle_breakdown_from_events(cfg, e)["total"]) for e in events]
    assert batch.tolist() == single


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"widths": (784,)}, "widths"),
        ({"widths": (784, 0, 10)}, "widths"),
        ({"pe": 0}, "pe"),
        ({"k_bits": 0}, "k_bits"),
        ({"membrane_bits": 2}, "membrane_bits"),
        ({"ensemble": "time", "samples": 9, "timesteps": 8}, "samples"),
        ({"sampling": "lazy"}, "sampling"),
        ({"clock_mhz": 0}, "clock_mhz"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    base = {"widths": (64, 32, 10)}
    with pytest.raises(HardwareInputError, match=field) as info:
        AcceleratorConfig(**{**base, **kwargs})
    assert "\n" not in str(info.value)
