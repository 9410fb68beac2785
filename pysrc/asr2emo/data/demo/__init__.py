"""Synthetic demo corpora in the exact on-disk layouts of TED-LIUM release 2 and IEMOCAP.

``make_demo_corpora(out_dir)`` writes ``out_dir/TEDLIUM_release2`` and/or
``out_dir/IEMOCAP_full_release`` so that the same stage-0 parsers read the demo and the real
corpora. Generation is seeded and byte-for-byte deterministic (whatever ``nj`` and the machine's
load); each corpus is written to a temporary directory that is renamed only when complete, with
a ``.done`` marker that records what its bytes depend on (generator version, seed, scale, the
espeak-ng and sox versions) and the sha1 of every file written. A call with the same record is
a no-op once the files are checked against their digests; a corpus changed on disk since it was
written, or made with other parameters or tools, is regenerated with a line saying why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from asr2emo.data.demo import iemocap, tedlium
from asr2emo.data.demo.voices import draw_speakers
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

GENERATOR_VERSION = 3
CORPORA = {"tedlium": "TEDLIUM_release2", "iemocap": "IEMOCAP_full_release"}

# Scale presets; every key can be overridden (conf/*/demo.conf or keyword arguments).
SIZES: Dict[str, Dict[str, float]] = {
    "demo": dict(
        train_talks=14,
        train_talk_seconds=270.0,
        eval_talks=2,
        eval_talk_seconds=150.0,
        iemocap_kept_per_speaker=44,
        iemocap_drop_fraction=0.2,
        iemocap_dialog_size=14,
        emotion_strength=1.3,
    ),
    "micro": dict(
        train_talks=4,
        train_talk_seconds=40.0,
        eval_talks=1,
        eval_talk_seconds=20.0,
        iemocap_kept_per_speaker=8,
        iemocap_drop_fraction=0.2,
        iemocap_dialog_size=10,
        emotion_strength=1.3,
    ),
}
TEDLIUM_KEYS = ("train_talks", "train_talk_seconds", "eval_talks", "eval_talk_seconds")
IEMOCAP_KEYS = (
    "iemocap_kept_per_speaker",
    "iemocap_drop_fraction",
    "iemocap_dialog_size",
    "emotion_strength",
)


def resolve_params(size: str, overrides: Dict[str, Optional[float]]) -> Dict[str, float]:
    """The preset of ``size`` with the non-None ``overrides`` applied."""
    if size not in SIZES:
        raise UserError(f"unknown demo size '{size}'; valid sizes: {', '.join(SIZES)}")
    params = dict(SIZES[size])
    for key, value in overrides.items():
        if key not in params:
            raise UserError(f"unknown demo corpus parameter '{key}'; valid: {', '.join(params)}")
        if value is not None:
            params[key] = value
    for key in ("train_talks", "eval_talks", "iemocap_kept_per_speaker", "iemocap_dialog_size"):
        params[key] = int(params[key])
        if params[key] < 1:
            raise UserError(f"demo corpus parameter {key} must be >= 1, got {params[key]}")
    if not 0.0 <= params["iemocap_drop_fraction"] < 1.0:
        raise UserError("iemocap_drop_fraction must be in [0, 1)")
    return params


# Train speakers drawn before the held-out ones; the rest are drawn after IEMOCAP's. 14 (the demo
# preset) keeps the dev/test and IEMOCAP voices of generator version 1 whatever the train size, so
# WERs on unseen voices stay comparable when only the train voices change.
TRAIN_DRAWN_FIRST = 14


def all_speakers(params: Dict[str, float], seed: int):
    """Speakers of both corpora from one draw, so the corpora never share a voice.

    The dev/test variants are exclusive: extra train speakers (beyond the ones drawn first) may
    reuse IEMOCAP or train variants under another accent, never a dev/test one; their pitch and
    rate come from the wider ranges (voices.WIDE_PITCH, voices.WIDE_RATE).
    """
    train = [
        (f"ted-train-{i}", "female" if i % 2 == 0 else "male")
        for i in range(int(params["train_talks"]))
    ]
    held_out: List[Tuple[str, str]] = []
    for part in ("dev", "test"):
        for i in range(int(params["eval_talks"])):
            held_out.append((f"ted-{part}-{i}", "male" if i % 2 == 0 else "female"))
    needs = train[:TRAIN_DRAWN_FIRST] + held_out
    for s in range(1, 6):
        needs += [(f"iemocap-{s}-F", "female"), (f"iemocap-{s}-M", "male")]
    needs += train[TRAIN_DRAWN_FIRST:]
    extra = [key for key, _ in train[TRAIN_DRAWN_FIRST:]]
    return draw_speakers(seed, needs, exclusive=[key for key, _ in held_out], wide=extra)


def _run(fn: Callable, jobs: Sequence[tuple], nj: int) -> list:
    if nj <= 1 or len(jobs) <= 1:
        return [fn(*job) for job in jobs]
    with ProcessPoolExecutor(max_workers=nj) as ex:
        return list(ex.map(fn, *zip(*jobs)))


def _make_tedlium(root: Path, params: Dict[str, float], seed: int, nj: int) -> str:
    speakers = all_speakers(params, seed)
    plans = tedlium.plan_talks(
        speakers,
        int(params["train_talks"]),
        params["train_talk_seconds"],
        int(params["eval_talks"]),
        params["eval_talk_seconds"],
    )
    tedlium.prepare_layout(root)
    results = _run(tedlium.write_talk, [(root, p, seed) for p in plans], nj)
    lines = []
    for part in tedlium.PARTS:
        rows = [r for r in results if r[0] == part]
        speech = sum(r[2] for r in rows)
        total = sum(r[3] for r in rows)
        lines.append(
            f"{part}: {len(rows)} talks, {speech / 3600:.3f} h speech, {total / 3600:.3f} h audio"
        )
    return "; ".join(lines)


def _make_iemocap(root: Path, params: Dict[str, float], seed: int, nj: int) -> str:
    speakers = all_speakers(params, seed)
    dialogs = []
    for s in range(1, 6):
        spk = {"F": speakers[f"iemocap-{s}-F"], "M": speakers[f"iemocap-{s}-M"]}
        dialogs += iemocap.plan_session(
            s,
            spk,
            int(params["iemocap_kept_per_speaker"]),
            params["iemocap_drop_fraction"],
            int(params["iemocap_dialog_size"]),
            params["emotion_strength"],
            seed,
        )
    results = _run(iemocap.write_dialog, [(root, d) for d in dialogs], nj)
    rows = [r for res in results for r in res]
    table = []
    for s in range(1, 6):
        c = {k: sum(1 for r in rows if r[0] == s and r[3] == k) for k in iemocap.KEPT}
        other = sum(1 for r in rows if r[0] == s and r[3] not in iemocap.KEPT)
        table.append(
            f"Ses{s} " + "/".join(str(c[k]) for k in iemocap.KEPT) + f" (+{other} dropped)"
        )
    hours = sum(r[4] for r in rows) / 3600
    return f"{len(rows)} utterances, {hours:.3f} h; ang/exc/neu/sad per session: " + ", ".join(
        table
    )


_MAKERS = {"tedlium": (_make_tedlium, TEDLIUM_KEYS), "iemocap": (_make_iemocap, IEMOCAP_KEYS)}


def tool_versions() -> Dict[str, str]:
    """espeak-ng's and sox's versions: a corpus's bytes depend on them as much as on the seed."""
    out = {}
    for tool, pattern in (("espeak-ng", r"text-to-speech:\s*(\S+)"), ("sox", r"SoX v(\S+)")):
        text = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
        m = re.search(pattern, text)
        out[tool] = m.group(1) if m else text.strip()
    return out


