"""The layout is the architecture: rlmusic's subpackages import one way, down the stages."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "rlmusic"
# bottom to top, as docs/design.md ("Layout") lists them; a module may import only those before it
ORDER = ["errors", "resources", "tracking", "config", "data", "music", "reward_contract", "plugins", "models",
         "train", "evaluate", "demo", "cli"]
SAME_LEVEL = {("train", "evaluate"), ("evaluate", "train")}  # neither may import the other: checked below


def _unit(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else path.stem


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        out |= {n.split(".")[1] for n in names if n.startswith("rlmusic.")}
    return out


def test_every_module_belongs_to_a_layer():
    units = {_unit(p) for p in ROOT.rglob("*.py") if p.name != "__init__.py" and "_shipped" not in p.parts}
    assert units <= set(ORDER), units - set(ORDER)


def test_imports_run_one_way():
    upward = []
    for path in ROOT.rglob("*.py"):
        if "_shipped" in path.parts:
            continue
        src = _unit(path) if path.name != "__init__.py" or path.parent != ROOT else "__init__"
        if src not in ORDER:
            continue
        for dst in _imports(path) - {src}:
            if ORDER.index(dst) > ORDER.index(src) or (src, dst) in SAME_LEVEL:
                upward.append(f"{path.relative_to(ROOT.parent)} imports rlmusic.{dst}")
    assert not upward, upward
