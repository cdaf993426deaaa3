"""Small random convolutional designs exported as HLS projects, for the C-simulation tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hls.export import export_project
from hls.tools.design_spread import random_conv_snn
from hwmodel.architecture import flat_size, parse_blocks
from hwmodel.template import AcceleratorConfig

N_DESIGNS = 8
SHAPES = ((1, 8, 8), (2, 6, 6), (1, 4, 4), (3, 5, 5), (1, 6, 6))


def assert_modes_and_fronts_covered(configs: list[AcceleratorConfig]) -> None:
    """What every random conv test set must hold: each ensemble x sampling mode with drawn
    weights, two deterministic designs, one and two blocks, pooled and unpooled ones."""
    drawn = [c for c in configs if not c.deterministic]
    assert {(c.ensemble, c.sampling) for c in drawn} == {
        (e, s) for e in ("repeat", "time") for s in ("memory", "regenerate")
    }
    assert sum(c.deterministic for c in configs) == 2
    assert {c.n_conv for c in configs} == {1, 2}
    assert {s.pool for c in configs for s in c.conv_shapes} == {True, False}


def assert_fronts_fire(runs: list[tuple[AcceleratorConfig, np.ndarray]]) -> None:
    """The conv fronts of (design, golden spike counts [image, layer]) runs spike, and their
    last block hands events to the head in at least one image per design on average: a
    bit-exact comparison of silent fronts would mean nothing."""
    assert sum(int(spikes[:, : c.n_conv].sum()) for c, spikes in runs) > 0
    assert sum(int((spikes[:, c.n_conv - 1] > 0).sum()) for c, spikes in runs) >= len(runs)


def random_conv_design(seed: int) -> AcceleratorConfig:
    """A small convolutional design: the seed walks ensemble x sampling, one or two blocks
    (every third seed two) and the image shapes; seeds 4 and 7 are deterministic (k = 1)."""
    rng = np.random.default_rng(seed + 2300)
    ensemble = ("repeat", "time")[seed % 2]
    shape = SHAPES[seed % len(SHAPES)]
    blocks = [f"{int(rng.integers(1, 17))}{'p' if rng.random() < 0.6 else ''}"]
    if seed % 3 == 1:
        blocks.insert(0, f"{int(rng.integers(1, 9))}p")
    conv = ",".join(blocks)
    hidden = [int(rng.integers(3, 11))] if rng.random() < 0.5 else []
    timesteps = int(rng.integers(1, 5))
    return AcceleratorConfig(
        widths=(flat_size(shape, parse_blocks(conv)), *hidden, int(rng.integers(2, 6))),
        input_shape=shape,
        conv=conv,
        pe=int(rng.integers(1, 5)),
        synapses_per_cycle=int(rng.integers(1, 3)),
        sample_lanes=1 + seed % 3,
        k_bits=1 if seed in (4, 7) else int(rng.integers(2, 9)),
        membrane_bits=int(rng.integers(6, 17)),
        reuse=int(2 ** rng.integers(0, 4)),
        sampling=("memory", "regenerate")[(seed // 2) % 2],
        ensemble=ensemble,
        timesteps=timesteps,
        samples=int(rng.integers(1, (timesteps if ensemble == "time" else 3) + 1)),
        input_bits=int(rng.integers(1, 9)),
        seed=int(rng.integers(0, 2**32)),
    )


def export_random_network(
    config: AcceleratorConfig, out: Path, rng: np.random.Generator, n_images: int, backend: str
) -> None:
    """Export `config` with a random network (`random_conv_snn`) and `n_images` random images
    from `rng` as a `backend` project."""
    snn = random_conv_snn(config, rng)
    images = rng.uniform(0, 1, (n_images, config.layer_sizes[0]))
    labels = rng.integers(0, config.widths[-1], n_images)
    export_project(snn, config, images, labels, out, design_name=out.name, backend=backend)


def export_conv(seed: int, out: Path, n_images: int = 3) -> AcceleratorConfig:
    """`random_conv_design(seed)` as an HLS project in `out`."""
    config = random_conv_design(seed)
    export_random_network(config, out, np.random.default_rng(seed + 3300), n_images, "hls")
    return config


def save_conv_model(out: Path) -> list[str]:
    """An untrained saved model with a convolutional front (1 x 8 x 8, `4p`, head 64-10) in
    `out`, and the `dse export --model` arguments of a small design of it (no --out)."""
    import torch

    from models.io import save_model
    from models.network import BayesBinaryNet
    from models.training import TrainConfig, TrainedModel

    torch.manual_seed(0)
    net = BayesBinaryNet((64, 10), input_shape=(1, 8, 8), blocks="4p", lam_init=2.0).eval()
    config = TrainConfig(widths=(), conv="4p")
    model = save_model(TrainedModel(network=net, config=config, dataset="digits"), out)
    args = ["export", "--model", str(model), "--images", "2", "--timesteps", "2"]
    return [*args, "--samples", "1", "--pe", "2", "--k-bits", "4"]
