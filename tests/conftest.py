"""Shared fixtures: repository paths and tiny audio writers (data made on the fly)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# One intra-op thread: float results (and so every learned figure) do not depend on the number
# of cores or on how busy they are. Steps the tests run as subprocesses set their own threads.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded_generators():
    """Each test starts from the same global generator states, whatever ran before it."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def write_tone(
    path: Path, seconds: float, sr: int = 16000, fmt: str = "WAV", seed: int = 0
) -> Path:
    """A short harmonic tone with a little noise (speech-like enough for parsers and features)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 150 * t) + 0.1 * np.sin(2 * np.pi * 450 * t)
    x += 0.01 * rng.standard_normal(t.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), sr, format=fmt, subtype="PCM_16")
    return path


# The micro demo corpora of seed 0 as the generator writes them with these espeak-ng and sox
# versions (Debian 12's): asr2emo.data.demo.corpus_digest, one sha1 over every file's sha1.
# A change here is a change of the corpus, to be made on purpose (generator version bump).
MICRO_GOLDEN = {
    ("1.51", "14.4.2"): {
        "tedlium": "492cf9bc99755a803812e230e4b287cd9f760203",
        "iemocap": "4186b7a8e9a4b600166cfe4633db5c4154e07f02",
    }
}


def assert_golden_micro(roots: dict) -> None:
    """The micro corpora (seed 0) under ``roots`` = {corpus: dir} have the pinned bytes.

    With tool versions that have no pinned digest, only run-to-run equality can be tested (the
    callers do); the versions are printed so that a digest can be pinned for them.
    """
    from asr2emo.data.demo import corpus_digest, tool_versions

    tools = tool_versions()
    golden = MICRO_GOLDEN.get((tools["espeak-ng"], tools["sox"]))
    if golden is None:
        print(f"no pinned micro-corpus digest for {tools}")
        return
    for corpus, root in roots.items():
        assert corpus_digest(root) == golden[corpus], f"{corpus} corpus at {root} changed bytes"


def knf_hires_opts(opts):
    """Set a kaldi-native-fbank Mfcc/FbankOptions to conf/mfcc_hires.conf's frame and mel options.

    Written out here, independently of asr2emo.features, as the tests' reference.
    """
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = 40
    opts.mel_opts.low_freq = 20
    opts.mel_opts.high_freq = -400
    opts.use_energy = False
    return opts


def knf_frames(computer, samples: np.ndarray) -> np.ndarray:
    """All frames of a kaldi-native-fbank online computer fed ``samples`` in [-1, 1] as 16-bit."""
    computer.accept_waveform(16000, (samples * 32768.0).astype(np.float32))
    computer.input_finished()
    return np.array([computer.get_frame(i) for i in range(computer.num_frames_ready)])


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


def make_micro_conf(dest: Path) -> Path:
    """conf/mini with the demo corpora at "micro" size: the conf dir of the pipeline tests.

    Every scale knob of conf/mini/demo.conf is dropped, so the corpora are exactly the "micro"
    preset of asr2emo.data.demo.SIZES (4 train talks x 40 s), not conf/mini's 84 x 45 s.
    """
    import shutil

    from asr2emo.data.demo import SIZES

    shutil.copytree(REPO / "conf" / "mini", dest)
    demo = dest / "demo.conf"
    knobs = tuple(f"--{k.replace('_', '-')}=" for k in SIZES["micro"]) + ("--size=", "--nj=")
    lines = [ln for ln in demo.read_text().splitlines() if not ln.startswith(knobs)]
    demo.write_text("\n".join(lines + ["--size=micro", "--nj=1"]) + "\n")
    return dest


def run_recipe(workdir: Path, *args: str, timeout: int = 900):
    """./run.sh in the repository with data/exp under ``workdir`` and the micro conf."""
    import subprocess

    from faults import recipe_cmd

    conf = workdir / "conf"
    if not conf.exists():
        make_micro_conf(conf)
    cmd = recipe_cmd(workdir, conf) + list(args)
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def micro_stage0(tmp_path_factory) -> Path:
    """A work dir where run.sh stage 0 has run on the micro demo corpora (shared by tests)."""
    work = tmp_path_factory.mktemp("micro_recipe")
    r = run_recipe(work, "--stage", "0", "--stop-stage", "0")
    assert r.returncode == 0, r.stderr[-3000:]
    (work / "stage0.log").write_text(r.stderr)
    return work


# ---------------------------------------------------------------------------------------------
# A tiny TDNN-F trained with LF-MMI on the real yes/no corpus (~8 s), shared by the ASR tests

YESNO = SHARED_DATA / "yesno" / "waves_yesno"
TINY = """--num-layers=7
--hidden-dim=96
--bottleneck-dim=32
--prefinal-dim=48
--time-strides=1,1,0,3,3,3
--dropout-schedule=0
"""


def train_yesno_tdnnf(
    work: Path, topology: str = "ctc", seed: int = 42, extra: Sequence[str] = ()
) -> Path:
    from asr2emo.cli import main as cli
    from yesno import yesno_cuts, yesno_lang, yesno_split

    """The tiny TDNN-F trained on the yes/no train half; returns its exp dir (also holds
    ``test.jsonl.gz`` and ``lang/``). Shared by this test and the transcribe tests."""
    train, test = yesno_split(YESNO)
    assert len(train) == 30 and len(test) == 30 and not set(train) & set(test)
    train_cuts = yesno_cuts(YESNO, work / "train", train)
    test_cuts = yesno_cuts(YESNO, work / "test", test)
    train_cuts.to_file(work / "train.jsonl.gz")
    test_cuts.to_file(work / "test.jsonl.gz")
    lang = yesno_lang(work / "lang", [c.supervisions[0].text for c in train_cuts], topology)
    (work / "tiny.conf").write_text(TINY)
    exp = work / "exp"
    rc = cli(
        [
            "train-lfmmi",
            "--config",
            str(REPO / "conf" / "mini" / "lfmmi.conf"),
            "--model-config",
            str(work / "tiny.conf"),
            "--num-epochs",
            "10",
            "--max-duration",
            "20",
            "--bucketing",
            "false",
            "--initial-lr",
            "0.003",
            "--final-lr",
            "0.001",
            "--require-ivectors",
            "false",
            # conf/mini's SpecAugment is for the demo's many synthetic voices; on 30 files of one
            # speaker in 10 epochs it costs accuracy (3.75 % WER with it, RESULTS.md).
            "--spec-augment",
            "false",
            "--topology",
            topology,
            "--seed",
            str(seed),
            *extra,
            str(work / "train.jsonl.gz"),
            str(work / "test.jsonl.gz"),
            str(lang),
            str(exp),
        ]
    )
    assert rc == 0
    return exp


@pytest.fixture(scope="session")
def yesno_tdnnf(tmp_path_factory) -> Path:
    if not YESNO.is_dir():
        pytest.skip(f"{YESNO} not present")
    return train_yesno_tdnnf(tmp_path_factory.mktemp("yesno_tdnnf"))
