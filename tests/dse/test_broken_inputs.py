"""Broken input of every kind: each exits 2 with one line naming the field, loses nothing.

Study files go through `dse run` (load, output-directory and pre-flight checks, all before
any trial); corrupted models through `dse evaluate`; corrupted reports and projects through
`dse measure` and `dse csim`. A directory with earlier results sits beside every case and
must come out byte for byte the same.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from damage import flip_tensor_bytes

from dse.cli import main

HEAD = "name: broken\noutput_dir: {out}\nobjectives: [{{metric: accuracy, direction: maximize}}]\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)

# (case, study text after HEAD, a fragment the one error line must contain)
STUDIES = [
    ("timesteps-zero", "search: {timesteps: 0}", "search.timesteps"),
    ("timesteps-huge", "search: {timesteps: 100000}", "search.timesteps"),
    ("samples-range-1e12", "search: {samples: {low: 1, high: 1000000000000}}", "search.samples"),
    ("width-huge", "search: {width: 100000}", "search.width"),
    ("pe-huge", "search: {pe: 5000}", "search.pe"),
    ("clock-inf", "search: {clock_mhz: .inf}", "search.clock_mhz"),
    ("clock-nan", "search: {clock_mhz: .nan}", "search.clock_mhz"),
    ("clock-string", "search: {clock_mhz: fast}", "search.clock_mhz"),
    ("clock-step-nan", "search: {clock_mhz: {low: 100, high: 200, step: .nan}}", "clock_mhz.step"),
    ("lanes-huge", "search: {sample_lanes: 1000}", "search.sample_lanes"),
    ("reuse-zero-choice", "search: {reuse: [1, 0]}", "search.reuse"),
    ("part-unknown", "search: {part: xc9z999}", "search.part"),
    ("scale-inf", "search: {threshold_scale: .inf}", "search.threshold_scale"),
    ("depth-nine", "search: {depth: 9}", "search.depth"),
    ("timesteps-high-inf", "search: {timesteps: {low: 1, high: .inf}}", "search.timesteps.high"),
    ("ensemble-both", "search: {ensemble: both}", "search.ensemble"),
    ("search-list", "search: [1, 2]", "search"),
    ("epochs-list", "training: {epochs: [1]}", "training.epochs"),
    ("lr-null", "training: {lr: null}", "training.lr"),
    ("batch-string", "training: {batch_size: big}", "training.batch_size"),
    ("lr-nan", "training: {lr: .nan}", "training.lr"),
    ("training-unknown", "training: {epochz: 3}", "training.epochz"),
    ("training-null", "training: null", "training"),
    ("device-absent", "training: {device: 'cuda:7'}", "training.device"),
    ("device-bogus", "training: {device: gpu}", "training.device"),
    ("dataset-seed-negative", "dataset: {seed: -1}", "dataset.seed"),
    ("dataset-seed-huge", "dataset: {seed: 1099511627776}", "dataset.seed"),
    ("sampler-seed-string", "sampler: {seed: x}", "sampler.seed"),
    ("eval-seed-float", "evaluation: {seed: 1.5}", "evaluation.seed"),
    ("dataset-root-missing", "dataset: {name: mnist, root: /no/such/dir}", "dataset.root"),
    ("calibration-missing", "evaluation: {calibration: /no/such.json}", "evaluation.calibration"),
    ("calibration-garbage", "evaluation: {calibration: {garbage}}", "evaluation.calibration"),
    ("calibration-string", "evaluation: {calibration: {string}}", "multipliers.lut.pe is '2'"),
    ("calibration-nan", "evaluation: {calibration: {nan}}", "multipliers.lut.pe is nan"),
    ("calibration-power-neg", "evaluation: {calibration: {negative}}", "power.ff is -1"),
    ("ood-unknown", "dataset: {ood: bogus}", "dataset.ood"),
    ("val-fraction", "dataset: {val_fraction: 1.5}", "dataset.val_fraction"),
    ("storage-scheme", "storage: 'mysql://bob:hunter2@h/db'", "storage"),
    ("n-trials-float", "n_trials: 1.0e9", "n_trials"),
    ("n-jobs-huge", "n_jobs: 1000", "n_jobs"),
    ("timeout-inf", "timeout: .inf", "timeout"),
    ("util-cap", "constraints: {util_cap: 2}", "constraints.util_cap"),
    ("power-cap-nan", "constraints: {power_cap_w: .nan}", "constraints.power_cap_w"),
    ("objectives-null", "objectives: null", "objectives"),
    ("alias-bomb", BOMB, "aliases"),
    ("deep-nesting", "deep: " + "[" * 200 + "]" * 200, "nested deeper"),
    ("long-integer", "n_trials: " + "9" * 5000, "cannot be read"),
    ("name-markup", "name: '[/x] [bold]'", "name"),
    # strict scalars: YAML's loose typing must not turn a typo into a silently different study
    ("duplicate-key", "n_trials: 3\nn_trials: 777", "key 'n_trials' is given twice"),
    ("duplicate-nested-key", "search: {timesteps: 4, timesteps: 8}", "key 'timesteps'"),
    ("duplicate-name-key", "search: {}\nname: other", "key 'name' is given twice"),
    ("name-600k", "name: " + "a" * 600_000, "name"),
    ("name-binary", "name: !!binary aGVsbG8=", "name"),
    ("n-trials-true", "n_trials: true", "n_trials"),
    ("n-jobs-yes", "n_jobs: yes", "n_jobs"),
    ("n-trials-quoted", "n_trials: '1e3'", "n_trials"),
    ("timeout-quoted", "timeout: '1e3'", "timeout"),
    ("util-cap-quoted", "constraints: {util_cap: '0.5'}", "constraints.util_cap"),
    ("fit-device-off", "constraints: {fit_device: 'off'}", "constraints.fit_device"),
    ("exact-yes-string", "hardware_search: {exact: 'yes'}", "hardware_search.exact"),
    ("sampler-seed-3.0", "sampler: {seed: 3.0}", "sampler.seed"),
    ("dataset-seed-true", "dataset: {seed: true}", "dataset.seed"),
    ("max-train-float", "dataset: {max_train: 100.0}", "dataset.max_train"),
    ("output-dir-number", "output_dir: 5", "output_dir"),
    ("storage-number", "storage: 5", "storage"),
    ("storage-5000", "storage: 'sqlite:///" + "x" * 5000 + "'", "storage"),
    # training settings have upper bounds
    ("epochs-1e9", "training: {epochs: 1000000000}", "training.epochs"),
    ("epochs-float-1e9", "training: {epochs: 1.0e+9}", "training.epochs"),
    ("batch-huge", "training: {batch_size: 100000000}", "training.batch_size"),
    ("lr-other-huge", "training: {lr_other: 1000}", "training.lr_other"),
    ("calib-samples-huge", "training: {calib_samples: 100000000}", "training.calib_samples"),
    ("dataset-size-huge", "training: {dataset_size: 1.0e+30}", "training.dataset_size"),
    ("device-long", "training: {device: " + "x" * 5000 + "}", "training.device"),
    # storage that cannot work
    ("storage-memory-two-jobs", "storage: 'sqlite:///:memory:'\nn_jobs: 2", "n_jobs"),
    ("storage-journal-proc", "storage: 'journal:///proc/x.log'", "storage"),
    ("storage-under-a-file", "storage: 'sqlite:////etc/passwd/x.db'", "storage"),
    ("storage-component-300", "storage: 'journal:///tmp/" + "x" * 300 + "/s.log'", "storage"),
]
#: Profiles the study cases above name by {placeholder}: each parses as a file, none prices.
PROFILES = {
    "{garbage}": "not json {",
    "{string}": '{"multipliers": {"lut": {"pe": "2"}}}',
    "{nan}": '{"multipliers": {"lut": {"pe": NaN}}}',
    "{negative}": '{"power": {"ff": -1}}',
}
# Output-directory and file-level problems (the study text replaces HEAD entirely).
OUTPUT_CASES = [
    ("output-is-file", "output_dir"),
    ("output-under-file", "output_dir"),
    ("not-utf8", "UTF-8"),
    ("directory", "is a directory"),
    ("too-large", "larger than"),
    ("top-level-list", "mapping"),
    ("output-dir-5000", "output_dir"),
    ("output-dir-component-300", "output_dir"),
]


@pytest.fixture
def done(tmp_path: Path) -> Path:
    """Results of earlier work that no failing command may touch."""
    folder = tmp_path / "done"
    folder.mkdir()
    (folder / "study.db").write_bytes(b"earlier trials")
    (folder / "report.html").write_text("<html>earlier report</html>")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err[:400]
    assert err.startswith("error: ")
    assert len(err) < 600  # never the expanded input
    return err


@pytest.mark.parametrize(("case", "body", "field"), STUDIES, ids=[c[0] for c in STUDIES])
def test_broken_study_exits_2_in_one_line(case, body, field, tmp_path, done, capsys) -> None:
    for placeholder, text in PROFILES.items():
        if placeholder in body:
            profile = tmp_path / f"{placeholder.strip('{}')}.json"
            profile.write_text(text)
            body = body.replace(placeholder, str(profile))
    header = HEAD.format(out=done)
    if body.startswith(("objectives:", "name:")):  # replaces a key of HEAD
        key = body.split(":")[0]
        header = "".join(line + "\n" for line in header.splitlines() if not line.startswith(key))
    study = tmp_path / "study.yaml"
    study.write_text(header + body + "\n")
    before = _snapshot(done)
    assert main(["run", str(study)]) == 2
    err = _one_error_line(capsys)
    assert field in err
    assert "hunter2" not in err
    assert _snapshot(done) == before


@pytest.mark.parametrize(("case", "fragment"), OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_broken_study_file_or_output(case, fragment, tmp_path, done, capsys) -> None:
    study = tmp_path / "study.yaml"
    text = HEAD.format(out=done)
    if case == "output-is-file":
        text = HEAD.format(out=done / "study.db")
    elif case == "output-under-file":
        text = HEAD.format(out=done / "study.db" / "sub")
    elif case == "not-utf8":
        study.write_bytes(text.encode() + b"# caf\xe9\n")
    elif case == "directory":
        study = done
    elif case == "too-large":
        text += "# " + "x" * (1 << 20) + "\n"
    elif case == "top-level-list":
        text = "- name: broken\n"
    elif case == "output-dir-5000":
        text = HEAD.format(out=done / ("x/" * 2500))
    elif case == "output-dir-component-300":
        text = HEAD.format(out=done / ("x" * 300))
    if not study.exists():
        study.write_text(text)
    before = _snapshot(done)
    assert main(["run", str(study)]) == 2
    assert fragment in _one_error_line(capsys)
    assert _snapshot(done) == before


# --- corrupted models (dse evaluate) ----------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained but complete saved model."""
    import torch

    from models.io import save_model
    from models.network import BayesBinaryMLP
    from models.training import TrainConfig, TrainedModel

    torch.manual_seed(0)
    net = BayesBinaryMLP((64, 6, 10), levels=4, lam_init=2.0)
    model = TrainedModel(network=net, config=TrainConfig(widths=(6,)), dataset="digits")
    return save_model(model, tmp_path_factory.mktemp("model"))


