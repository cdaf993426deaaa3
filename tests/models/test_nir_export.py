"""NIR export: one set of binary weights, dse's neuron semantics in node metadata, and a file
that imports back into the same network; snnTorch reads it spike for spike (tests/nir_nets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir", reason="needs nir (the [test] extra)")

from dse.cli import main  # noqa: E402
from hwmodel.architecture import ConvShape  # noqa: E402
from models.conversion import convert  # noqa: E402
from models.datasets import load_dataset  # noqa: E402
from models.io import load_model, save_model  # noqa: E402
from models.network import BayesBinaryMLP, BayesBinaryNet  # noqa: E402
from models.nir_export import one_weight_set, to_graph, write_graph  # noqa: E402
from models.nir_import import import_graph  # noqa: E402
from models.snn_float import simulate  # noqa: E402
from models.snn_spec import ConvertedLayer, ConvertedSNN  # noqa: E402
from models.training import TrainConfig, TrainedModel  # noqa: E402


def bayesian_snn(widths=(64, 12, 8, 10), seed: int = 0) -> ConvertedSNN:
    """A converted network with Bernoulli posteriors, real thresholds, biases and initial
    membranes at half the threshold (as `convert` gives them)."""
    rng = np.random.default_rng(seed)
    layers = []
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        spiking = index < len(widths) - 2
        threshold = rng.uniform(1.0, 3.0, n_out) if spiking else np.ones(n_out)
        layers.append(
            ConvertedLayer(
                prob=rng.uniform(0, 1, (n_out, n_in)),
                threshold=threshold,
                bias=rng.normal(0, 0.3, n_out),
                initial=threshold / 2 if spiking else np.zeros(n_out),
                spiking=spiking,
            )
        )
    return ConvertedSNN(layers=layers, output_scale=1.7)


def test_one_weight_sample_is_the_float_models_draw_and_comes_back_unchanged(tmp_path: Path):
    snn = bayesian_snn()
    fixed, described = one_weight_set(snn, 0, seed=3)
    assert "weight sample 0 of seed 3" in described
    x = torch.rand(40, 64, generator=torch.Generator().manual_seed(1))
    drawn = simulate(snn, x, timesteps=6, samples=1, seed=3, device="cpu")
    exported = simulate(fixed, x, timesteps=6, samples=1, device="cpu")
    assert torch.equal(drawn.scores, exported.scores)
    assert torch.equal(drawn.events, exported.events)

    path = write_graph(to_graph(fixed, timesteps=6), tmp_path / "n.nir")
    back = import_graph(nir.read(path), "digits").snn
    assert back.output_scale == fixed.output_scale
    for mine, theirs in zip(fixed.layers, back.layers, strict=True):
        for name in ("prob", "threshold", "bias", "initial"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name))
        assert (mine.spiking, mine.strict) == (theirs.spiking, theirs.strict)


def test_the_file_holds_int8_signs_and_says_what_nir_cannot(tmp_path: Path):
    fixed, described = one_weight_set(bayesian_snn(), "mode", seed=0)
    assert "mode" in described
    graph = nir.read(write_graph(to_graph(fixed, timesteps=5), tmp_path / "n.nir"))
    assert [type(graph.nodes[n]).__name__ for n in ("fc0", "if0", "fc1", "if1", "fc2")] == [
        "Affine",
        "IF",
        "Affine",
        "IF",
        "Affine",
    ]
    assert ("fc2", "output") in graph.edges  # the accumulator: no neuron node after it
    fc0, if0 = graph.nodes["fc0"], graph.nodes["if0"]
    assert fc0.weight.dtype == np.int8 and set(np.unique(fc0.weight)) == {-1, 1}
    np.testing.assert_array_equal(fc0.weight == 1, fixed.layers[0].prob == 1)
    np.testing.assert_array_equal(if0.r, 1.0)
    np.testing.assert_array_equal(if0.v_reset, 0.0)
    np.testing.assert_array_equal(if0.v_threshold, fixed.layers[0].threshold)
    assert if0.metadata["reset"] == "subtract"
    assert if0.metadata["fire"] == "v >= v_threshold"
    np.testing.assert_array_equal(if0.metadata["v_initial"], fixed.layers[0].initial)
    assert graph.metadata["timesteps"] == 5 and graph.metadata["format"] == "dse-snn/1"
    assert "reset" in graph.metadata["neurons"] and "subtract" in graph.metadata["neurons"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Bayesian binary 64-32-24-10 model saved as `dse train` saves it: random posteriors
    and batch-norm statistics (some negative gains) instead of a training, which takes
    seconds to minutes on a busy machine; the export does not care what the weights learnt."""
    gen = torch.Generator().manual_seed(0)
    net = BayesBinaryMLP((64, 32, 24, 10), levels=4, lam_init=1.5, generator=gen)
    with torch.no_grad():
        for norm in net.norms:
            n = norm.num_features
            norm.running_mean.copy_(torch.randn(n, generator=gen) * 3)
            norm.running_var.copy_(torch.rand(n, generator=gen) * 20 + 5)
            norm.weight.copy_(torch.randn(n, generator=gen))
            norm.bias.copy_(torch.randn(n, generator=gen) * 0.3)
    net.eval()
    model = TrainedModel(network=net, config=TrainConfig(widths=(32, 24)), dataset="digits")
    return save_model(model, tmp_path_factory.mktemp("model") / "m")


