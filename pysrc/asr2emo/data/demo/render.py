"""Speech rendering with espeak-ng + sox: one sentence -> float32 samples at 16 kHz.

espeak-ng is deterministic for a given text and voice; sox runs with dither off (``-D``) and
in repeatable mode (``-R``: fixed seeds and time stamps instead of the clock), so the same
arguments always give the same samples. Pitch range goes through SSML ``<prosody range>``;
voice-quality effects (overdrive, treble, lowpass, tremolo, reverb) are sox effects applied
before resampling to 16 kHz.

Neither tool's exit status can be trusted alone: sox exits 0 after a failed write (a full disk
gives "sox FAIL ... No space left on device", status 0, and a shorter file whose header matches
it). Every rendered buffer is checked, and every written file is read back and compared with
the samples meant for it, so a corpus on disk is either exactly what the seed says or an error.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from asr2emo.utils.errors import UserError

SAMPLE_RATE = 16000
FRAME = 160  # 10 ms: segments and gaps are whole frames so stm times are exact
SOX = ("sox", "-D", "-R", "-V1")  # no dither, repeatable, errors only


def synthesize(
    text: str,
    voice: str,
    pitch: int,
    rate: int,
    range_pct: int = 100,
    effects: Sequence[str] = (),
) -> np.ndarray:
    """Render ``text`` with espeak-ng and optional sox ``effects``; float32 mono at 16 kHz."""
    ssml = f'<speak><prosody range="{int(range_pct)}%">{text}</prosody></speak>'
    pitch = int(min(99, max(0, pitch)))
    rate = int(min(450, max(80, rate)))
    tts = ["espeak-ng", "-m", "-v", voice, "-p", str(pitch), "-s", str(rate), "--stdout", ssml]
    wav = subprocess.run(tts, check=True, capture_output=True).stdout
    if len(wav) <= 44 or wav[:4] != b"RIFF":
        raise UserError(f"espeak-ng gave no audio for voice {voice!r} (text {text!r})")
    sox = [*SOX, "-t", "wav", "-", "-t", "raw", "-e", "floating-point", "-b", "32"]
    sox += ["-c", "1", "-", *effects, "rate", "-h", str(SAMPLE_RATE)]
    raw = subprocess.run(sox, input=wav, check=True, capture_output=True).stdout
    if len(raw) == 0 or len(raw) % 4:
        raise UserError(f"sox gave {len(raw)} bytes for voice {voice!r} (effects {effects})")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def trim(x: np.ndarray, rel_db: float = -40.0, margin: float = 0.03) -> np.ndarray:
    """Cut leading/trailing silence below ``rel_db`` of the peak, keep ``margin`` seconds, and
    zero-pad to a whole number of 10 ms frames."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak == 0.0:
        return np.zeros(FRAME, dtype=np.float32)
    idx = np.flatnonzero(np.abs(x) > peak * 10 ** (rel_db / 20))
    m = int(margin * SAMPLE_RATE)
    y = x[max(0, idx[0] - m) : idx[-1] + 1 + m]
    pad = (-len(y)) % FRAME
    return np.concatenate([y, np.zeros(pad, dtype=np.float32)]).astype(np.float32)


def set_level(x: np.ndarray, db: float) -> np.ndarray:
    """Scale ``x`` so its RMS over non-silent samples is ``db`` dBFS."""
    active = x[np.abs(x) > 1e-4]
    rms = float(np.sqrt(np.mean(active**2))) if len(active) else 1.0
    return (x * (10 ** (db / 20) / max(rms, 1e-9))).astype(np.float32)


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 with clipping."""
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def write_sph(path: Path, samples: np.ndarray) -> None:
    """Write int16 samples as a NIST SPHERE file with sox (as TED-LIUM's .sph files are)."""
    cmd = [*SOX, "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16"]
    cmd += ["-c", "1", "-", "-t", "sph", str(path)]
    subprocess.run(cmd, input=samples.astype("<i2").tobytes(), check=True, capture_output=True)
    check_written(path, samples)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write int16 samples as a 16 kHz 16-bit mono WAV file (as IEMOCAP's are)."""
    sf.write(str(path), samples, SAMPLE_RATE, subtype="PCM_16")
    check_written(path, samples)


def check_written(path: Path, samples: np.ndarray) -> None:
    """Read ``path`` back: its samples must equal ``samples`` (int16), else one clear error."""
    try:
        back, _ = sf.read(str(path), dtype="int16")
    except (RuntimeError, sf.LibsndfileError) as e:
        back, reason = None, str(e)
    if back is None or back.shape != samples.shape or not np.array_equal(back, samples):
        free = shutil.disk_usage(Path(path).parent).free / 2**20
        what = reason if back is None else f"{len(back)} of {len(samples)} samples as written"
        raise UserError(
            f"{path}: the file on disk is not what was written ({what}; {free:.0f} MiB free "
            "on its disk); free some space and rerun"
        )
