"""The worked example of docs/interop.md, step 1: a binary integrate-and-fire network trained
in snnTorch on scikit-learn's 8x8 digits, exported with snnTorch's own NIR exporter.

    python docs/interop_example.py --out digits_if.nir     # ~20 s on 2 CPU cores

The network is what dse's hardware runs: +-1 weights (trained with a straight-through sign,
the real-valued latent weights kept only for training), no biases, IF neurons (snnTorch's
`Leaky` with beta = 1, reset by subtraction) with an integer threshold, the pixels (in [0, 1],
as dse's loader scales them) applied at every one of T timesteps, and a Linear readout summed
over time.  Needs `pip install snntorch nir nirtorch` (dse's [test] extra has them).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import nir
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch.export_nir import export_to_nir

from models.datasets import load_dataset


class SignSTE(torch.autograd.Function):
    """sign(w) forward (+1 at 0), the identity gradient backward where |w| <= 1."""

    @staticmethod
    def forward(ctx, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w)
        return torch.where(w >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1)


class BinaryIF(torch.nn.Module):
    """inputs -> hidden IF layers (+-1 weights, integer threshold) -> Linear readout."""

    def __init__(self, widths: tuple[int, ...], threshold: float) -> None:
        super().__init__()
        self.latent = torch.nn.ParameterList(
            torch.nn.Parameter(torch.empty(n_out, n_in).uniform_(-0.5, 0.5))
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.neurons = torch.nn.ModuleList(
            snn.Leaky(beta=torch.ones(n), threshold=torch.full((n,), threshold), init_hidden=True)
            for n in widths[1:-1]
        )

    def forward(self, x: torch.Tensor, timesteps: int) -> torch.Tensor:
        for neuron in self.neurons:
            neuron.reset_mem()
        weights = [SignSTE.apply(w) for w in self.latent]
        total = 0.0
        for _ in range(timesteps):
            h = x
            for w, neuron in zip(weights[:-1], self.neurons, strict=True):
                h = neuron(h @ w.T)
            total = total + h @ weights[-1].T
        return total  # summed over time: dse's class scores

    def exported(self) -> torch.nn.Sequential:
        """The same network as plain snnTorch modules with the +-1 weights, for the exporter."""
        mods: list[torch.nn.Module] = []
        for index, w in enumerate(self.latent):
            linear = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
            linear.weight.data = torch.where(w.detach() >= 0, 1.0, -1.0)
            mods.append(linear)
            if index < len(self.neurons):
                n = w.shape[0]
                threshold = self.neurons[index].threshold.detach().clone()
                mods.append(snn.Leaky(beta=torch.ones(n), threshold=threshold, init_hidden=True))
        return torch.nn.Sequential(*mods)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("digits_if.nir"))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=4.0)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.manual_seed(0)
    splits = load_dataset("digits")
    x, y = splits.train
    net = BinaryIF((64, args.hidden, 10), args.threshold)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for epoch in range(args.epochs):
        for idx in torch.randperm(len(x)).split(64):
            loss = F.cross_entropy(net(x[idx], args.timesteps) / args.timesteps, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for w in net.latent:
                    w.clamp_(-1, 1)
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            with torch.no_grad():
                xt, yt = splits.test
                acc = (net(xt, args.timesteps).argmax(1) == yt).double().mean()
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, snnTorch test accuracy {acc:.2%}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # snnTorch's exporter divides by 1 - beta = 0
        graph = export_to_nir(net.exported(), torch.rand(1, 64), ignore_dims=[0])
    nir.write(args.out, graph)
    print(f"wrote {args.out} ({', '.join(type(n).__name__ for n in graph.nodes.values())})")


if __name__ == "__main__":
    main()