def file_digests(root: Path) -> Dict[str, str]:
    """``{relative path: sha1}`` of every file under ``root`` except the ``.done`` marker."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != ".done":
            out[p.relative_to(root).as_posix()] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def corpus_digest(root: Path) -> str:
    """One sha1 over a corpus's per-file digests (as recorded in its ``.done``)."""
    record = json.loads((Path(root) / ".done").read_text())
    return hashlib.sha1(json.dumps(record["files"], sort_keys=True).encode()).hexdigest()


def _changed_files(root: Path, recorded: Dict[str, str]) -> List[str]:
    now = file_digests(root)
    return sorted(k for k in set(now) | set(recorded) if now.get(k) != recorded.get(k))


def make_demo_corpora(
    out_dir: Union[str, Path],
    corpora: Iterable[str] = ("tedlium", "iemocap"),
    size: str = "demo",
    seed: int = 0,
    nj: int = 2,
    **overrides: Optional[float],
) -> Dict[str, Path]:
    """Write the requested demo corpora under ``out_dir``; returns ``{corpus: path}``.

    ``overrides`` are scale knobs of :data:`SIZES` (e.g. ``train_talks=3``); None keeps the
    preset. A corpus whose ``.done`` marker records the same parameters and tools, and whose
    files still have the recorded digests, is left alone.
    """
    out_dir = Path(out_dir)
    params = resolve_params(size, overrides)
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise UserError(
                f"'{tool}' not found; the demo corpora need espeak-ng and sox installed"
            )
    tools = tool_versions()
    paths: Dict[str, Path] = {}
    for corpus in corpora:
        if corpus not in CORPORA:
            raise UserError(f"unknown demo corpus '{corpus}'; valid: {', '.join(CORPORA)}")
        maker, keys = _MAKERS[corpus]
        # Speakers are drawn for both corpora, so both corpora's scale keys shape either one.
        record = {"version": GENERATOR_VERSION, "corpus": corpus, "seed": seed, "size": size}
        record.update({k: params[k] for k in sorted(params)})
        record["tools"] = tools
        root = out_dir / CORPORA[corpus]
        paths[corpus] = root
        marker = root / ".done"
        if marker.is_file():
            try:
                old = json.loads(marker.read_text())
            except ValueError:
                old = {}
            recorded = old.pop("files", None)
            if old == record and recorded is not None:
                changed = _changed_files(root, recorded)
                if not changed:
                    logging.info(f"{root}: already done (seed {seed}, size {size}), nothing to do")
                    continue
                logging.info(
                    f"{root}: {len(changed)} file(s) differ from what was generated "
                    f"(e.g. {changed[0]}); regenerating"
                )
            else:
                diff = sorted(k for k in set(old) | set(record) if old.get(k) != record.get(k))
                why = f"other {', '.join(diff)}" if diff else "no file digests (older generator)"
                logging.info(f"{root}: generated with {why}; regenerating")
        elif root.exists():
            raise UserError(
                f"{root} exists but was not written by the demo generator (no .done); "
                "remove it or choose another output directory"
            )
        for stale in sorted(out_dir.glob(f"{root.name}.tmp*")):  # left by a killed run
            logging.info(f"removing {stale} (unfinished earlier run)")
            shutil.rmtree(stale, ignore_errors=True)
        logging.info(f"{root}: generating {corpus} demo corpus (size {size}, seed {seed}, nj {nj})")
        t0 = time.time()
        with atomic_path(root) as tmp:
            tmp.mkdir(parents=True)
            summary = maker(tmp, params, seed, nj)
            done = dict(record, files=file_digests(tmp))
            (tmp / ".done").write_text(json.dumps(done, sort_keys=True, indent=1) + "\n")
        logging.info(f"{root}: done in {time.time() - t0:.1f} s: {summary}")
    return paths
