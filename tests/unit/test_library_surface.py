"""The library is a library: it imports no service and no tool, and says what it offers."""

import ast
import importlib
from pathlib import Path

import zhixing

LIBS = Path(zhixing.__file__).parent


def test_the_library_imports_no_service_and_no_tool() -> None:
    offenders = []
    for path in LIBS.rglob("*.py"):
        if "v1" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in
                          ("services", "tools", "tests", "bench")]  # fmt: skip
    assert offenders == []


def test_every_module_of_the_library_is_in_its_public_surface() -> None:
    modules = {p.stem for p in LIBS.glob("*.py") if p.stem != "__init__"} | {"rules"}
    assert set(zhixing.__all__) == modules
    for name in zhixing.__all__:
        importlib.import_module(f"zhixing.{name}")


def test_every_module_says_what_it_offers_and_offers_what_it_says() -> None:
    for name in zhixing.__all__:
        module = importlib.import_module(f"zhixing.{name}")
        offered = getattr(module, "__all__", None)
        assert offered, f"zhixing.{name} has no __all__"
        missing = [n for n in offered if not hasattr(module, n)]
        assert missing == [], f"zhixing.{name}.__all__ names what it lacks: {missing}"
