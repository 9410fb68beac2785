"""Recordings of any length in bounded memory: checked opening, block reading, silence cuts.

:func:`open_audio` turns the usual ways a file can be unusable (missing, a directory, no read
permission, not audio, no samples) into one sentence, instead of libsndfile's "System error.".
:func:`read_block` / :func:`read_blocks` read a file block by block (a block libsndfile cannot
decode is an :class:`AudioError` naming its offset); :func:`silence_segments` yields consecutive
mono segments of
about ``target_seconds``, each cut at the quietest 10 ms frame within ``search_seconds`` of the
target length, so words are rarely split and memory never holds more than one segment plus the
search window, whatever the recording's length.

Channel policy, the same in training and inference: a multi-channel file is used through its
first channel (:data:`CHANNEL`), as lhotse's supervisions on channel 0 and Kaldi's ``remix 1``
do; the recipe's corpora (TED-LIUM, IEMOCAP) are mono.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

import numpy as np
import soundfile as sf

Pathlike = Union[str, Path]
CHANNEL = 0  # the channel of a multi-channel recording that training and inference use


class AudioError(Exception):
    """A file that cannot be used as audio; the message says why in one line."""


@dataclass
class Segment:
    """``samples`` (mono float32) starting ``start`` seconds into the recording."""

    start: float
    samples: np.ndarray
    sampling_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sampling_rate


def open_audio(path: Pathlike) -> sf.SoundFile:
    """The open file, or :class:`AudioError` naming what is wrong with it."""
    p = Path(path)
    if not p.exists():
        raise AudioError("no such file")
    if p.is_dir():
        raise AudioError("is a directory, not an audio file")
    if not os.access(p, os.R_OK):
        raise AudioError("not readable (permission denied)")
    try:
        f = sf.SoundFile(str(p))
    except (RuntimeError, sf.LibsndfileError) as e:
        reason = str(getattr(e, "error_string", "") or e).strip().splitlines()[0]
        raise AudioError(f"not an audio file libsndfile can read ({reason})") from None
    if f.frames == 0:
        f.close()
        raise AudioError("no samples (empty audio)")
    return f


def read_mono(path: Pathlike) -> tuple[np.ndarray, int]:
    """Samples ``(N,)`` float32 in [-1, 1] of channel :data:`CHANNEL` and the sampling rate; a
    missing, unreadable or empty file is an :class:`AudioError` saying which."""
    with open_audio(path) as f:
        audio = f.read(dtype="float32", always_2d=True)
        return np.ascontiguousarray(audio[:, CHANNEL]), int(f.samplerate)


def _mono(block: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(block[:, CHANNEL]) if block.ndim == 2 else block


def read_block(f: sf.SoundFile, num_samples: int, start: int) -> np.ndarray:
    """The next ``num_samples`` (fewer at the end) of channel :data:`CHANNEL`; ``start`` is the
    current sample offset, named in the :class:`AudioError` of an undecodable block."""
    try:
        block = f.read(max(num_samples, 0), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise AudioError(f"unreadable after {start / f.samplerate:.1f} s ({e})") from None
    return _mono(block)


def read_blocks(f: sf.SoundFile, block_samples: int) -> Iterator[np.ndarray]:
    """Consecutive mono blocks of ``block_samples`` from the start of the open file ``f``."""
    start = 0
    while True:
        block = read_block(f, block_samples, start)
        if len(block) == 0:
            return
        yield block
        start += len(block)


def silence_segments(
    path: Pathlike, target_seconds: float = 30.0, search_seconds: float = 3.0
) -> Iterator[Segment]:
    """Consecutive segments (channel :data:`CHANNEL`) covering the whole file (see the module
    docstring)."""
    with open_audio(path) as f:
        sr = f.samplerate
        frame = max(1, sr // 100)
        target, search = int(target_seconds * sr), int(search_seconds * sr)
        buf = np.zeros(0, dtype=np.float32)
        start = 0  # sample index of buf[0] in the recording
        while True:
            buf = np.concatenate([buf, read_block(f, target + search - len(buf), start)])
            if len(buf) < target + search:  # the end of the file
                if len(buf):
                    yield Segment(start / sr, buf, sr)
                return
            lo = target - search
            region = buf[lo : target + search]
            starts = np.arange(0, len(region), frame)
            energy = np.add.reduceat(region.astype(np.float64) ** 2, starts)
            energy /= np.diff(np.append(starts, len(region)))  # the last frame may be shorter
            cut = lo + int(np.argmin(energy)) * frame
            yield Segment(start / sr, buf[:cut].copy(), sr)
            buf = buf[cut:]
            start += cut
