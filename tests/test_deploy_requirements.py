"""requirements-deploy.txt: pinned, the same pins as requirements.txt, and holding what the
deploy modules import (their third-party imports, read from the source)."""

import ast
import sys

from conftest import REPO

# import name -> distribution name where they differ
DIST = {
    "onnxruntime": "onnxruntime",
    "soundfile": "soundfile",
    "kaldi_native_fbank": "kaldi_native_fbank",
}


def _pins(name):
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            dist, _, version = line.partition("==")
            assert version, f"{name}: '{line}' is not pinned"
            pins[dist.lower().replace("-", "_")] = version
    return pins


def _third_party_imports():
    found = set()
    for path in list((REPO / "pysrc/asr2emo/deploy").glob("*.py")) + [
        REPO / "pysrc/asr2emo/data/long_audio.py"
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in ("asr2emo", "__future__") and not _stdlib(m)}


def _stdlib(module):
    return module in sys.stdlib_module_names


def test_deploy_pins_are_those_of_the_environment():
    deploy, full = _pins("requirements-deploy.txt"), _pins("requirements.txt")
    for dist, version in deploy.items():
        assert full.get(dist) == version, f"{dist}=={version} vs requirements.txt {full.get(dist)}"
    assert "torch" not in deploy and "k2" not in deploy and "lhotse" not in deploy
    imports = _third_party_imports()
    assert imports == {"numpy", "onnxruntime", "soundfile", "kaldi_native_fbank"}, imports
    assert imports <= set(deploy)  # import names are the distributions' names here
