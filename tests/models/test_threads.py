"""The thread rule of the simulator calls (models.threads)."""

from __future__ import annotations

import torch

from models.threads import SMALL_WORK, evaluation_threads, free_cores, synaptic_work, threads_for


def test_work_counts_the_dense_first_layer_once_per_sample():
    # 64-256-10, S = 10, T = 8, 500 images: 10 * 500 * 64 * 256 + 80 * 500 * 256 * 10
    assert synaptic_work((64, 256, 10), 10, 8, 500) == 81_920_000 + 102_400_000
    assert synaptic_work((64, 256, 10), 10, 8, 500, dense_first=False) == 80 * 500 * 18_944
    assert synaptic_work((64, 256, 10), 8, 8, 500, runs=1) == 8 * 500 * 16_384 + 8 * 500 * 2_560


def test_one_thread_for_a_small_model_the_configured_count_for_a_large_one():
    small = synaptic_work((64, 256, 10), 10, 8, 500)
    large = synaptic_work((784, 1024, 1024, 10), 10, 8, 500)
    assert small < SMALL_WORK <= large
    assert evaluation_threads(small, configured=4, load=0.0) == 1
    assert evaluation_threads(large, configured=1, load=0.0) == 1
    cores = free_cores(0.0)
    assert evaluation_threads(large, configured=cores, load=0.0) == cores
    assert evaluation_threads(large, configured=2, load=0.0) == min(2, cores)


def test_busy_cores_cap_the_count():
    large = synaptic_work((784, 1024, 1024, 10), 10, 8, 500)
    cores = free_cores(0.0)
    assert cores >= 1 and free_cores(2.0, own=2) == cores  # its own threads are not "busy"
    assert free_cores(1e6) == 1
    assert evaluation_threads(large, configured=8, load=1e6) == 1


def test_threads_for_restores_the_count():
    before = torch.get_num_threads()
    with threads_for(1) as threads:
        assert threads == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
