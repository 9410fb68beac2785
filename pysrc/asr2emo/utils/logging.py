"""Logging set-up shared by every verb: terminal plus an optional log file (exp/**/log/*.log)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

LOG_FORMAT = "%(asctime)s %(levelname)s [%(filename)s:%(lineno)d] %(message)s"


def setup_logging(log_file: Optional[Union[str, Path]] = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, append to ``log_file`` (its directory is created)."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)