def _settings_with(**changes) -> callable:
    def corrupt(folder: Path) -> None:
        path = folder / "settings.json"
        settings = json.loads(path.read_text())
        for key, value in changes.items():
            if key.startswith("config_"):
                settings["config"][key.removeprefix("config_")] = value
            elif value is KeyError:
                del settings[key]
            else:
                settings[key] = value
        path.write_text(json.dumps(settings))  # NaN is written as JSON's NaN extension

    return corrupt


def _write(name: str, data: bytes) -> callable:
    return lambda folder: (folder / name).write_bytes(data)


def _other_shapes(folder: Path) -> None:
    import torch

    from models.network import BayesBinaryMLP

    torch.save(BayesBinaryMLP((64, 9, 10), levels=4).state_dict(), folder / "weights.pt")


def _flip_64_bytes(folder: Path) -> None:
    """Invert 64 bytes inside the largest stored tensor: torch still loads the state dict."""
    flip_tensor_bytes(folder / "weights.pt")


MODELS = [
    ("settings-not-json", _write("settings.json", b"{not json"), "corrupt"),
    ("settings-list", _write("settings.json", b"[1, 2]"), "not a JSON object"),
    ("settings-not-utf8", _write("settings.json", b'{"levels": "\xff"}'), "corrupt"),
    ("levels-nan", _settings_with(levels=float("nan")), "levels"),
    ("levels-string", _settings_with(levels="four"), "levels"),
    ("clip-nan", _settings_with(clip=float("nan")), "clip"),
    ("output-scale-string", _settings_with(output_scale="x"), "output_scale"),
    ("output-scale-missing", _settings_with(output_scale=KeyError), "output_scale"),
    ("widths-string", _settings_with(widths=[64, "6", 10]), "widths"),
    ("config-epochs-string", _settings_with(config_epochs="many"), "epochs"),
    ("config-lr-nan", _settings_with(config_lr=float("nan")), "lr"),
    ("weights-garbage", _write("weights.pt", b"\x00garbage" * 10), "corrupt"),
    ("weights-empty", _write("weights.pt", b""), "corrupt"),
    ("weights-other-shapes", _other_shapes, "corrupt"),
    ("weights-missing", lambda folder: (folder / "weights.pt").unlink(), "weights.pt"),
    ("weights-64-flipped-bytes", _flip_64_bytes, "does not match the SHA-256"),
    ("weights-digest-missing", _settings_with(weights_sha256=KeyError), "SHA-256"),
    ("weights-digest-other", _settings_with(weights_sha256="0" * 64), "SHA-256"),
]


