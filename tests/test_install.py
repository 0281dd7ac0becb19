"""A wheel install works from any directory: configs and shipped checkpoints come with it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with rlmusic installed from a freshly built wheel (dependencies
    from this interpreter's site-packages, the package itself only from the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # build from a copy: the checkout is left as it is
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "dist", "runs", "*.egg-info",
                                                                "__pycache__", ".pytest_cache", "wandb"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist")], check=True, capture_output=True)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    wheel = next((tmp / "dist").glob("rlmusic-*.whl"))
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   capture_output=True)
    return venv


def run(venv: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "rlmusic"), *argv], cwd=cwd, capture_output=True, text=True)


def test_the_installed_package_finds_its_configs_and_checkpoints_from_an_empty_directory(installed, tmp_path):
    empty = tmp_path / "anywhere"
    empty.mkdir()
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import rlmusic; print(rlmusic.__file__)"],
                           cwd=empty, capture_output=True, text=True, check=True).stdout
    assert str(installed) in where  # the wheel's copy, not the checkout
    # a config by name: loaded (then refused for the bad override), not "not found"
    bad = run(installed, empty, "pretrain", "--config", "small", "pretrain.lr=-1")
    assert bad.returncode == 2 and "pretrain.lr must be positive" in bad.stderr
    # the shipped policy, with no checkpoint given
    gen = run(installed, empty, "generate", "--num", "2", "--max-new-tokens", "24", "--out", "samples")
    assert gen.returncode == 0, gen.stderr
    assert "_shipped/checkpoints/pretrain-tiny" in gen.stdout and len(list((empty / "samples").glob("*.mid"))) == 2
    # the other shipped priors travel too, and generate
    shipped = Path(where.strip()).parent / "_shipped" / "checkpoints"
    for prior in ("pretrain-tiny-lessfolk", "pretrain-tiny-jazz"):
        more = run(installed, empty, "generate", str(shipped / prior), "--num", "1", "--max-new-tokens", "24", "--out", prior)
        assert more.returncode == 0, more.stderr
        assert len(list((empty / prior).glob("*.mid"))) == 1
    # the shipped judge scores the samples, and so does the second shipped discriminator
    met = run(installed, empty, "metrics", "--no-reference", "--no-copies", "--num-samples", "2",
              "--max-new-tokens", "24", "--discriminator", str(shipped / "jazz-clf-gan"), "--json", "m.json")
    assert met.returncode == 0, met.stderr
    assert "judge/p_jazz" in met.stdout and "jazz_probability" in met.stdout
