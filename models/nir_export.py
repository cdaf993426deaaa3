"""Export a converted SNN as a NIR graph (PyPI `nir`): the interchange file of the spiking
ecosystem (snnTorch, Norse, Sinabs, Lava-DL, SpiNNaker2, Xylo).

The graph is one chain (docs/interop.md, "Export"):

    input -> fc0 (Affine) -> if0 (IF) -> ... -> fcL (Affine) -> output

or, with a convolutional front (last bullet),

    input -> conv0 -> if0 [-> pool0 -> or0] -> ... -> flatten -> fcK -> ifK -> ... -> output

* ``fcN``: `nir.Affine` whose ``weight`` is the layer's binary weights as int8 (+1/-1: what
  the hardware stores, one bit each) and ``bias`` the per-timestep bias (float64).
* ``ifN``: `nir.IF` with ``r = 1``, per-neuron ``v_threshold``, ``v_reset = 0`` and the
  metadata NIR has no field for (`models.nir_format`): ``reset: subtract`` (dse subtracts the
  threshold; NIR's text resets to ``v_reset``, so a reader must subtract instead), ``fire``
  (dse's converted layers fire at ``v >= v_threshold``, NIR's text above it) and
  ``v_initial`` (dse starts a converted layer at half its threshold; NIR starts at 0).
* The output layer is dse's non-spiking accumulator: the last Affine feeds ``output``
  directly, and the class scores are its outputs summed over ``timesteps`` (plus the
  ``v_initial`` in its metadata, 0 for a converted network); probabilities are
  ``softmax(output_scale * scores / timesteps)``.
* The input is the image's pixels scaled to [0, 1], applied as a constant current at every
  timestep (direct encoding); the hardware quantizes it to ``input_bits`` bits.
* A convolutional front comes first: per block ``convN`` (`nir.Conv2d`, the 3x3 kernel's
  signs as int8 [C_out, C_in, 3, 3], zero padding 1, a bias per channel) and ``ifN`` (`nir.IF`
  over the block's (C, H, W) neurons, the per-channel parameters broadcast); a pooled block
  adds ``poolN`` (`nir.SumPool2d`, 2x2, stride 2) and ``orN``: `nir.IF` neurons of threshold
  1/2 that reset to 0 (metadata ``reset: zero``), so that each spikes in a timestep exactly
  when any of its four inputs did - dse's OR pooling.  ``flatten`` (`nir.Flatten` from
  dimension 0 of (C, H, W): channel-major, dse's order) leads into the dense layers, and the
  input is the image (C, H, W).

NIR has no weight sampling and no ensembles, so a Bayesian design is exported as one set of
±1 weights: weight sample ``s`` of the float model (`models.snn_float.sample_weights`, keyed
by the design's seed, as every evaluation draws it) or the posterior's mode; the graph's
``weights`` metadata says which, and so does `export_nir`'s result.  A deterministic design
(STE, the posterior mode, an imported network) is exported as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwmodel.architecture import KERNEL, POOL
from models.errors import ModelInputError
from models.nir_format import (
    FIRE_ABOVE,
    FIRE_AT,
    FORMAT,
    KEY_FIRE,
    KEY_INITIAL,
    KEY_RESET,
    RESET_SUBTRACT,
    RESET_ZERO,
    require_nir,
)
from models.snn_spec import ConvertedLayer, ConvertedSNN

if TYPE_CHECKING:
    from hwmodel.template import AcceleratorConfig

__all__ = [
    "NirExport",
    "deterministic",
    "export_nir",
    "one_weight_set",
    "to_graph",
    "write_graph",
]


def deterministic(snn: ConvertedSNN) -> bool:
    """Whether every weight is fixed (P(w = +1) is 0 or 1)."""
    return all(np.isin(layer.prob, (0.0, 1.0)).all() for layer in snn.layers)


def one_weight_set(
    snn: ConvertedSNN, weight_sample: str | int, seed: int
) -> tuple[ConvertedSNN, str]:
    """`snn` with one set of ±1 weights, and what they are, in words.

    `weight_sample`: ``"mode"`` (+1 where P(w = +1) >= 1/2) or a sample index ``s``: the
    float model's weight sample s of `seed` (`models.snn_float.sample_weights`).  A
    deterministic network is returned as it is.
    """
    if deterministic(snn):
        return snn, "the design's weights (deterministic: no weight sampling)"
    if weight_sample == "mode":
        layers = [
            replace(layer, prob=(layer.prob >= 0.5).astype(np.float64)) for layer in snn.layers
        ]
        described = "the posterior's mode (+1 where P(w = +1) >= 1/2)"
        return ConvertedSNN(layers=layers, output_scale=snn.output_scale), described
    if isinstance(weight_sample, bool) or not isinstance(weight_sample, int) or weight_sample < 0:
        raise ModelInputError(
            f"--weight-sample: {weight_sample!r} must be mode or a sample index >= 0, e.g. 0"
        )
    from models.snn_float import sample_weights

    drawn = sample_weights(snn, weight_sample + 1, seed=seed, device="cpu")
    layers = [
        replace(layer, prob=(drawn.layers[index][weight_sample].T > 0).numpy().astype(np.float64))
        for index, layer in enumerate(snn.layers)
    ]
    described = (
        f"weight sample {weight_sample} of seed {seed} (models.snn_float.sample_weights: the "
        "float model's draw)"
    )
    return ConvertedSNN(layers=layers, output_scale=snn.output_scale), described


def _producer() -> str:
    try:
        return f"dse {version('dse')}"
    except PackageNotFoundError:
        return "dse"


def _neuron(nir: Any, layer: ConvertedLayer, shape: tuple[int, ...]) -> Any:
    """The IF node of a spiking layer, its per-neuron (or per-channel, broadcast over the
    image) parameters shaped `shape`."""

    def per_neuron(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return np.broadcast_to(values.reshape(-1, *[1] * (len(shape) - 1)), shape).copy()

    return nir.IF(
        r=np.ones(shape),
        v_threshold=per_neuron(layer.threshold),
        v_reset=np.zeros(shape),
        metadata={
            KEY_RESET: RESET_SUBTRACT,
            KEY_FIRE: FIRE_ABOVE if layer.strict else FIRE_AT,
            KEY_INITIAL: per_neuron(layer.initial),
        },
    )


def _conv_nodes(nir: Any, index: int, layer: ConvertedLayer) -> list[tuple[str, Any]]:
    """A convolutional block as NIR nodes: the 3x3 convolution (zero padding 1) and its IF
    neurons; with pooling, the per-timestep OR of each 2x2 group as a SumPool2d into IF
    neurons of threshold 1/2 that reset to 0 (one spike when any of the four fired)."""
    conv = layer.conv
    assert conv is not None
    kernel = np.where(layer.prob >= 0.5, 1, -1).astype(np.int8)
    nodes = [
        (
            f"conv{index}",
            nir.Conv2d(
                input_shape=(conv.height, conv.width),
                weight=kernel.reshape(conv.channels, conv.in_channels, KERNEL, KERNEL),
                stride=1,
                padding=KERNEL // 2,
                dilation=1,
                groups=1,
                bias=np.asarray(layer.bias, dtype=np.float64),
            ),
        ),
        (f"if{index}", _neuron(nir, layer, (conv.channels, conv.height, conv.width))),
    ]
    if conv.pool:
        shape = (conv.channels, conv.out_height, conv.out_width)
        window = np.array([POOL, POOL])
        pool = nir.SumPool2d(kernel_size=window, stride=window, padding=np.array([0, 0]))
        gate = nir.IF(
            r=np.ones(shape),
            v_threshold=np.full(shape, 0.5),
            v_reset=np.zeros(shape),
            metadata={KEY_RESET: RESET_ZERO, KEY_FIRE: FIRE_ABOVE, KEY_INITIAL: np.zeros(shape)},
        )
        nodes += [(f"pool{index}", pool), (f"or{index}", gate)]
    return nodes


def to_graph(snn: ConvertedSNN, *, timesteps: int, metadata: dict[str, Any] | None = None) -> Any:
    """The `nir.NIRGraph` of a deterministic SNN (module doc); `metadata` joins the graph's."""
    nir = require_nir()
    if not deterministic(snn):
        raise ModelInputError(
            "weights: NIR has no weight sampling; fix one set of weights first (one_weight_set)"
        )
    image = snn.input_shape
    chain: list[tuple[str, Any]] = [
        ("input", nir.Input(input_type=np.array(image or [snn.widths[0]])))
    ]
    last = len(snn.layers) - 1
    for index, layer in enumerate(snn.layers):
        if layer.conv is not None:
            chain += _conv_nodes(nir, index, layer)
            following = snn.layers[index + 1].conv
            if following is None:  # into the dense layers: channel-major, C-order flatten
                shape = (layer.conv.channels, layer.conv.out_height, layer.conv.out_width)
                flat = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0)
                chain.append(("flatten", flat))
            continue
        signs = np.where(layer.prob >= 0.5, 1, -1).astype(np.int8)
        bias = np.asarray(layer.bias, dtype=np.float64)
        if index == last:
            initial = np.asarray(layer.initial, dtype=np.float64)
            chain.append((f"fc{index}", nir.Affine(signs, bias, metadata={KEY_INITIAL: initial})))
            continue
        chain.append((f"fc{index}", nir.Affine(weight=signs, bias=bias)))
        chain.append((f"if{index}", _neuron(nir, layer, (layer.prob.shape[0],))))
    chain.append(("output", nir.Output(output_type=np.array([snn.widths[-1]]))))
    neurons = (
        "IF nodes subtract v_threshold when they fire (metadata reset: subtract; NIR's text "
        "resets to v_reset, a reader must subtract instead), fire as their metadata fire "
        "says and start at their metadata v_initial (NIR's text: 0)"
    )
    if any(layer.conv is not None and layer.conv.pool for layer in snn.layers):
        neurons += (
            "; the orN nodes after a SumPool2d are the 2x2 OR pooling of each timestep's "
            "spikes: threshold 1/2, reset to v_reset = 0 (metadata reset: zero), as NIR says"
        )
    meta = {
        "format": FORMAT,
        "producer": _producer(),
        "timesteps": int(timesteps),
        "output_scale": float(snn.output_scale),
        "input": (
            "the image's pixels scaled to [0, 1], applied as a constant input current at every "
            "timestep (direct encoding)"
            + (f"; an image (C, H, W) = {tuple(image)}, channel first" if image else "")
        ),
        "output": (
            f"class scores: the outputs of fc{last} summed over the timesteps, plus its "
            "v_initial; probabilities softmax(output_scale * scores / timesteps)"
        ),
        "neurons": neurons,
        **(metadata or {}),
    }
    nodes = dict(chain)
    edges = [(a, b) for (a, _), (b, _) in zip(chain[:-1], chain[1:], strict=True)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_graph(graph: Any, out: str | Path, *, force: bool = False) -> Path:
    """`nir.write` to the file `out` (its folder created); an existing file needs `force`."""
    nir = require_nir()
    path = Path(out)
    if path.is_dir():
        raise ModelInputError(f"--out: {path} is a directory; name the .nir file to write")
    if path.exists() and not force:
        raise ModelInputError(f"--out: {path} exists; choose another file or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, graph)
    return path


@dataclass
class NirExport:
    """What `export_nir` wrote: the file, the SNN it holds and what its weights are."""

    path: Path
    snn: ConvertedSNN  # the exported network (deterministic)
    weights: str  # in words: the design's, a weight sample, or the mode
    notes: list[str] = field(default_factory=list)  # what NIR cannot say about the design


def export_nir(
    model_dir: str | Path,
    config: AcceleratorConfig,
    out: str | Path,
    *,
    threshold_scales: Any = None,
    weights: str = "sample",
    weight_sample: str | int = 0,
    force: bool = False,
    source: dict[str, Any] | None = None,
) -> NirExport:
    """Write the NIR file of the model saved in `model_dir` as `config` runs it (the trial's
    threshold scales and weight source), one set of weights (`one_weight_set`)."""
    from models.conversion import convert
    from models.io import load_model
    from models.training import TrainedModel

    model = load_model(model_dir)
    if tuple(model.widths) != tuple(config.widths):
        raise ModelInputError(
            f"widths: the design has {list(config.widths)} but the model in {model_dir} has "
            f"{list(model.widths)}; take the widths from the model"
        )
    snn = convert(model, threshold_scales, weights=weights)
    if deterministic(snn) or not (weight_sample == "mode" and isinstance(model, TrainedModel)):
        fixed, described = one_weight_set(snn, weight_sample, config.seed)
    else:  # the trained posterior's mode network, with the output scale fitted for it
        fixed = convert(model, threshold_scales, weights="mode")
        described = "the posterior's mode (+1 where lam >= 0; models.conversion, weights='mode')"
    notes = []
    if not deterministic(snn):
        notes.append(
            f"NIR has no weight sampling or ensembles: the design draws {config.samples} weight "
            f"sample(s) per inference ({config.ensemble} ensemble); the file holds one set of "
            f"weights, {described}"
        )
    meta = {
        "weights": described,
        "design": (
            f"{config.samples} weight sample(s) per inference, ensemble {config.ensemble}, "
            f"{config.input_bits}-bit inputs, {config.membrane_bits}-bit membranes on "
            f"{config.part} (not expressible in NIR)"
        ),
        "input_bits": int(config.input_bits),
        "source": str(Path(model_dir).resolve()),
    }
    for key, value in (source or {}).items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            meta[f"source_{key}"] = value
    graph = to_graph(fixed, timesteps=config.timesteps, metadata=meta)
    path = write_graph(graph, out, force=force)
    return NirExport(path=path, snn=fixed, weights=described, notes=notes)