@pytest.mark.parametrize(("case", "corrupt", "field"), MODELS, ids=[c[0] for c in MODELS])
def test_corrupted_model_exits_2_in_one_line(
    case, corrupt, field, model_dir, tmp_path, capsys
) -> None:
    folder = shutil.copytree(model_dir, tmp_path / "model")
    corrupt(folder)
    before = _snapshot(folder)
    assert main(["evaluate", str(folder), "--timesteps", "2", "--samples", "1"]) == 2
    err = _one_error_line(capsys)
    assert field in err and "model directory" in err
    assert _snapshot(folder) == before  # no evaluation file, nothing rewritten


# --- corrupted reports and projects (dse measure, dse csim) ----------------------------------

CSYNTH = Path(__file__).parents[1] / "hls" / "fixtures" / "vivado_hls_2019_csynth.xml"
DESIGN = {"config": {"widths": [64, 6, 10], "clock_mhz": 100.0, "part": "xc7z020clg400-1"}}


def _report(text_change: tuple[str, str] | None = None, raw: bytes | None = None):
    def make(path: Path) -> None:
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text(CSYNTH.read_text().replace(*text_change, 1))

    return make


def _fifo(path: Path) -> None:
    os.mkfifo(path)  # reading it would wait for a writer for ever


def _sparse(size: int):
    def make(path: Path) -> None:
        with path.open("wb") as handle:  # no disk space used: a hole
            handle.truncate(size)

    return make


