"""NIR import: what maps and by which rule (models.nir_import), an snnTorch network exported by
snnTorch itself reproduced spike for spike, the integer model exact on it, and every refusal
one line naming the node and the fix (exit code 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir", reason="needs nir (the [test] extra)")

from dse.cli import main  # noqa: E402
from hwmodel.template import AcceleratorConfig  # noqa: E402
from models.conversion import convert  # noqa: E402
from models.datasets import SHAPES, load_dataset  # noqa: E402
from models.errors import ModelInputError  # noqa: E402
from models.imported import ImportedModel, read_summary, save_imported  # noqa: E402
from models.io import load_model  # noqa: E402
from models.nir_import import import_graph  # noqa: E402
from models.snn_float import simulate  # noqa: E402
from models.snn_integer import quantize_input, quantize_network, run_integer  # noqa: E402


def chain(*nodes, inputs: int) -> nir.NIRGraph:
    """Input -> nodes... -> Output, named n0, n1, ..."""
    names = {"input": nir.Input(input_type=np.array([inputs]))}
    names.update({f"n{i}": node for i, node in enumerate(nodes)})
    last = nodes[-1]
    size = last.weight.shape[0] if hasattr(last, "weight") else last.r.shape[0]
    names["output"] = nir.Output(output_type=np.array([size]))
    keys = list(names)
    return nir.NIRGraph(nodes=names, edges=list(zip(keys[:-1], keys[1:], strict=True)))


def signs(n_out: int, n_in: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random((n_out, n_in)) < 0.5, 1.0, -1.0)


def if_node(threshold, n: int, **kwargs) -> nir.IF:
    return nir.IF(r=np.ones(n), v_threshold=np.full(n, threshold, dtype=float), **kwargs)


def reference_counts(graph_layers, x: np.ndarray, timesteps: int):
    """A plain NumPy reading of NIR's IF text with subtraction: v += r (W x + b), fire when
    v > threshold, subtract it; returns hidden spike counts per layer and the readout sum."""
    counts, h = [], None
    state = [np.zeros((len(x), w.shape[0])) for w, _, _, _ in graph_layers]
    totals = [np.zeros_like(s) for s in state]
    for _ in range(timesteps):
        h = x
        for k, (w, b, r, threshold) in enumerate(graph_layers):
            current = h @ w.T + b
            if threshold is None:
                totals[k] += current
                h = current
                continue
            state[k] += r * current
            fired = (state[k] > threshold).astype(float)
            state[k] -= fired * threshold
            totals[k] += fired
            h = fired
    counts = [
        t.sum(axis=1) for t, (*_, th) in zip(totals, graph_layers, strict=True) if th is not None
    ]
    return counts, totals[-1]


def test_rules_scale_fold_gain_and_fire_above_the_threshold():
    """Per-neuron magnitudes and the LIF gain are divided out of thresholds and biases (spikes
    unchanged), ties at the threshold do not fire (NIR's v > threshold), and the output
    magnitude becomes the output scale."""
    w0 = signs(6, 64, 0) * np.repeat([0.5, 0.25, 1.0, 2.0, 0.5, 1.0], 64).reshape(6, 64)
    b0 = np.array([0.5, 0.25, 0.0, 2.0, -0.5, 1.0])
    w1 = signs(10, 6, 1) * 0.5
    b1 = np.arange(10) * 0.5 - 2.0
    tau = np.full(6, 1e30)
    lif = nir.LIF(tau=tau, r=tau / 1e-4 * 2.0, v_leak=np.zeros(6), v_threshold=np.full(6, 4.0))
    graph = chain(nir.Affine(w0, b0), lif, nir.Affine(w1, b1), inputs=64)
    model = import_graph(graph, "digits")
    hidden, out = model.snn.layers
    scale = np.abs(w0).max(axis=1) * 2.0  # magnitude times the gain r dt / tau = 2
    np.testing.assert_allclose(hidden.threshold, 4.0 / scale)
    np.testing.assert_allclose(hidden.bias, b0 / np.abs(w0).max(axis=1))
    assert hidden.strict and hidden.spiking and not out.spiking
    np.testing.assert_array_equal(hidden.prob, w0 > 0)
    np.testing.assert_allclose(out.bias, b1 / 0.5)
    assert model.snn.output_scale == pytest.approx(0.5)

    x = np.random.default_rng(2).integers(0, 17, (300, 64)) / 16.0  # exact in float32
    counts, readout = reference_counts([(w0, b0, 2.0, 4.0), (w1, b1, 1.0, None)], x, 8)
    run = simulate(model.snn, torch.as_tensor(x, dtype=torch.float32), 8, 1, device="cpu")
    np.testing.assert_array_equal(run.events[:, 1].numpy(), counts[0])
    np.testing.assert_allclose(run.scores[0].numpy() * 0.5, readout, atol=1e-3)


def test_integer_thresholds_map_exactly_into_the_integer_model():
    """Thresholds and biases that are integers stay exact: the first layer's scale by
    2**input_bits - 1 and each layer's 2**shift, the strict layers one unit lower at start,
    and the integer model computes the NIR network exactly on 8-bit-grid inputs."""
    w0, w1 = signs(16, 64, 3), signs(10, 16, 4)
    b0 = np.random.default_rng(5).integers(-2, 3, 16).astype(float)
    graph = chain(nir.Affine(w0, b0), if_node(3.0, 16), nir.Affine(w1, np.zeros(10)), inputs=64)
    model = import_graph(graph, "digits")
    assert all(layer["integral"] for layer in model.layers)
    config = AcceleratorConfig(widths=model.widths, k_bits=1, samples=1, timesteps=10, seed=0)
    net = quantize_network(model.snn, config)
    shift = net.layers[0].shift
    assert shift >= 0
    np.testing.assert_array_equal(net.layers[0].threshold, 3 * 255 * 2**shift)
    np.testing.assert_array_equal(net.layers[0].bias, b0 * 255 * 2**shift)
    np.testing.assert_array_equal(net.layers[0].initial, -1)
    pixels = np.random.default_rng(6).integers(0, 256, (400, 64))
    result = run_integer(net, quantize_input(pixels / 255.0, 8), config)
    # The NIR network in exact integer arithmetic, in units of 1/255 (an 8-bit pixel step).
    v = np.zeros((400, 16), dtype=np.int64)
    current = pixels @ w0.T.astype(np.int64) + b0.astype(np.int64) * 255
    fired_total, out = np.zeros(400, dtype=np.int64), np.zeros((400, 10), dtype=np.int64)
    for _ in range(10):
        v += current
        fired = (v > 3 * 255).astype(np.int64)
        v -= fired * 3 * 255
        fired_total += fired.sum(axis=1)
        out += fired @ w1.T.astype(np.int64)
    np.testing.assert_array_equal(result.spikes[:, 0], fired_total)
    np.testing.assert_array_equal(result.scores[0], out * 2 ** net.layers[1].shift)
    # The float model sums k / 255 in float32, which rounds: it agrees but for a few ties.
    run = simulate(model.snn, torch.as_tensor(pixels / 255.0, dtype=torch.float32), 10, 1)
    assert (run.events[:, 1].numpy() == fired_total).mean() > 0.95


def test_an_snntorch_network_exported_by_snntorch_imports_spike_for_spike(tmp_path: Path):
    """snnTorch's own export of a binary IF network (Leaky, beta = 1: LIF nodes with
    tau = r = inf, v_reset = 0) imports with a note on the reset, and dse's float model gives
    snnTorch's spike counts and class scores on the digits test images."""
    from nir_nets import binary_if_net, export_with_snntorch, run_sequential

    net = binary_if_net((64, 24, 16, 10), threshold=3.0, seed=0)
    path = export_with_snntorch(net, 64, tmp_path / "snntorch.nir")
    out = tmp_path / "m"
    assert main(["import", str(path), "--out", str(out), "--dataset", "digits"]) == 0
    model = load_model(out)
    assert isinstance(model, ImportedModel) and model.widths == (64, 24, 16, 10)
    assert any("v_reset = 0" in note for note in model.notes)
    x = load_dataset("digits").test[0]
    counts, scores = run_sequential(net, x, 8)
    run = simulate(convert(model), x, 8, 1, device="cpu")
    assert torch.equal(run.events[:, 1:], torch.stack([c.sum(1) for c in counts], 1).double())
    assert torch.equal(run.scores[0], scores)


