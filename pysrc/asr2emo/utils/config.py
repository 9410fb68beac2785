"""Kaldi-style config files (``--key=value`` per line, ``#`` comments) for every Python tool.

The same ``conf/*.conf`` file is read by ``utils/parse_options.sh --config`` in shell and by
:class:`ConfArgumentParser` here. Values from ``--config FILE`` come first, so options given on
the command line override them (Kaldi semantics). A key the tool does not know is an error that
names the file, the line and the valid keys.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import List, NoReturn, Optional, Sequence, Tuple

from asr2emo.utils.errors import UserError

_LINE = re.compile(r"^--([A-Za-z][A-Za-z0-9_-]*)=(.*)$")


def read_conf(path: str | Path) -> List[Tuple[str, str, int]]:
    """Parse a conf file into ``(key, value, line_number)``; keys keep their dashes."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file '{path}' does not exist")
    entries = []
    for n, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE.match(line)
        if m is None:
            raise UserError(f"{path}:{n}: expected a line '--key=value', got '{line}'")
        entries.append((m.group(1), m.group(2).strip(), n))
    return entries


def str2bool(value: str) -> bool:
    """Kaldi booleans: true/false (also 1/0, yes/no)."""
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")


def _number(value: str, kind, what: str, ok) -> float:
    try:
        x = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got '{value}'")
    if not ok(x):
        raise argparse.ArgumentTypeError(f"expected {what}, got '{value}'")
    return x


def positive_int(value: str) -> int:
    """An integer >= 1 (counts, dimensions, batch sizes)."""
    return int(_number(value, int, "an integer >= 1", lambda x: x >= 1))


def nonneg_int(value: str) -> int:
    """An integer >= 0 (patience, 'N or 0 for all')."""
    return int(_number(value, int, "an integer >= 0", lambda x: x >= 0))


def positive_float(value: str) -> float:
    """A number > 0 (learning rates, durations)."""
    return _number(value, float, "a number > 0", lambda x: x > 0)


def fraction(value: str) -> float:
    """A number in [0, 1) (dropout, drop fractions)."""
    return _number(value, float, "a number in [0, 1)", lambda x: 0 <= x < 1)


def int_list(value: str) -> List[int]:
    """Comma-separated integers, e.g. ``1,1,1,0,3``."""
    try:
        return [int(v) for v in value.split(",") if v.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{value}'")


def float_list(value: str) -> List[float]:
    """Comma-separated floats, e.g. ``0.9,1.0,1.1``."""
    try:
        return [float(v) for v in value.split(",") if v.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{value}'")


def str_list(value: str) -> List[str]:
    """Comma-separated names, e.g. ``tdnnf12,prefinal``."""
    return [v.strip() for v in value.split(",") if v.strip()]


class ConfArgumentParser(argparse.ArgumentParser):
    """argparse with ``--config FILE`` (repeatable) and one-line errors.

    Errors print ``prog: error: message`` as a single line (no usage dump) and exit 2.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--config",
            action="append",
            default=[],
            metavar="FILE",
            help="Kaldi-style config file(s) of --key=value lines; command-line options win",
        )

    def valid_keys(self) -> List[str]:
        keys = set()
        for action in self._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt not in ("--help", "--config"):
                    keys.add(opt)
        return sorted(keys)

    def expand_configs(self, argv: Sequence[str]) -> List[str]:
        """Move ``--config FILE`` contents in front of the command line, checking every key."""
        argv = list(argv)
        configs: List[str] = []
        rest: List[str] = []
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "--config":
                if i + 1 >= len(argv):
                    self.error("--config needs a file")
                configs.append(argv[i + 1])
                i += 2
                continue
            if a.startswith("--config="):
                configs.append(a.split("=", 1)[1])
                i += 1
                continue
            rest.append(a)
            i += 1
        valid = self.valid_keys()
        expanded: List[str] = []
        for conf in configs:
            try:
                entries = read_conf(conf)
            except UserError as e:
                self.error(str(e))
            for key, value, n in entries:
                opt = "--" + key
                if opt not in valid:
                    self.error(f"{conf}:{n}: unknown key {opt}; valid keys: {' '.join(valid)}")
                expanded.append(f"{opt}={value}")
        return expanded + rest

    def parse_args(  # type: ignore[override]
        self, args: Optional[Sequence[str]] = None, namespace=None
    ):
        argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self.expand_configs(argv), namespace)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self.expand_configs(argv), namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


_FIELD_TYPES = {"int": int, "float": float, "str": str, "bool": str2bool, "List[int]": int_list}


def add_dataclass_args(parser: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    """One ``--<prefix><field>`` option per field of the dataclass ``cls``, its default the
    dataclass default, so the defaults are written once, in the dataclass. A field's
    ``metadata`` may give the option's ``type`` (a checking parser such as
    :func:`positive_int`), ``choices`` and ``help``."""
    import dataclasses

    d = cls()
    for f in dataclasses.fields(cls):
        kind = f.metadata.get("type") or _FIELD_TYPES.get(str(f.type))
        if kind is None:
            raise TypeError(f"{cls.__name__}.{f.name}: no option type for {f.type}")
        extra = {k: f.metadata[k] for k in ("choices", "help") if k in f.metadata}
        parser.add_argument(
            f"--{prefix}{f.name.replace('_', '-')}", type=kind, default=getattr(d, f.name), **extra
        )


def dataclass_from_args(cls, args: argparse.Namespace, prefix: str = ""):
    """The dataclass ``cls`` from the options :func:`add_dataclass_args` added."""
    import dataclasses

    p = prefix.replace("-", "_")
    return cls(**{f.name: getattr(args, p + f.name) for f in dataclasses.fields(cls)})
