"""The recipe's data directory: hires MFCC live in ``<data-dir>/mfcc/``; the old name is an error.

Stages 2 and 6 write their cuts, feature archives and CMVN to ``<data-dir>/mfcc/``. Older runs
wrote the same files to ``<data-dir>/fbank/`` (icefall's directory name, though the features are
MFCC). The manifests in such a directory name their ``fbank/`` paths, so ``mv`` would leave them
pointing nowhere; a symbolic link ``mfcc -> fbank`` keeps them readable, and since the done
markers fingerprint resolved paths (:func:`asr2emo.utils.markers.fingerprint`) every later
stage still counts as finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from asr2emo.utils.errors import UserError

FEATURES_DIR = "mfcc"
OLD_FEATURES_DIR = "fbank"


def data_dir_of(path: Union[str, Path]) -> Path:
    """The data directory ``path`` stands for: a file under ``<data-dir>/mfcc/`` means that
    ``<data-dir>``, the ``mfcc`` directory its parent, anything else itself."""
    path = Path(path)
    if path.name == FEATURES_DIR:
        return path.parent
    if path.parent.name == FEATURES_DIR:
        return path.parent.parent
    return path


def old_layout_error(path: Union[str, Path]) -> Optional[str]:
    """The one-line fix when the data directory of ``path`` (:func:`data_dir_of`) has the old
    ``fbank/`` and no ``mfcc/``; None when its layout is current or it holds neither."""
    data = data_dir_of(path)
    old, new = data / OLD_FEATURES_DIR, data / FEATURES_DIR
    if not old.is_dir() or new.exists() or new.is_symlink():
        return None
    return (
        f"'{old}' holds features under their old directory name, now '{new}': run "
        f"'ln -s {OLD_FEATURES_DIR} {new}' (its manifests name {OLD_FEATURES_DIR}/ paths, so do "
        "not mv it), or delete it and rerun from the MFCC stage (run.sh --stage 2, "
        "emotion_folder.sh --stage 1)"
    )


def check_data_dir(path: Union[str, Path]) -> None:
    """Raise :class:`UserError` with :func:`old_layout_error`'s line when there is one."""
    error = old_layout_error(path)
    if error is not None:
        raise UserError(error)