def test_a_spiking_readout_becomes_the_accumulator(tmp_path: Path, capsys):
    """A last Leaky layer (snnTorch's usual spike-count readout) becomes dse's non-spiking
    output layer, scoring each class by its integrated input: the hidden spikes are the same;
    the prediction is the class with the most spikes only where its input rose steadily, so
    the agreement is measured (printed; docs/interop.md)."""
    from nir_nets import binary_if_net, export_with_snntorch, run_sequential

    net = binary_if_net((64, 32, 10), threshold=4.0, seed=1, spiking_readout=True)
    path = export_with_snntorch(net, 64, tmp_path / "snntorch.nir")
    model = import_graph(nir.read(path), "digits")
    assert any("spiking readout" in note for note in model.notes)
    x = load_dataset("digits").test[0]
    counts, out_spikes = run_sequential(net, x, 16)
    run = simulate(model.snn, x, 16, 1, device="cpu")
    assert torch.equal(run.events[:, 1], counts[0].sum(1).double())
    top = out_spikes.max(dim=1, keepdim=True).values
    unique = (out_spikes == top).sum(dim=1) == 1  # images whose spike counts pick one class
    agree = (run.scores[0].argmax(1) == out_spikes.argmax(1))[unique].double().mean()
    print(f"spiking readout: {float(agree):.1%} of {int(unique.sum())} images agree")
    assert unique.sum() > 50 and agree > 0.5


