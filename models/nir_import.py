"""Import a feed-forward NIR graph of binary integrate-and-fire layers as a dse model.

What maps (docs/interop.md, "Import"): one chain

    Input -> [Flatten] -> (Affine | Linear) -> (IF | LIF) -> ... -> (Affine | Linear)
          -> [IF | LIF | I | LI] -> Output

Every other node, a branch, a recurrent edge or a subgraph is refused with one line naming
the node.  Conv2d and pooling nodes are refused too: importing dse's convolutional layers
from NIR is not supported yet.

The rules, per weight layer (a dense node and the neuron after it):

* **Weights are binary.**  Each neuron's incoming weights must be ``+-a`` for one magnitude
  ``a > 0`` (within 1e-6 relative): they are stored as their signs (P(w = +1) = 1 or 0, a
  deterministic network) and ``a`` is divided out of the neuron's bias and threshold, which
  changes no spike.  The output layer takes one ``a`` for all classes (it goes into the
  output scale: the hardware has no per-class scale).  Anything else (zeros, several
  magnitudes) is refused: the hardware stores 1-bit weights and has no multi-bit weight path.
* **Per-step input gain.**  IF adds ``r * I`` per timestep; LIF ``r * dt / tau * I`` (1 for
  ``tau = r = inf``, snnTorch's export of ``beta = 1``: it writes ``r = tau / dt``); the
  gain is divided out of the threshold like ``a``.  ``dt`` is snnTorch's 1e-4 s unless given.
* **No leak.**  dse's neurons do not leak: an LIF's leak per step ``dt / tau`` must be at most
  `MAX_LEAK` (1e-6), else the node is refused.
* **Reset.**  A node whose metadata says ``reset: subtract`` subtracts its threshold, as dse
  does.  NIR's own IF/LIF text resets *to* ``v_reset``: such a node must have
  ``v_reset = 0``, and is imported as reset by subtraction, with a note; the two agree
  wherever a membrane does not overshoot its threshold when it fires.  snnTorch's `Leaky`
  subtracts by default and its exporter writes ``v_reset = 0`` whatever it ran, so for a
  network trained in snnTorch the subtraction is the exact reading.  Another ``v_reset`` is
  refused.
* **Firing rule.**  NIR's neurons (and snnTorch's) fire when ``v > v_threshold``; the layer is
  imported as `strict` (the float model compares with ``>``, the integer model starts the
  membrane one unit lower), unless its metadata says ``fire: "v >= v_threshold"``.
* **Initial membrane.**  0, or the node's ``v_initial`` metadata.
* **Readout.**  A last dense node straight into Output gives dse's non-spiking output layer:
  the class score is its output summed over the timesteps.  An ``I`` or ``LI`` node there is
  the same accumulator.  A spiking ``IF``/``LIF`` readout becomes that accumulator too, with a
  note: it scores a class by its integrated input, which ranks classes like their spike
  counts only where the input rises steadily (a membrane that falls after firing keeps its
  spikes), so predictions can differ; its threshold must be the same for every class.
* **Thresholds and biases.**  After the division they are real numbers in units of the
  binary current (one input spike; for the first layer, a pixel of value 1); values within
  1e-6 of an integer are taken as that integer (float32 rounding of the division).
  Thresholds must be finite and positive.  The integer model scales them like a trained
  model's (`models.quantize`: times ``2**input_bits - 1`` in the first layer, times
  ``2**shift``, rounded); integers stay exact, so a network of integer thresholds and biases
  runs bit for bit like its float model on inputs on the ``input_bits`` grid.  Each layer's
  report says whether it is integral.

Inputs are the dataset's pixels scaled to [0, 1] (dse's loaders), applied as a constant
current at every timestep (direct encoding), the width of the first dense node.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelInputError
from models.imported import ImportedModel
from models.nir_format import (
    FIRE_AT,
    KEY_FIRE,
    KEY_INITIAL,
    KEY_RESET,
    RESET_SUBTRACT,
    require_nir,
)
from models.snn_spec import ConvertedLayer, ConvertedSNN

__all__ = ["DEFAULT_DT", "MAX_LEAK", "import_graph", "import_nir_file", "read_nir"]

#: snnTorch's time step in its NIR export and import (LIF: beta = 1 - dt / tau, r = tau / dt).
DEFAULT_DT = 1e-4
#: Largest leak per timestep (dt / tau) taken as none: dse's neurons do not leak.
MAX_LEAK = 1e-6
#: Relative tolerance of "the same magnitude" (binary weights) and of "an integer".
TOLERANCE = 1e-6

_DENSE = ("Affine", "Linear")
_SPIKING = ("IF", "LIF")
_READOUT = ("I", "LI")
_CONV = ("Conv1d", "Conv2d", "AvgPool2d", "SumPool2d")


@dataclass
class _Dense:
    name: str
    kind: str  # Affine or Linear
    weight: np.ndarray  # [n_out, n_in]
    bias: np.ndarray  # [n_out]
    initial: np.ndarray  # [n_out]: metadata v_initial (an accumulator's, as dse writes it)


@dataclass
class _Neuron:
    name: str
    kind: str
    gain: np.ndarray  # per-step input gain
    threshold: np.ndarray | None  # None: a non-spiking integrator (I, LI)
    initial: np.ndarray
    strict: bool = True
    reset_to_zero: bool = False  # NIR's reset-to-value (0), imported as subtraction
    leak: float = 0.0


@dataclass
class _Context:
    label: str  # the file's name, for error lines
    dt: float
    max_leak: float
    notes: list[str] = field(default_factory=list)

    def fail(self, node: str, kind: str, problem: str) -> ModelInputError:
        return ModelInputError(f"{self.label}: node {node!r} ({kind}): {problem}")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def read_nir(path: str | Path) -> Any:
    """`nir.read` of `path`; a missing or unreadable file is one ModelInputError line."""
    nir = require_nir()
    path = Path(path)
    if not path.is_file():
        raise ModelInputError(f"{path}: no such NIR file; check the path")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py, KeyError, nir's type checks: anything means "not NIR"
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise ModelInputError(
            f"{path.name}: not a NIR file that nir.read can load ({type(exc).__name__}: "
            f"{reason}); write it with nir.write or your framework's NIR export"
        ) from None


def _chain(graph: Any, ctx: _Context) -> list[tuple[str, Any]]:
    """The nodes between the graph's Input and Output, in order; anything else is refused."""
    nir = require_nir()
    nodes = graph.nodes
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise ctx.fail(
                name,
                "NIRGraph",
                "a subgraph (e.g. a recurrent layer) has no dse form; dse "
                "imports one feed-forward chain of Linear/Affine and IF/LIF nodes",
            )
    ends = {
        kind: [n for n, node in nodes.items() if isinstance(node, cls)]
        for kind, cls in (("Input", nir.Input), ("Output", nir.Output))
    }
    for kind, names in ends.items():
        if len(names) != 1:
            raise ModelInputError(
                f"{ctx.label}: the graph has {len(names)} {kind} nodes; dse imports a chain "
                f"with exactly one Input and one Output"
            )
    following: dict[str, list[str]] = defaultdict(list)
    preceding: dict[str, list[str]] = defaultdict(list)
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in nodes:
                raise ModelInputError(
                    f"{ctx.label}: an edge names {end!r}, which is not a node of the graph"
                )
        following[src].append(dst)
        preceding[dst].append(src)
    order, current, seen = [], ends["Input"][0], {ends["Input"][0]}
    while current != ends["Output"][0]:
        after = following[current]
        if len(after) != 1:
            kind = type(nodes[current]).__name__
            raise ctx.fail(
                current,
                kind,
                f"it feeds {len(after)} nodes; dse imports one chain from Input "
                "to Output (no branches)",
            )
        current = after[0]
        kind = type(nodes[current]).__name__
        if len(preceding[current]) != 1 or current in seen:
            raise ctx.fail(
                current,
                kind,
                f"it has {len(preceding[current])} inputs (a recurrent or "
                "residual connection); dse imports one feed-forward chain",
            )
        seen.add(current)
        if current != ends["Output"][0]:
            order.append((current, nodes[current]))
    stray = [name for name in nodes if name not in seen]
    if stray:
        raise ctx.fail(
            stray[0],
            type(nodes[stray[0]]).__name__,
            "it is not on the path from Input to Output; remove it",
        )
    return order


