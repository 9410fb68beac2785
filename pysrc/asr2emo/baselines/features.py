"""Utterance-level features of the classical baselines, computed once and cached.

* ``egemaps``: the 88 eGeMAPS v02 functionals of openSMILE (the standard paralinguistic set);
* ``mfcc_stats``: per-coefficient mean and standard deviation of the 40-dim hires MFCC (80 values);
* ``ivector``: one offline i-vector per utterance from all its frames, with the stage-3 extractor.

Each kind is cached in ``<cache-dir>/<kind>.npz`` (``ids``: utterance ids, ``feats``: one row per
id, ``meta``: a JSON fingerprint of the settings). Only ids missing from a cache with the same
fingerprint are computed; the audio of an utterance is read once for all kinds.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from asr2emo.baselines.utterances import UttTable
from asr2emo.features.mfcc import KaldiMfccHiresConfig, compute_mfcc
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

FEATURE_KINDS = ("egemaps", "mfcc_stats", "ivector")
NUM_EGEMAPS = 88


def egemaps_extractor():
    """openSMILE's eGeMAPS v02 functionals (88 per utterance)."""
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def egemaps_functionals(smile, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    """``(88,)`` float32 eGeMAPS functionals of a mono signal in [-1, 1]."""
    df = smile.process_signal(np.asarray(samples, dtype=np.float32), sampling_rate)
    return np.asarray(df.values[0], dtype=np.float32)


def mfcc_statistics(mfcc: np.ndarray) -> np.ndarray:
    """Per-coefficient mean then standard deviation over frames: ``(2 * dim,)``."""
    mfcc = np.asarray(mfcc, dtype=np.float64)
    return np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)]).astype(np.float32)


def fingerprint(kind: str, mfcc_config: KaldiMfccHiresConfig, ivector_dir: Optional[Path]) -> Dict:
    """Settings a cached feature depends on (a cache with another fingerprint is recomputed)."""
    if kind == "egemaps":
        import opensmile

        return {"kind": kind, "opensmile": opensmile.__version__, "set": "eGeMAPSv02"}
    fp = {"kind": kind, "mfcc": asdict(mfcc_config)}
    if kind == "ivector":
        if ivector_dir is None:
            raise UserError("the i-vector baseline needs --ivector-dir (stage-3 extractor)")
        ie = Path(ivector_dir) / "final.ie"
        fp["ivector"] = {
            "dir": str(Path(ivector_dir).resolve()),
            "mtime": ie.stat().st_mtime if ie.is_file() else None,
        }
    return fp


def read_cache(path: Path, fp: Dict) -> Dict[str, np.ndarray]:
    """``{id: row}`` of a cache file with fingerprint ``fp`` (empty if absent or stale)."""
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        if json.loads(str(z["meta"])) != json.loads(json.dumps(fp)):
            logging.info("%s was computed with other settings; recomputing", path)
            return {}
        return {str(u): row for u, row in zip(z["ids"], z["feats"])}


def write_cache(path: Path, rows: Dict[str, np.ndarray], fp: Dict) -> None:
    ids = sorted(rows)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            ids=np.asarray(ids),
            feats=np.stack([rows[u] for u in ids]).astype(np.float32),
            meta=np.asarray(json.dumps(fp)),
        )


def compute_features(
    table: UttTable,
    kinds: Sequence[str],
    cache_dir: Path,
    mfcc_config: Optional[KaldiMfccHiresConfig] = None,
    ivector_dir: Optional[Path] = None,
) -> Dict[str, np.ndarray]:
    """``{kind: (U, D) float32}`` rows in ``table`` order; computes and caches missing ids.

    Raises :class:`UserError` listing the utterances whose features cannot be computed (they
    cannot be left out without changing stage 8's folds).
    """
    for kind in kinds:
        if kind not in FEATURE_KINDS:
            raise UserError(f"unknown feature kind '{kind}'; valid: {', '.join(FEATURE_KINDS)}")
    mfcc_config = mfcc_config or KaldiMfccHiresConfig()
    cache_dir = Path(cache_dir)
    fps = {k: fingerprint(k, mfcc_config, ivector_dir) for k in kinds}
    rows = {k: read_cache(cache_dir / f"{k}.npz", fps[k]) for k in kinds}
    todo = [i for i, u in enumerate(table.ids) if any(u not in rows[k] for k in kinds)]
    if todo:
        _compute_missing(table, todo, kinds, rows, mfcc_config, ivector_dir)
        for k in kinds:
            write_cache(cache_dir / f"{k}.npz", rows[k], fps[k])
    else:
        logging.info("features %s: all %d utterances cached", ", ".join(kinds), table.num_utts)
    return {k: np.stack([rows[k][u] for u in table.ids]) for k in kinds}


def _compute_missing(
    table: UttTable,
    todo: List[int],
    kinds: Sequence[str],
    rows: Dict[str, Dict[str, np.ndarray]],
    mfcc_config: KaldiMfccHiresConfig,
    ivector_dir: Optional[Path],
) -> None:
    torch.set_num_threads(1)
    smile = egemaps_extractor() if "egemaps" in kinds else None
    extractor = None
    if "ivector" in kinds:
        from asr2emo.ivector.extractor import IvectorExtractor

        extractor = IvectorExtractor.load(ivector_dir)
    failed: List[str] = []
    t0, audio_sec = time.time(), 0.0
    for i in tqdm(todo, desc="baseline features", unit="utt"):
        u = table.ids[i]
        try:
            samples, sr = table.load_audio(i)
            audio_sec += len(samples) / sr
            if smile is not None and u not in rows["egemaps"]:
                rows["egemaps"][u] = egemaps_functionals(smile, samples, sr)
            if ("mfcc_stats" in kinds and u not in rows["mfcc_stats"]) or (
                extractor is not None and u not in rows["ivector"]
            ):
                mfcc = compute_mfcc(samples, sr, mfcc_config)
                if "mfcc_stats" in kinds:
                    rows["mfcc_stats"][u] = mfcc_statistics(mfcc)
                if extractor is not None:
                    rows["ivector"][u] = extractor.extract_offline(mfcc).astype(np.float32)
        except (ValueError, RuntimeError, OSError) as e:
            failed.append(f"{u} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    elapsed = time.time() - t0
    logging.info(
        "features %s for %d utterances (%.1f s of audio) in %.1f s",
        ", ".join(kinds),
        len(todo) - len(failed),
        audio_sec,
        elapsed,
    )
    if failed:
        raise UserError(
            f"features failed for {len(failed)} utterance(s): {'; '.join(failed[:5])}"
            + (" ..." if len(failed) > 5 else "")
        )
