"""snnTorch networks for the NIR tests: binary IF networks built in snnTorch, exported by
snnTorch's own exporter, and NIR files read back into snnTorch neurons.

snnTorch 1.0.0's `import_from_nir` cannot run an IF graph: it maps `nir.IF` to a `Leaky` with
``beta = 0.9`` (a leak) and ``init_hidden=False``, whose ``(spk, mem)`` tuple the next layer
cannot take, and it maps `nir.LIF` to a reset-to-zero `Leaky`, with NaN thresholds for
snnTorch's own ``beta = 1`` export (``tau = r = inf``).  `snntorch_from_nir` therefore wires
the graph with the same machinery (`nirtorch.nir_to_torch`, snnTorch's own converter
`_nir_to_snntorch_module` for Affine/Linear nodes) and maps each IF node to the snnTorch
neuron NIR's parameters describe: ``Leaky(beta=1)`` with the node's per-neuron thresholds,
reset and initial membrane, read from dse's metadata (or NIR's literal reading without it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

snn = pytest.importorskip("snntorch", reason="needs snntorch (the [test] extra)")
pytest.importorskip("nirtorch", reason="needs nirtorch (the [test] extra)")


def binary_if_net(
    widths: tuple[int, ...], threshold: float, seed: int, spiking_readout: bool = False
) -> torch.nn.Sequential:
    """Linear layers with +-1 weights and integer biases in {-1, 0, 1}, each hidden one followed
    by an IF neuron (snnTorch's Leaky with beta = 1, reset by subtraction, per-neuron
    parameters so that snnTorch's exporter gives every node its shape); the readout is the
    last Linear (summed over time) or, with `spiking_readout`, an IF layer after it."""
    gen = torch.Generator().manual_seed(seed)
    mods: list[torch.nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        linear = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.copy_(
                torch.where(torch.rand(n_out, n_in, generator=gen) < 0.5, 1.0, -1.0)
            )
            linear.bias.copy_(torch.randint(-1, 2, (n_out,), generator=gen).float())
        mods.append(linear)
        if index < len(widths) - 2 or spiking_readout:
            mods.append(
                snn.Leaky(
                    beta=torch.ones(n_out),
                    threshold=torch.full((n_out,), float(threshold)),
                    init_hidden=True,
                )
            )
    return torch.nn.Sequential(*mods)


def export_with_snntorch(net: torch.nn.Module, n_in: int, path: Path) -> Path:
    """snnTorch's own exporter (`snntorch.export_nir.export_to_nir`), written with nir.write.
    Its beta = 1 neurons divide by zero into tau = r = inf (a NumPy warning, silenced)."""
    from snntorch.export_nir import export_to_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 1 / (1 - beta)
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch.extract_nir_graph
        graph = export_to_nir(net, torch.rand(1, n_in), ignore_dims=[0])
    nir.write(path, graph)
    return path


@torch.no_grad()
def run_sequential(net: torch.nn.Sequential, x: torch.Tensor, timesteps: int):
    """Spike counts of every Leaky [B, n] (in order) and the readout summed over time [B, C]
    (a spiking readout's spike counts), the input applied at every step."""
    for mod in net:
        if isinstance(mod, snn.Leaky):
            mod.reset_mem()
    leaky = [m for m in net if isinstance(m, snn.Leaky)]
    counts = [None] * len(leaky)
    total = None
    for _ in range(timesteps):
        h, k = x, 0
        for mod in net:
            h = mod(h)
            if isinstance(mod, snn.Leaky):
                counts[k] = h.clone() if counts[k] is None else counts[k] + h
                k += 1
        total = h.clone() if total is None else total + h
    hidden = counts if not isinstance(net[-1], snn.Leaky) else counts[:-1]
    return hidden, total


def _if_neuron(node: nir.IF, honour_metadata: bool) -> torch.nn.Module:
    meta = node.metadata if honour_metadata else {}
    reset = "subtract" if meta.get("reset") == "subtract" else "zero"
    neuron = snn.Leaky(
        beta=1.0,
        threshold=torch.as_tensor(node.v_threshold * node.r, dtype=torch.float32),
        reset_mechanism=reset,
        init_hidden=True,
    )
    initial = meta.get("v_initial")
    neuron.dse_initial = None if initial is None else torch.as_tensor(initial, dtype=torch.float32)
    return neuron


def snntorch_from_nir(graph: nir.NIRGraph, honour_metadata: bool = True) -> torch.nn.Module:
    """`graph` as an executable snnTorch network (module doc); `honour_metadata=False` is
    NIR's literal reading: reset to v_reset (0), membranes from 0."""
    import nirtorch
    from snntorch.import_nir import _nir_to_snntorch_module

    node_map = {
        nir.Affine: _nir_to_snntorch_module,
        nir.Linear: _nir_to_snntorch_module,
        nir.Conv2d: _nir_to_snntorch_module,
        # NIR's dimensions exclude the batch; torch's include it
        nir.Flatten: lambda node: torch.nn.Flatten(node.start_dim + 1, node.end_dim),
        # a sum over each window (spikes are >= 0): LP pooling with p = 1
        nir.SumPool2d: lambda node: torch.nn.LPPool2d(
            1, tuple(int(k) for k in node.kernel_size), tuple(int(k) for k in node.stride)
        ),
        nir.IF: lambda node: _if_neuron(node, honour_metadata),
    }
    return nirtorch.nir_to_torch(graph, node_map)


@torch.no_grad()
def run_graph_module(module: torch.nn.Module, x: torch.Tensor, timesteps: int):
    """Spike counts of every IF layer [B, n] (graph order; a convolution's neurons flattened)
    and the output summed over the timesteps [B, C], each IF layer starting from its dse
    metadata's initial membrane."""
    leaky = [m for m in module.modules() if isinstance(m, snn.Leaky)]
    for neuron in leaky:
        start = neuron.dse_initial
        shape = (x.shape[0], *neuron.threshold.shape)
        neuron.mem = torch.zeros(shape) if start is None else start.expand(shape).clone()
    counts = [torch.zeros(x.shape[0], *n.threshold.shape) for n in leaky]

    def counter(k: int):
        def hook(_module, _inputs, spikes) -> None:  # returns None: the output stays as it is
            counts[k].add_(spikes)

        return hook

    hooks = [neuron.register_forward_hook(counter(k)) for k, neuron in enumerate(leaky)]
    total, state = None, None
    try:
        for _ in range(timesteps):
            out, state = module(x, state)
            total = out.clone() if total is None else total + out
    finally:
        for hook in hooks:
            hook.remove()
    return [c.reshape(x.shape[0], -1) for c in counts], total


def grid_images(n: int, width: int, seed: int) -> torch.Tensor:
    """Images whose pixels lie on the 8-bit grid (k / 255): what the hardware's 8-bit inputs
    represent exactly."""
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.integers(0, 256, (n, width)) / 255.0, dtype=torch.float32)