REPORTS = [
    ("lut-1e400", _report(("<LUT>4546</LUT>", "<LUT>1e400</LUT>")), "not a finite number"),
    ("lut-1e308", _report(("<LUT>4546</LUT>", "<LUT>1e308</LUT>")), "lut is 1e+308, more than"),
    ("dsp-1e9", _report(("<DSP48E>4</DSP48E>", "<DSP48E>1000000000</DSP48E>")), "dsp is 1e+09"),
    ("fifo", _fifo, "not a regular file"),
    ("two-gigabytes", _sparse(2 << 30), "larger than 64 MiB"),
    ("directory", lambda path: path.mkdir(), "is a directory"),
    ("lut-negative", _report(("<LUT>4546</LUT>", "<LUT>-4546</LUT>")), "lut is -4546"),
    ("truncated", _report(raw=CSYNTH.read_bytes()[:700]), "csynth.xml"),
    ("binary", _report(raw=b"\x89PNG\r\n\x1a\n" + bytes(range(256))), "csynth.xml"),
    ("other-part", _report(("xc7z020clg400-1", "xc7z045ffg900-2")), "part xc7z045ffg900-2"),
    ("other-clock", _report(("<TargetClockPeriod>10.00", "<TargetClockPeriod>5.00")), "200 MHz"),
]