def test_saved_model_loads_and_refuses_damage(tmp_path: Path):
    graph = chain(nir.Affine(signs(8, 64, 0), np.zeros(8)), if_node(2.0, 8),
                  nir.Affine(signs(10, 8, 1), np.zeros(10)), inputs=64)  # fmt: skip
    model = import_graph(graph, "digits", source={"file": "x.nir"})
    save_imported(model, tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert isinstance(back, ImportedModel) and back.source == {"file": "x.nir"}
    assert read_summary(tmp_path / "m").method == "imported"
    scaled = convert(back, threshold_scales=[2.0])
    np.testing.assert_array_equal(scaled.layers[0].threshold, 4.0)
    with pytest.raises(ModelInputError, match="one per hidden layer"):
        convert(back, threshold_scales=[1.0, 2.0])
    data = (tmp_path / "m" / "snn.npz").read_bytes()
    (tmp_path / "m" / "snn.npz").write_bytes(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
    with pytest.raises(ModelInputError, match="corrupt.*dse import"):
        load_model(tmp_path / "m")
    assert SHAPES["digits"] == (load_dataset("digits").input_dim, 10)


def _write(path: Path, graph: nir.NIRGraph) -> Path:
    nir.write(path, graph)
    return path


def _bad_graphs(tmp: Path) -> list[tuple[Path, list[str], list[str]]]:
    """(file, extra arguments, words the one error line must hold)."""
    ok_out = nir.Affine(signs(10, 8, 1), np.zeros(10))
    hidden = nir.Affine(signs(8, 64, 0), np.zeros(8))
    leaky = nir.LIF(tau=np.full(8, 1e-3), r=np.full(8, 10.0), v_leak=np.zeros(8),
                    v_threshold=np.ones(8))  # fmt: skip
    real = nir.Affine(np.random.default_rng(0).normal(size=(8, 64)), np.zeros(8))
    zero = nir.Affine(np.vstack([np.zeros((1, 64)), signs(7, 64, 3)]), np.zeros(8))
    conv = nir.Conv2d(input_shape=(8, 8), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(2))  # fmt: skip
    cuba = nir.CubaLIF(tau_syn=np.ones(8), tau_mem=np.ones(8), r=np.ones(8), v_leak=np.zeros(8),
                       v_threshold=np.ones(8))  # fmt: skip
    per_class = nir.Affine(signs(10, 8, 1) * np.arange(1, 11)[:, None], np.zeros(10))
    reset_half = if_node(2.0, 8, v_reset=np.full(8, 0.5))
    graphs = {
        "leaky": (chain(hidden, leaky, ok_out, inputs=64), ["'n1' (LIF)", "leak", "beta = 1"]),
        "real": (
            chain(real, if_node(2.0, 8), ok_out, inputs=64),
            ["'n0' (Affine)", "+-a", "binarize"],
        ),  # fmt: skip
        "zero": (chain(zero, if_node(2.0, 8), ok_out, inputs=64), ["'n0' (Affine)", "all 0"]),
        "reset": (chain(hidden, reset_half, ok_out, inputs=64), ["'n1' (IF)", "v_reset = 0.5"]),
        "cuba": (chain(hidden, cuba, ok_out, inputs=64), ["'n1' (CubaLIF)", "tau_syn"]),
        "class": (chain(hidden, if_node(2.0, 8), per_class, inputs=64), ["per-class scale"]),
        "negative": (chain(hidden, if_node(-1.0, 8), ok_out, inputs=64), ["v_threshold", "> 0"]),
    }
    cases = [(_write(tmp / f"{name}.nir", g), [], words) for name, (g, words) in graphs.items()]
    conv_graph = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([1, 8, 8])), "c": conv,
               "output": nir.Output(np.array([2, 6, 6]))},
        edges=[("input", "c"), ("c", "output")],
    )  # fmt: skip
    conv_words = ["'c' (Conv2d)", "conv:", "not supported yet"]
    cases.append((_write(tmp / "conv.nir", conv_graph), [], conv_words))
    branch = chain(hidden, if_node(2.0, 8), ok_out, inputs=64)
    branch.nodes["n3"] = nir.Affine(signs(10, 8, 2), np.zeros(10))
    branch.edges += [("n1", "n3"), ("n3", "output")]
    cases.append((_write(tmp / "branch.nir", branch), [], ["'n1' (IF)", "feeds 2 nodes"]))
    good = _write(tmp / "good.nir", chain(hidden, if_node(2.0, 8), ok_out, inputs=64))
    (tmp / "text.nir").write_text("not hdf5")
    (tmp / "full").mkdir()
    (tmp / "full" / "x").write_text("x")
    cases += [
        (tmp / "text.nir", [], ["text.nir: not a NIR file"]),
        (tmp / "missing.nir", [], ["no such NIR file"]),
        (good, ["--dataset", "mnist"], ["--dataset:", "784 inputs", "64-8-10"]),
        (good, ["--out", str(tmp / "full")], ["--out:", "not empty", "--force"]),
        (good, ["--dt", "0"], ["--dt"]),
    ]
    return cases


