"""The ``asr2emo`` command: one verb per module in :mod:`asr2emo.bin`.

A verb ``compute-mfcc`` lives in ``asr2emo/bin/compute_mfcc.py``, which defines
``get_parser()`` (an :class:`asr2emo.utils.config.ConfArgumentParser`) and ``main(args)``.
Verbs are discovered, so adding one needs no registration. A
:class:`asr2emo.utils.errors.UserError` becomes one error line and exit status 1, not a
traceback.
"""

from __future__ import annotations

import ast
import errno
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import List, Optional

import asr2emo.bin
from asr2emo.utils.errors import UserError

# A read-only or full output location is the user's to fix: one line, not a traceback.
WRITE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def list_verbs() -> List[str]:
    """All verbs, as typed on the command line (dashes)."""
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules(asr2emo.bin.__path__)
        if not m.name.startswith("_")
    )


def _summary(verb: str) -> str:
    """First docstring line of the verb's module, read without importing it (imports are heavy)."""
    path = Path(asr2emo.bin.__path__[0]) / f"{verb.replace('-', '_')}.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def usage() -> str:
    lines = ["usage: asr2emo <verb> [options] [args]", "", "verbs:"]
    for verb in list_verbs():
        lines.append(f"  {verb:<24} {_summary(verb)}")
    lines.append("")
    lines.append("asr2emo <verb> --help shows a verb's options.")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in list_verbs():
        print(
            f"asr2emo: unknown verb '{verb}'; valid verbs: {', '.join(list_verbs())}",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f"asr2emo.bin.{verb.replace('-', '_')}")
    parser = module.get_parser()
    parser.prog = f"asr2emo {verb}"
    args = parser.parse_args(rest)
    try:
        ret = module.main(args)
    except UserError as e:
        print(f"asr2emo {verb}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in WRITE_ERRORS:
            raise
        where = f" '{e.filename}'" if e.filename else ""
        print(f"asr2emo {verb}: error: cannot write{where}: {e.strerror}", file=sys.stderr)
        return 1
    return int(ret or 0)


if __name__ == "__main__":
    raise SystemExit(main())