def _vector(value: Any, size: int, what: str, name: str, kind: str, ctx: _Context) -> np.ndarray:
    """A per-neuron parameter as float64 [size] (a scalar is broadcast)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
        arr = np.broadcast_to(arr.reshape(-1) if arr.size == size else arr, (size,)).copy()
    except (TypeError, ValueError):
        shape = np.shape(value)
        raise ctx.fail(name, kind, f"{what} has shape {shape}, not ({size},)") from None
    if np.any(np.isnan(arr)):
        raise ctx.fail(name, kind, f"{what} holds NaN; fix the exported parameters")
    return arr


def _dense(name: str, node: Any, ctx: _Context) -> _Dense:
    kind = type(node).__name__
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ctx.fail(name, kind, f"weight has shape {weight.shape}; dse imports 2-D weights")
    if not np.all(np.isfinite(weight)):
        raise ctx.fail(name, kind, "weight holds inf or NaN; fix the exported weights")
    size = weight.shape[0]
    bias = np.zeros(size) if kind == "Linear" else _vector(node.bias, size, "bias", name, kind, ctx)
    if not np.all(np.isfinite(bias)):
        raise ctx.fail(name, kind, "bias holds inf; fix the exported biases")
    initial = np.zeros(size)
    if KEY_INITIAL in _metadata(node):
        initial = _vector(
            _metadata(node)[KEY_INITIAL], size, f"metadata {KEY_INITIAL}", name, kind, ctx
        )
    return _Dense(name, kind, weight, bias, initial)


def _magnitudes(dense: _Dense, ctx: _Context) -> np.ndarray:
    """Each row's one magnitude ``a`` (binary weights +-a), or the refusal."""
    mags = np.abs(dense.weight)
    top = mags.max(axis=1)
    for row in range(mags.shape[0]):
        if top[row] == 0:
            raise ctx.fail(
                dense.name,
                dense.kind,
                f"neuron {row}'s weights are all 0; dse stores 1-bit weights (+-1): binarize "
                "the weights (e.g. sign) before exporting",
            )
        off = np.abs(mags[row] - top[row]) > TOLERANCE * top[row]
        if off.any():
            low = float(mags[row][off].min())
            raise ctx.fail(
                dense.name,
                dense.kind,
                f"neuron {row}'s weights are not +-a for one a (magnitudes "
                f"{low:.4g} to {float(top[row]):.4g}); dse stores 1-bit weights and has no "
                "multi-bit weight path: binarize them (e.g. sign, one scale per neuron) before "
                "exporting",
            )
    return top


