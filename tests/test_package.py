"""The installed package: public API, lazy imports, no import cycle, configs shipped inside it."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "paddle_roformer"


def _imported_modules(code: str):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_import_pulls_in_neither_torch_nor_paddlenlp():
    modules = _imported_modules("import paddle_roformer\nfrom paddle_roformer import RoFormerModel")
    assert not {"torch", "paddlenlp", "transformers"} & modules


@pytest.mark.parametrize("statement", [
    "import paddle_roformer",
    "import paddle_roformer.tokenizer",
    "from paddle_roformer import RoFormerTokenizer, RoFormerConfig, list_pretrained, build_vocab",
    "import paddle_roformer.hub, paddle_roformer.registry, paddle_roformer.config",
])
def test_modules_that_do_not_need_paddle_do_not_import_it(statement):
    assert "paddle" not in _imported_modules(statement)


def _internal_imports(path: Path):
    """Modules of the package that ``path`` imports, at any level (function bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif (node.module or "").startswith("paddle_roformer."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("paddle_roformer."):
                    found.add(alias.name.split(".")[1])
    return found


def test_no_import_cycle():
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {m: _internal_imports(PACKAGE / f"{m}.py") & modules - {m} for m in modules}
    graph.pop("cli", None)  # the command table imports subcommand modules by name, one way only
    state = {}

    def visit(module, stack):
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack + [module, dep]))
            if dep not in state:
                visit(dep, stack + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_configs_are_package_data():
    from importlib import resources

    from paddle_roformer.registry import list_pretrained

    names = sorted(p.name[:-5] for p in resources.files("paddle_roformer.configs").iterdir() if p.name.endswith(".yaml"))
    assert names == list_pretrained() and names


def test_public_api():
    import paddle_roformer as pr

    for name in pr.__all__:
        assert getattr(pr, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pr.Nope


def test_without_paddle_the_error_names_the_extra_to_install():
    code = (
        "import sys\n"
        "sys.modules['paddle'] = None  # as if PaddlePaddle were not installed\n"
        "import paddle_roformer\n"
        "from paddle_roformer import RoFormerTokenizer, RoFormerConfig  # these need no Paddle\n"
        "try:\n"
        "    from paddle_roformer import RoFormerModel\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "needs PaddlePaddle" in out.stdout and "paddle_roformer[cpu]" in out.stdout


def test_sdist_manifest_carries_what_tests_and_examples_need():
    root = PACKAGE.parent
    manifest = (root / "MANIFEST.in").read_text()
    for line in ("include LICENSE", "recursive-include configs *.yaml", "recursive-include tests *.py",
                 "recursive-include examples", "recursive-include docs *.md"):
        assert line in manifest
    assert "Apache License" in (root / "LICENSE").read_text()