def test_every_refusal_is_one_line_with_the_node_and_the_fix(tmp_path: Path, capsys):
    for path, extra, words in _bad_graphs(tmp_path):
        args = ["import", str(path), "--out", str(tmp_path / "out"), "--dataset", "digits"]
        # a later --dataset / --out overrides the default one (click keeps the last)
        assert main([*args, *extra]) == 2, path.name
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "Traceback" not in err, err
        assert "\n" not in err, err
        for word in words:
            assert word in err, (path.name, word, err)
    for missing, word in ((["--dataset", "digits"], "--out"), (["--out", "o"], "--dataset")):
        assert main(["import", str(tmp_path / "good.nir"), *missing]) == 2
        assert word in capsys.readouterr().err


def test_an_npz_dataset_imports_with_its_file_and_evaluates(tmp_path: Path, capsys):
    """The user's own images: `--dataset npz --data-root FILE` reads the file's shape (8x8 RGB,
    192 inputs, 3 classes) to check the network against, and evaluation reads the same file."""
    from npz_data import write_npz

    data = write_npz(tmp_path / "own.npz")
    graph = chain(nir.Affine(signs(8, 192, 0), np.zeros(8)), if_node(3.0, 8),
                  nir.Affine(signs(3, 8, 1), np.zeros(3)), inputs=192)  # fmt: skip
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    base = ["import", str(path), "--dataset", "npz"]
    assert main([*base, "--out", str(tmp_path / "m"), "--data-root", str(data)]) == 0
    assert load_model(tmp_path / "m").dataset == "npz"
    design = ["--samples", "1", "--k-bits", "1", "--data-root", str(data)]
    assert main(["evaluate", str(tmp_path / "m"), "--integer", *design]) == 0
    capsys.readouterr()

    assert main([*base, "--out", str(tmp_path / "n")]) == 2
    assert "--data-root: missing" in capsys.readouterr().err
    two = write_npz(tmp_path / "other.npz", classes=2)
    assert main([*base, "--out", str(tmp_path / "n"), "--data-root", str(two)]) == 2
    err = capsys.readouterr().err
    assert "--dataset: npz has 192 inputs and 2 classes" in err and "\n" not in err.strip()