def test_snntorch_reads_the_export_spike_for_spike(trained: Path, tmp_path: Path, capsys):
    """The round trip: `dse export --backend nir` of a Bayesian model (weight sample 0), read
    with nir.read into snnTorch neurons, gives dse's float SNN of that weight sample: the same
    spike count in every layer on every image and the same prediction.  Reading the file as
    NIR's text says (reset to 0, membranes from 0, ignoring the metadata) gives another
    network; the measured agreement is printed."""
    from nir_nets import run_graph_module, snntorch_from_nir

    out = tmp_path / "design.nir"
    args = ["export", "--model", str(trained), "--backend", "nir", "--out", str(out)]
    assert main([*args, "--timesteps", "6", "--seed", "5"]) == 0
    printed = capsys.readouterr()
    assert "weight sample 0 of seed 5" in printed.out
    assert "NIR has no weight sampling" in printed.err
    graph = nir.read(out)
    x, labels = load_dataset("digits").test
    dse_run = simulate(convert(load_model(trained)), x, 6, 1, seed=5, device="cpu")
    counts, scores = run_graph_module(snntorch_from_nir(graph), x, 6)
    per_layer = torch.stack([c.sum(dim=1) for c in counts], dim=1).double()
    assert torch.equal(per_layer, dse_run.events[:, 1:])
    assert torch.equal(scores.argmax(dim=1), dse_run.scores[0].argmax(dim=1))
    assert torch.allclose(scores, dse_run.scores[0], atol=1e-4)

    literal, literal_scores = run_graph_module(snntorch_from_nir(graph, False), x, 6)
    literal_layer = torch.stack([c.sum(dim=1) for c in literal], dim=1).double()
    same_counts = float((literal_layer == dse_run.events[:, 1:]).all(dim=1).double().mean())
    agree = float((literal_scores.argmax(1) == dse_run.scores[0].argmax(1)).double().mean())
    ours, theirs = (
        float((s.argmax(1) == labels).double().mean()) for s in (dse_run.scores[0], literal_scores)
    )
    print(
        f"NIR's literal reading: {same_counts:.1%} of images with dse's spike counts, "
        f"{agree:.1%} of predictions agree; accuracy {theirs:.1%} against dse's {ours:.1%}"
    )
    assert same_counts < 1.0  # the reset and the initial membrane matter


