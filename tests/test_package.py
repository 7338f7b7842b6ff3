"""The installed package: public API, no heavy optional imports, configs shipped inside it."""
import subprocess
import sys


def test_core_import_pulls_in_neither_torch_nor_paddlenlp():
    code = (
        "import sys, paddle_roformer\n"
        "from paddle_roformer import RoFormerModel\n"
        "bad = [m for m in ('torch', 'paddlenlp', 'transformers') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_configs_are_package_data():
    from importlib import resources

    names = sorted(p.name for p in resources.files("paddle_roformer.configs").iterdir() if p.name.endswith(".yaml"))
    assert len(names) == 10


def test_public_api():
    import paddle_roformer as pr

    for name in pr.__all__:
        assert hasattr(pr, name), name