@pytest.mark.timeout(60)  # a FIFO must not hang the command
@pytest.mark.parametrize(("case", "make", "fragment"), REPORTS, ids=[c[0] for c in REPORTS])
def test_corrupted_report_exits_2_in_one_line(case, make, fragment, tmp_path, capsys) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "design.json").write_text(json.dumps(DESIGN))
    report = tmp_path / "csynth.xml"
    make(report)
    before = _snapshot(project)
    assert main(["measure", str(project), "--report", str(report)]) == 2
    assert fragment in _one_error_line(capsys)
    assert _snapshot(project) == before  # no measured.json


# --- command-line flags ------------------------------------------------------------------------

FLAGS = [
    (["estimate", "--layers", "64,16,4", "--pe", "5000"], "--pe"),
    (["estimate", "--layers", "64,16,4", "--clock-mhz", "inf"], "--clock-mhz"),
    (["estimate", "--layers", "64,16,4", "--calibration", "{garbage}"], "--calibration"),
    (["estimate", "--layers", "64,16,4", "--calibration", "{nan}"], "multipliers.lut.pe is nan"),
    (["estimate", "--layers", "64,x,4"], "--layers"),
    (["estimate"], "--layers"),
    (["evaluate", "MODEL", "--threshold-scales", "1,a"], "--threshold-scales"),
    (["export", "--model", "MODEL", "--out", "OUT", "--sample-lanes", "0"], "--sample-lanes"),
]


@pytest.mark.parametrize(
    ("argv", "flag"), FLAGS, ids=[" ".join(f[0][:1] + f[0][-2:]) for f in FLAGS]
)
def test_bad_flags_exit_2_in_one_line(argv, flag, tmp_path, capsys) -> None:
    for placeholder, text in PROFILES.items():
        (tmp_path / f"{placeholder.strip('{}')}.json").write_text(text)
    argv = [str(tmp_path / f"{a.strip('{}')}.json") if a in PROFILES else a for a in argv]
    assert main(argv) == 2
    assert flag in _one_error_line(capsys)


# --- flags that contradict the study file --------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--storage", "sqlite:///:memory:", "--jobs", "2"], "--jobs"),
        (["--storage", "journal:///proc/dse-test.log"], "cannot write in '/proc'"),
        (["--storage", "sqlite:////etc/passwd/x.db"], "a folder on its path is a file"),
    ],
    ids=["memory-two-jobs", "journal-proc", "sqlite-under-file"],
)
def test_run_refuses_an_unusable_storage_flag(flags, fragment, tmp_path, done, capsys) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(HEAD.format(out=done))
    before = _snapshot(done)
    assert main(["run", str(study), *flags]) == 2
    err = _one_error_line(capsys)
    assert fragment in err and "storage" in err
    assert _snapshot(done) == before