def test_export_refuses_what_it_cannot_write(trained: Path, tmp_path: Path, capsys):
    (tmp_path / "exists.nir").write_text("x")
    cases = [
        (["--out", str(tmp_path / "exists.nir")], "--out:", "--force"),
        (["--out", str(tmp_path)], "--out:", "directory"),
        (["--out", str(tmp_path / "a.nir"), "--weight-sample", "x"], "--weight-sample:", "mode"),
    ]
    for extra, field, fix in cases:
        assert main(["export", "--model", str(trained), "--backend", "nir", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {field}") and fix in err and "\n" not in err
    rtl = ["--backend", "rtl", "--out", str(tmp_path / "r"), "--weight-sample", "0"]
    assert main(["export", "--model", str(trained), *rtl]) == 2
    assert "only --backend nir" in capsys.readouterr().err


def conv_snn(seed: int = 0) -> ConvertedSNN:
    """A Bayesian 8x8 network "4p,6" (a pooled and a plain 3x3 block) -> 16 -> 10, thresholds
    set so that every layer spikes."""
    rng = np.random.default_rng(seed)

    def layer(n_out: int, n_in: int, low: float, conv: ConvShape | None = None) -> ConvertedLayer:
        spiking = low > 0
        threshold = rng.uniform(low, 3 * low, n_out) if spiking else np.ones(n_out)
        return ConvertedLayer(
            prob=rng.uniform(0, 1, (n_out, n_in)),
            threshold=threshold,
            bias=rng.normal(0, 0.3, n_out),
            initial=threshold / 2 if spiking else np.zeros(n_out),
            spiking=spiking,
            conv=conv,
        )

    layers = [
        layer(4, 9, 0.7, ConvShape(1, 8, 8, 4, pool=True)),
        layer(6, 36, 1.0, ConvShape(4, 4, 4, 6, pool=False)),
        layer(16, 96, 2.0),
        layer(10, 16, 0.0),
    ]
    return ConvertedSNN(layers=layers, output_scale=1.3)


def test_a_convolutional_design_reads_into_snntorch_spike_for_spike(tmp_path: Path):
    """Conv2d + IF per block, the OR pooling as SumPool2d into threshold-1/2 IF neurons that
    reset to 0, a channel-major Flatten: snnTorch computes dse's float SNN of the sample."""
    from nir_nets import run_graph_module, snntorch_from_nir

    fixed, _ = one_weight_set(conv_snn(), 0, seed=3)
    graph = nir.read(write_graph(to_graph(fixed, timesteps=6), tmp_path / "c.nir"))
    chain = ["conv0", "if0", "pool0", "or0", "conv1", "if1", "flatten", "fc2", "if2", "fc3"]
    kinds = ["Conv2d", "IF", "SumPool2d", "IF", "Conv2d", "IF", "Flatten", "Affine", "IF"]
    assert [type(graph.nodes[n]).__name__ for n in chain] == [*kinds, "Affine"]
    conv0 = graph.nodes["conv0"]
    assert conv0.weight.dtype == np.int8 and conv0.weight.shape == (4, 1, 3, 3)
    np.testing.assert_array_equal(conv0.weight.reshape(4, 9) == 1, fixed.layers[0].prob == 1)
    assert graph.nodes["or0"].metadata["reset"] == "zero"
    assert graph.nodes["if1"].v_threshold.shape == (6, 4, 4)

    x = load_dataset("digits").test[0]
    dse_run = simulate(fixed, x, 6, 1, device="cpu")
    counts, scores = run_graph_module(snntorch_from_nir(graph), x.reshape(-1, 1, 8, 8), 6)
    outputs = torch.stack(
        [counts[k].sum(dim=1) for k in (1, 2, 3)], dim=1
    ).double()  # or0, if1, if2
    assert (dse_run.events[:, 1:].mean(dim=0) > 10).all()  # every layer spikes
    assert torch.equal(outputs.double(), dse_run.events[:, 1:])
    assert torch.equal(scores.argmax(dim=1), dse_run.scores[0].argmax(dim=1))
    assert torch.allclose(scores, dse_run.scores[0], atol=1e-4)


def test_dse_export_writes_a_convolutional_model(tmp_path: Path, capsys):
    net = BayesBinaryNet((64, 16, 10), input_shape=(1, 8, 8), blocks="4p").eval()
    config = TrainConfig(conv="4p", widths=(16,))
    model = save_model(TrainedModel(network=net, config=config, dataset="digits"), tmp_path / "m")
    out = tmp_path / "c.nir"
    assert main(["export", "--model", str(model), "--backend", "nir", "--out", str(out)]) == 0
    assert "NIR: 1x8x8 image, conv 4p, dense 64-16-10" in capsys.readouterr().out
    graph = nir.read(out)
    assert [type(graph.nodes[n]).__name__ for n in ("conv0", "pool0", "flatten", "fc1")] == [
        "Conv2d",
        "SumPool2d",
        "Flatten",
        "Affine",
    ]
    assert "(1, 8, 8)" in graph.metadata["input"]
