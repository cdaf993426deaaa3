"""Write README's quickstart figures from the stored run of a study, so that they are the run's.

    python docs/readme_quickstart.py [--study studies/quickstart.yaml] [--readme README.md]
    python docs/readme_quickstart.py --check      # exit 1 if README's figures are not the run's

Reads the study the way `dse report` does (its storage, nothing re-run) and replaces the text
between README's ``<!-- quickstart-figures -->`` markers: trial counts, the front (methods,
parts, clocks, predicted fmax), the knee and best designs with their selection and test
accuracy and three energies, the front's selection-test gap, and the best feasible design of
each training method with the exact McNemar p between them.  docs/pareto.png comes from the
same run (`dse report STUDY --png docs/pareto.png`).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

from dse.metrics import trial_metrics

START = "<!-- quickstart-figures -->"
END = "<!-- /quickstart-figures -->"
METHODS = {"bayesbinn": "BayesBiNN", "mode": "posterior mode", "ste": "STE"}


def _uj(value: float) -> str:
    return f"{value:.3g} µJ" if value < 100 else f"{value:,.0f} µJ"


def figures(study_file: str | Path) -> dict[str, Any]:
    """Everything the block states, read from the stored study."""
    import dse
    from dse.holdout import held_out_scores, selection_gap
    from dse.paired import correct_vector, mcnemar
    from dse.selection import best_trial, front_trials, knee_trial
    from dse.summary import selection_note

    study = dse.load(study_file)
    table = dse.trials(study)
    done = table[table["state"] == "COMPLETE"]
    sampled = done[done["inner_of"].isna()] if "inner_of" in done else done
    front = front_trials(study)
    if not front:
        raise SystemExit(f"{study_file}: the study has no feasible front yet; run it first")
    scores = held_out_scores(study)
    gaps = [g for t in front if (g := selection_gap(t, scores.get(t.number, {}))) is not None]
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    feasible = done[done["feasible"]]
    best_of = {
        method: group.sort_values(["accuracy", "energy_pl_uj"], ascending=[False, True]).iloc[0]
        for method, group in feasible.groupby("params_method")
    }
    pairs = {
        (a, b): mcnemar(
            correct_vector(trial_metrics(trials[int(best_of[a]["number"])])),
            correct_vector(trial_metrics(trials[int(best_of[b]["number"])])),
        ).p_value
        for a, b in itertools.combinations(sorted(best_of), 2)
    }
    return {
        "trials": len(done),
        "evaluations": len(sampled),
        "late": int((sampled["constraint_timing"] > 0).sum()),
        "front": front,
        "best": best_trial(study, front),
        "knee": knee_trial(study, front),
        "test": {n: s.get("test_accuracy") for n, s in scores.items()},
        "selection": sum(trial_metrics(t)["accuracy"] for t in front) / len(front),
        "test_mean": sum(scores[t.number]["test_accuracy"] for t in front) / len(front),
        "gap": sum(g for g, _ in gaps) / len(gaps),
        "noise": 1.96 * sum(se for _, se in gaps) / len(gaps),
        "best_of": best_of,
        "lowest": {m: float(g["energy_pl_uj"].min()) for m, g in feasible.groupby("params_method")},
        "pairs": pairs,
        "note": selection_note(study, front),
    }


def _design(trial: Any, test: dict[int, float | None]) -> str:
    u, p = trial_metrics(trial), trial.params
    method = METHODS.get(p.get("method"), str(p.get("method")))
    article = "an" if method[0] in "AEIOUS" else "a"  # "an STE network"
    return (
        f"trial {trial.number}: {article} {method} network at "
        f"T = {p.get('timesteps')}, {100 * u['accuracy']:.2f} % on the selection images and "
        f"{100 * (test.get(trial.number) or float('nan')):.2f} % on the test images, "
        f"{_uj(u['energy_pl_uj'])} per inference in the programmable logic (`energy_pl_uj`; "
        f"{_uj(u['energy_soc_uj'])} with the PS, {_uj(u['energy_board_uj'])} at the board)"
    )


def render(f: dict[str, Any]) -> str:
    """The block's Markdown (without the markers)."""
    front = f["front"]
    methods: dict[str, int] = {}
    for t in front:
        name = METHODS.get(t.params.get("method"), str(t.params.get("method")))
        methods[name] = methods.get(name, 0) + 1
    parts = sorted({str(t.params.get("part")) for t in front})
    clocks = sorted({float(trial_metrics(t)["clock_mhz"]) for t in front})
    fmax = [float(trial_metrics(t)["fmax_mhz"]) for t in front]
    mix = ", ".join(f"{n} {m}" for m, n in sorted(methods.items(), key=lambda kv: -kv[1]))
    knee, best = f["knee"], f["best"]
    lines = [
        f"What you get (written from the run by `python docs/readme_quickstart.py`): "
        f"{f['trials']} trials ({f['evaluations']} evaluations, "
        f"{f['trials'] - f['evaluations']} hardware variants) and a front of {len(front)} "
        f"designs ({mix}) on {', '.join(parts)} at "
        f"{', '.join(f'{c:g}' for c in clocks)} MHz. {f['late']} sampled trials asked for a "
        f"clock above their predicted fmax and are infeasible (`timing`); the front's "
        f"predicted fmax spans {min(fmax):.1f}-{max(fmax):.1f} MHz.",
    ]
    if knee.number == best.number:
        lines.append(f"The knee, which is also `best`, is {_design(knee, f['test'])}.")
    else:
        lines.append(
            f"The knee is {_design(knee, f['test'])}; `best` is {_design(best, f['test'])}."
        )
    lines.append(
        f"Over the front, selection accuracy is {100 * f['selection']:.2f} % and test accuracy "
        f"{100 * f['test_mean']:.2f} % (a gap of {100 * f['gap']:+.2f} points, against "
        f"+-{100 * f['noise']:.2f} points of noise per design)."
    )
    if f["note"]:
        lines.append(f["note"])
    per_method = "; ".join(
        f"{METHODS.get(m, m)} {100 * row['accuracy']:.2f} % (trial {int(row['number'])}; "
        f"the method's cheapest feasible design {_uj(f['lowest'][m])})"
        for m, row in sorted(f["best_of"].items())
    )
    tests = ", ".join(
        f"{METHODS.get(a, a)}-{METHODS.get(b, b)} {p:.2g}" for (a, b), p in f["pairs"].items()
    )
    lines.append(f"The most accurate feasible design of each method: {per_method}.")
    if tests:
        lines.append(f"Exact McNemar p between them on the selection images: {tests}.")
    return "\n".join(lines)


def replace_block(readme: str, block: str) -> str:
    """README with the text between the markers replaced; a README without them is an error."""
    if START not in readme or END not in readme:
        raise SystemExit(f"README has no {START} ... {END} block")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="studies/quickstart.yaml")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--check", action="store_true", help="exit 1 if README differs")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    updated = replace_block(text, render(figures(args.study)))
    if args.check:
        if updated != text:
            print(f"{args.readme}: the quickstart figures are not this run's", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