def _metadata(node: Any) -> dict[str, Any]:
    meta = getattr(node, "metadata", None)
    return meta if isinstance(meta, dict) else {}


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _leaky_gain(
    name: str, kind: str, node: Any, size: int, ctx: _Context
) -> tuple[np.ndarray, float]:
    """Per-step gain r * dt / tau and the largest leak dt / tau of an LIF or LI node."""
    tau = _vector(node.tau, size, "tau", name, kind, ctx)
    r = _vector(node.r, size, "r", name, kind, ctx)
    if np.any(tau <= 0):
        raise ctx.fail(name, kind, "tau <= 0 is not a time constant; fix the exported tau")
    leak = float(np.max(ctx.dt / tau, initial=0.0))
    if leak > ctx.max_leak:
        raise ctx.fail(
            name,
            kind,
            f"its leak dt/tau = {leak:.3g} per step (dt = {ctx.dt:g} s, tau = "
            f"{float(tau.min()):.3g} s) is not negligible (at most {ctx.max_leak:g}); dse's "
            "neurons do not leak: retrain without leak (snnTorch: beta = 1; tau = inf), or "
            "give the file's own time step with --dt",
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(np.isinf(tau), np.where(np.isinf(r), 1.0, 0.0), r * ctx.dt / tau)
    return gain, leak


def _neuron(name: str, node: Any, size: int, ctx: _Context) -> _Neuron:
    kind = type(node).__name__
    meta = _metadata(node)
    if kind == "IF":
        gain, leak = _vector(node.r, size, "r", name, kind, ctx), 0.0
    elif kind in ("LIF", "LI"):
        gain, leak = _leaky_gain(name, kind, node, size, ctx)
    else:  # I
        gain, leak = _vector(node.r, size, "r", name, kind, ctx), 0.0
    if not np.all(np.isfinite(gain) & (gain > 0)):
        raise ctx.fail(
            name,
            kind,
            "its input gain (IF, I: r; LIF, LI: r * dt / tau) is not a finite "
            "positive number; fix r (snnTorch's export writes r = tau / dt)",
        )
    initial = np.zeros(size)
    if KEY_INITIAL in meta:
        initial = _vector(meta[KEY_INITIAL], size, f"metadata {KEY_INITIAL}", name, kind, ctx)
    if kind in _READOUT:
        return _Neuron(name, kind, gain, None, initial, leak=leak)
    threshold = _vector(node.v_threshold, size, "v_threshold", name, kind, ctx)
    if not np.all(np.isfinite(threshold) & (threshold > 0)):
        raise ctx.fail(
            name,
            kind,
            "v_threshold must be finite and > 0 for every neuron (the hardware "
            "compares the membrane with a positive threshold); fix the exported thresholds",
        )
    subtract = _text(meta.get(KEY_RESET, "")) == RESET_SUBTRACT
    if not subtract:
        v_reset = _vector(node.v_reset, size, "v_reset", name, kind, ctx)
        if np.any(v_reset != 0):
            raise ctx.fail(
                name,
                kind,
                f"it resets to v_reset = {float(v_reset[v_reset != 0][0]):g}; "
                "dse's neurons subtract the threshold and can stand in only for a reset to 0: "
                "export with v_reset = 0 (or metadata reset: subtract if it subtracts)",
            )
    strict = _text(meta.get(KEY_FIRE, "")) != FIRE_AT
    return _Neuron(name, kind, gain, threshold, initial, strict, not subtract, leak)


def _snap(values: np.ndarray) -> np.ndarray:
    """Values within `TOLERANCE` (relative) of an integer, taken as that integer."""
    nearest = np.round(values)
    close = np.abs(values - nearest) <= TOLERANCE * np.maximum(1.0, np.abs(values))
    return np.where(close, nearest, values)


def _integral(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def _layers(chain: list[tuple[str, Any]], ctx: _Context) -> list[tuple[_Dense, _Neuron | None]]:
    """Pair every dense node with the neuron after it (None: a plain readout)."""
    pairs: list[tuple[_Dense, _Neuron | None]] = []
    for position, (name, node) in enumerate(chain):
        kind = type(node).__name__
        if kind == "Flatten":
            if pairs:
                raise ctx.fail(
                    name,
                    kind,
                    "a Flatten after a weight layer has no dse form; flatten the input only",
                )
            continue
        if kind in _DENSE:
            if pairs and pairs[-1][1] is None:
                raise ctx.fail(
                    name,
                    kind,
                    "two weight layers in a row (no neuron between); "
                    "fold them into one or add IF neurons",
                )
            dense = _dense(name, node, ctx)
            if pairs and dense.weight.shape[1] != pairs[-1][0].weight.shape[0]:
                raise ctx.fail(
                    name,
                    kind,
                    f"it takes {dense.weight.shape[1]} inputs, but the "
                    f"layer before has {pairs[-1][0].weight.shape[0]} neurons",
                )
            pairs.append((dense, None))
            continue
        if kind in _SPIKING + _READOUT:
            if not pairs or pairs[-1][1] is not None:
                raise ctx.fail(
                    name,
                    kind,
                    "a neuron must follow a Linear/Affine node; dse "
                    "imports (weights, neurons) pairs",
                )
            last = position == len(chain) - 1
            if kind in _READOUT and not last:
                raise ctx.fail(
                    name,
                    kind,
                    "a non-spiking integrator is allowed only as the "
                    "readout before Output; hidden layers need IF or LIF neurons",
                )
            dense = pairs[-1][0]
            pairs[-1] = (dense, _neuron(name, node, dense.weight.shape[0], ctx))
            continue
        if kind in _CONV:
            problem = (
                "conv: NIR import of convolutions and pooling is not supported yet "
                "(docs/interop.md); import Linear/Affine layers"
            )
        elif kind in ("CubaLIF", "CubaLI"):
            problem = (
                "its synaptic current filter (tau_syn) has no dse form; use IF or LIF "
                "neurons (snnTorch: Leaky with beta = 1)"
            )
        else:
            problem = (
                "dse imports Input, Flatten, Linear/Affine, IF/LIF (and I/LI as the "
                "readout) and Output"
            )
        raise ctx.fail(name, kind, problem)
    if not pairs:
        raise ModelInputError(f"{ctx.label}: the graph has no Linear/Affine node to import")
    for dense, neuron in pairs[:-1]:
        if neuron is None:
            raise ctx.fail(dense.name, dense.kind, "a hidden weight layer needs IF/LIF neurons")
    return pairs


def _hidden_layer(
    index: int, dense: _Dense, neuron: _Neuron, ctx: _Context
) -> tuple[ConvertedLayer, dict]:
    mags = _magnitudes(dense, ctx)
    scale = mags * neuron.gain  # divides the membrane: v' = v / (a * gain)
    threshold = _snap(neuron.threshold / scale)
    bias = _snap(dense.bias / mags)
    initial = _snap(neuron.initial / scale)
    layer = ConvertedLayer(
        prob=(dense.weight > 0).astype(np.float64),
        threshold=threshold,
        bias=bias,
        initial=initial,
        spiking=True,
        strict=neuron.strict,
    )
    return layer, _report(index, dense, neuron, mags, layer)


def _output_layer(
    index: int, dense: _Dense, neuron: _Neuron | None, output_scale: float | None, ctx: _Context
) -> tuple[ConvertedLayer, float, dict]:
    """The non-spiking output layer and its output scale (the one factor per class the
    hardware cannot apply: probabilities are softmax(output_scale * scores / T))."""
    mags = _magnitudes(dense, ctx)
    factor = mags.copy()
    if neuron is not None:
        factor = factor * neuron.gain
        if neuron.threshold is not None:  # a spiking readout: rate ~ input / threshold
            factor = factor / neuron.threshold
            ctx.note(
                f"node {neuron.name!r} ({neuron.kind}) is a spiking readout: it becomes dse's "
                "non-spiking output layer, which scores each class by its integrated input; "
                "that ranks classes as their spike counts do only where a class's input rises "
                "steadily, so predictions can differ (docs/interop.md); a Linear readout "
                "summed over time imports exactly"
            )
    if np.any(np.abs(factor - factor[0]) > TOLERANCE * abs(factor[0])):
        who = dense.name if neuron is None else f"{dense.name}/{neuron.name}"
        raise ModelInputError(
            f"{ctx.label}: node {who!r} (output layer): its classes have different weight "
            "magnitudes, gains or thresholds; the hardware has no per-class scale: use one "
            "weight magnitude (and threshold) for every class"
        )
    a = mags[0]
    initial = dense.initial if neuron is None else neuron.initial
    gain = 1.0 if neuron is None else neuron.gain[0]
    layer = ConvertedLayer(
        prob=(dense.weight > 0).astype(np.float64),
        threshold=np.ones(len(mags)),
        bias=_snap(dense.bias / a),
        initial=_snap(initial / (a * gain)),
        spiking=False,
    )
    scale = float(factor[0]) if output_scale is None else output_scale
    return layer, scale, _report(index, dense, neuron, mags, layer)


def _report(
    index: int, dense: _Dense, neuron: _Neuron | None, mags: np.ndarray, layer: ConvertedLayer
) -> dict[str, Any]:
    """One layer of the import report (settings.json and the command's output)."""
    unit = 255.0 if index == 0 else 1.0  # current units of an 8-bit pixel / one spike
    values = [layer.bias, layer.initial] + ([layer.threshold] if layer.spiking else [])
    return {
        "nodes": [dense.name] + ([neuron.name] if neuron is not None else []),
        "neuron": "accumulator" if neuron is None else neuron.kind,
        "neurons": int(layer.prob.shape[0]),
        "spiking": layer.spiking,
        "weight_magnitude": [float(mags.min()), float(mags.max())],
        "threshold": [float(layer.threshold.min()), float(layer.threshold.max())],
        "bias": [float(layer.bias.min()), float(layer.bias.max())],
        "fire": "v > threshold" if layer.strict else "v >= threshold",
        "reset": (
            "none (accumulator)"
            if not layer.spiking
            else "to 0 in the file; imported as subtraction"
            if neuron is not None and neuron.reset_to_zero
            else "subtract"
        ),
        "integral": all(_integral(v * unit) for v in values),
    }


def _dataset_shape(dataset: str, data_root: str | Path | None) -> tuple[int, int]:
    """(inputs, classes) of `dataset`: known for the named ones (nothing loaded), read from
    the file for ``npz``, the user's own images."""
    from models.datasets import KINDS, NPZ, SHAPES, load_dataset

    if dataset not in KINDS:
        raise ModelInputError(f"--dataset: {dataset!r} is not one of {', '.join(KINDS)}")
    if dataset != NPZ:
        return SHAPES[dataset]
    if data_root is None:
        raise ModelInputError("--data-root: missing; npz needs its file, e.g. --data-root x.npz")
    splits = load_dataset(NPZ, root=data_root, root_hint="pass --data-root FILE.npz")
    return splits.input_dim, splits.num_classes


def import_graph(
    graph: Any,
    dataset: str,
    *,
    label: str = "graph",
    dt: float = DEFAULT_DT,
    max_leak: float = MAX_LEAK,
    source: dict[str, Any] | None = None,
    data_root: str | Path | None = None,
) -> ImportedModel:
    """The dse model of a NIR graph (module doc) for `dataset`'s images (`data_root`: the
    file of ``npz``); one ModelInputError line, naming the node, for anything that does not
    map."""
    inputs, classes = _dataset_shape(dataset, data_root)
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise ModelInputError(f"--dt: {dt!r} must be a positive number of seconds, e.g. 1e-4")
    ctx = _Context(label=label, dt=float(dt), max_leak=float(max_leak))
    pairs = _layers(_chain(graph, ctx), ctx)
    meta = _metadata(graph)
    output_scale = meta.get("output_scale")
    output_scale = None if output_scale is None else float(output_scale)
    layers, reports = [], []
    for index, (dense, neuron) in enumerate(pairs[:-1]):
        layer, report = _hidden_layer(index, dense, neuron, ctx)
        layers.append(layer)
        reports.append(report)
    out, scale, report = _output_layer(len(pairs) - 1, *pairs[-1], output_scale, ctx)
    layers.append(out)
    reports.append(report)
    if any(n is not None and n.reset_to_zero for _, n in pairs):
        ctx.note(
            "the file's IF/LIF nodes reset to v_reset = 0 (NIR's rule); dse's neurons subtract "
            "the threshold, which is what snnTorch's Leaky does by default (its exporter "
            "writes v_reset = 0 whatever it ran): spike counts differ from a reset-to-zero "
            "simulator wherever a membrane overshoots its threshold"
        )
    snn = ConvertedSNN(layers=layers, output_scale=scale)
    if snn.widths[0] != inputs or snn.widths[-1] != classes:
        raise ModelInputError(
            f"--dataset: {dataset} has {inputs} inputs and {classes} classes, but the network "
            f"is {'-'.join(map(str, snn.widths))}; name the dataset it was trained on"
        )
    if not all(r["integral"] for r in reports):
        ctx.note(
            "some thresholds or biases are not integers in current units: the integer model "
            "rounds them (at each layer's shift), so it agrees with the float model within "
            "the usual rounding, not bit for bit"
        )
    return ImportedModel(
        snn=snn, dataset=dataset, source=dict(source or {}), notes=ctx.notes, layers=reports
    )


def import_nir_file(
    path: str | Path,
    dataset: str,
    *,
    dt: float = DEFAULT_DT,
    max_leak: float = MAX_LEAK,
    data_root: str | Path | None = None,
) -> ImportedModel:
    """`import_graph` of the NIR file at `path`, its provenance recorded in the model."""
    nir = require_nir()
    path = Path(path)
    graph = read_nir(path)
    meta = _metadata(graph)
    source = {
        "file": str(path.resolve()),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "nir_version": getattr(nir, "__version__", ""),
        "producer": _text(meta.get("producer", "unknown")),
        "dt": dt,
    }
    return import_graph(
        graph,
        dataset,
        label=path.name,
        dt=dt,
        max_leak=max_leak,
        source=source,
        data_root=data_root,
    )
