"""Which lhotse array writer stores features and i-vectors.

``LilcomChunkyWriter`` (lossy, about 4x smaller, one archive per job) is what the recipe wants;
when the optional ``lilcom`` package is missing lhotse cannot use it, so we fall back to
``NumpyFilesWriter`` (exact, one ``.npy`` per array) and say so in the log.
"""

from __future__ import annotations

import logging
from typing import Type

from lhotse.features.io import FeaturesWriter, LilcomChunkyWriter, NumpyFilesWriter


def have_lilcom() -> bool:
    try:
        import lilcom  # noqa: F401
    except ImportError:
        return False
    return True


def feature_writer_type() -> Type[FeaturesWriter]:
    """``LilcomChunkyWriter`` when lilcom is installed, else ``NumpyFilesWriter``."""
    if have_lilcom():
        return LilcomChunkyWriter
    logging.warning("lilcom is not installed: storing arrays with NumpyFilesWriter (uncompressed)")
    return NumpyFilesWriter
