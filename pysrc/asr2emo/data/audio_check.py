"""Is an audio file usable? Header checks that catch empty, unreadable and truncated files.

libsndfile quietly shrinks the frame count of a truncated WAV to what the file holds (its
``extra_info`` then says ``data : N (should be M)``) and does not look past a NIST/SPHERE
header at all, so a truncated file would otherwise pass as a shorter recording.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import soundfile as sf

_WAV_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)


def error_reason(e: Exception) -> str:
    """libsndfile's own reason (e.g. 'Format not recognised.') without the path prefix."""
    reason = getattr(e, "error_string", None) or str(e).splitlines()[0]
    return reason.strip()


def _nist_expected_bytes(path: Path) -> Optional[int]:
    """Header size + sample bytes that a NIST/SPHERE header announces, or None."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head.startswith(b"NIST_1A"):
        return None
    lines = head.split(b"\n")
    try:
        header_size = int(lines[1].strip())
    except (IndexError, ValueError):
        return None
    fields = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[1].startswith(b"-i"):
            fields[parts[0].decode("ascii", "replace")] = int(parts[2])
        if line.startswith(b"end_head"):
            break
    if "sample_count" not in fields:
        return None
    return header_size + fields["sample_count"] * fields.get("sample_n_bytes", 2) * fields.get(
        "channel_count", 1
    )


def probe_audio(path: Path) -> Optional[str]:
    """None when ``path`` is readable, non-empty and complete, else the reason it is not."""
    path = Path(path)
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile errors have no common base class
        return f"unreadable audio ({error_reason(e)})"
    if info.frames <= 0:
        return "empty audio"
    m = _WAV_DATA.search(info.extra_info or "")
    if m is not None and int(m.group(1)) > int(m.group(2)):
        return f"truncated audio (header: {m.group(1)} data bytes, file holds {m.group(2)})"
    expected = _nist_expected_bytes(path)
    size = path.stat().st_size
    if expected is not None and expected > size:
        return f"truncated audio (header: {expected} bytes, file holds {size})"
    return None
