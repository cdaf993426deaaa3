"""Export a converted SNN as a NIR graph (PyPI `nir`): the interchange file of the spiking
ecosystem (snnTorch, Norse, Sinabs, Lava-DL, SpiNNaker2, Xylo).

The graph is one chain (docs/interop.md, "Export"):

    input -> fc0 (Affine) -> if0 (IF) -> ... -> fcL (Affine) -> output

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

Convolutional designs are refused (`CONV_UNSUPPORTED`): their NIR form (Conv2d, IF, and the
OR pooling as a SumPool2d followed by a spiking threshold) is not written yet.

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

from models.errors import ModelInputError
from models.nir_format import (
    FIRE_ABOVE,
    FIRE_AT,
    FORMAT,
    KEY_FIRE,
    KEY_INITIAL,
    KEY_RESET,
    RESET_SUBTRACT,
    require_nir,
)
from models.snn_spec import ConvertedSNN

if TYPE_CHECKING:
    from hwmodel.template import AcceleratorConfig

__all__ = [
    "CONV_UNSUPPORTED",
    "NirExport",
    "deterministic",
    "export_nir",
    "one_weight_set",
    "to_graph",
    "write_graph",
]

#: The one-line refusal of a convolutional design.
CONV_UNSUPPORTED = (
    "conv: NIR export of convolutional layers is not supported yet; export a dense design "
    "(no conv blocks) to NIR, or this one with --backend rtl or hls"
)


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


def to_graph(snn: ConvertedSNN, *, timesteps: int, metadata: dict[str, Any] | None = None) -> Any:
    """The `nir.NIRGraph` of a deterministic SNN (module doc); `metadata` joins the graph's."""
    nir = require_nir()
    if any(layer.conv is not None for layer in snn.layers):
        raise ModelInputError(CONV_UNSUPPORTED)
    if not deterministic(snn):
        raise ModelInputError(
            "weights: NIR has no weight sampling; fix one set of weights first (one_weight_set)"
        )
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([snn.widths[0]]))}
    edges, previous = [], "input"
    last = len(snn.layers) - 1
    for index, layer in enumerate(snn.layers):
        n_out = layer.prob.shape[0]
        signs = np.where(layer.prob >= 0.5, 1, -1).astype(np.int8)
        bias = np.asarray(layer.bias, dtype=np.float64)
        dense, neuron = f"fc{index}", f"if{index}"
        initial = np.asarray(layer.initial, dtype=np.float64)
        if index == last:
            nodes[dense] = nir.Affine(weight=signs, bias=bias, metadata={KEY_INITIAL: initial})
            edges += [(previous, dense), (dense, "output")]
            continue
        nodes[dense] = nir.Affine(weight=signs, bias=bias)
        nodes[neuron] = nir.IF(
            r=np.ones(n_out),
            v_threshold=np.asarray(layer.threshold, dtype=np.float64),
            v_reset=np.zeros(n_out),
            metadata={
                KEY_RESET: RESET_SUBTRACT,
                KEY_FIRE: FIRE_ABOVE if layer.strict else FIRE_AT,
                KEY_INITIAL: initial,
            },
        )
        edges += [(previous, dense), (dense, neuron)]
        previous = neuron
    nodes["output"] = nir.Output(output_type=np.array([snn.widths[-1]]))
    meta = {
        "format": FORMAT,
        "producer": _producer(),
        "timesteps": int(timesteps),
        "output_scale": float(snn.output_scale),
        "input": (
            "the image's pixels scaled to [0, 1], applied as a constant input current at every "
            "timestep (direct encoding)"
        ),
        "output": (
            f"class scores: the outputs of fc{last} summed over the timesteps, plus its "
            "v_initial; probabilities softmax(output_scale * scores / timesteps)"
        ),
        "neurons": (
            "IF nodes subtract v_threshold when they fire (metadata reset: subtract; NIR's text "
            "resets to v_reset, a reader must subtract instead), fire as their metadata fire "
            "says and start at their metadata v_initial (NIR's text: 0)"
        ),
        **(metadata or {}),
    }
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
