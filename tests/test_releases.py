"""``releases``: finding snapshots and the Copier 9 rules of the 0.1.0 renderer, on small templates.

The byte-for-byte comparison with the real 0.1.0 is tests/test_release_0_1_0.py (marked
``release``); these are the fast checks of each rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chatkit_scaffold import releases
from chatkit_scaffold.errors import RefusedError, ScaffoldError
from chatkit_scaffold.releases import Specialist, find_release, render_release_0_1_0
from tests.conftest import REPO_ROOT

ANSWERS: dict[str, object] = {
    "project_name": "my-app",
    "package_name": "my_app",
    "database": "sqlite",
    "file_store": "local",
    "provider": "openai",
    "auth": "none",
    "docker": True,
}


def write(root: Path, files: dict[str, str]) -> None:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A miniature release in the 0.1.0 layout."""
    write(
        tmp_path / "project",
        {
            "copier.yml": "_templates_suffix: .jinja\n",
            "README.md.jinja": "# {{ project_name }}\n\nversion {{ tool_version }}\n",
            "plain.txt": "{{ not rendered }}\n",
            "both.txt": "the plain one loses\n",
            "both.txt.jinja": "the template wins: {{ package_name }}\n",
            "src/{{package_name}}/__init__.py": '"""{{ kept as is }}"""\n',
            "src/{{package_name}}/stores/{% if 'postgres' in stores %}pg.py{% endif %}.jinja": (
                "postgres\n"
            ),
            "{% if docker %}docker{% endif %}/Dockerfile": "FROM python\n",
            "{% if file_store == 's3' %}s3{% endif %}/conf.txt": "s3\n",
            "no_newline.txt.jinja": "{{ database }}",
            "~backup.txt": "excluded\n",
            "src/{{package_name}}/__pycache__/x.cpython-311.pyc": "excluded\n",
            "stale.pyc": "excluded\n",
            "run.sh": "#!/bin/sh\n",
        },
    )
    (tmp_path / "project" / "run.sh").chmod(0o755)
    write(
        tmp_path / "components" / "agent",
        {
            "copier.yml": "_templates_suffix: .jinja\n",
            "src/{{package_name}}/agents/{{agent_name}}.py.jinja": (
                'NAME = "{{ agent_name }}"\nTEXT = """{{ agent_instructions | wordwrap(20) }}"""\n'
            ),
        },
    )
    return tmp_path


def test_copier_9_rules(snapshot: Path) -> None:
    files = render_release_0_1_0(snapshot, ANSWERS, [], ["sqlite"])
    assert sorted(files) == [
        "README.md",
        "both.txt",
        "docker/Dockerfile",
        "no_newline.txt",
        "plain.txt",
        "run.sh",
        "src/my_app/__init__.py",
    ]
    assert files["README.md"].content == b"# my-app\n\nversion 0.1.0\n"
    assert files["plain.txt"].content == b"{{ not rendered }}\n"
    assert files["both.txt"].content == b"the template wins: my_app\n"
    assert files["no_newline.txt"].content == b"sqlite"
    assert files["run.sh"].executable
    assert not files["README.md"].executable


def test_a_segment_rendering_empty_drops_the_file_and_others_render(snapshot: Path) -> None:
    answers = {**ANSWERS, "docker": False, "file_store": "s3"}
    files = render_release_0_1_0(snapshot, answers, [], ["sqlite", "postgres"])
    assert "docker/Dockerfile" not in files
    assert files["s3/conf.txt"].content == b"s3\n"
    assert files["src/my_app/stores/pg.py"].content == b"postgres\n"


def test_copier_yml_defaults_fill_missing_answers(snapshot: Path) -> None:
    answers = {"project_name": "Support-Desk Bot", "docker": True}
    files = render_release_0_1_0(snapshot, answers, [], [])
    assert "src/support_desk_bot/__init__.py" in files
    assert files["no_newline.txt"].content == b"sqlite"


def test_one_agent_component_per_specialist(snapshot: Path) -> None:
    agents = [
        Specialist(name="billing", instructions="Answer billing questions, briefly please."),
        Specialist(name="tax", instructions='Say """hi"""'),
    ]
    files = render_release_0_1_0(snapshot, ANSWERS, agents, ["sqlite"])
    assert files["src/my_app/agents/billing.py"].content == (
        b'NAME = "billing"\nTEXT = """Answer billing\nquestions, briefly\nplease."""\n'
    )
    assert files["src/my_app/agents/tax.py"].content == b'NAME = "tax"\nTEXT = """Say """hi""""""\n'


def test_an_agent_component_that_collides_with_the_project_is_a_bug(snapshot: Path) -> None:
    write(snapshot / "project", {"src/{{package_name}}/agents/billing.py": "other\n"})
    with pytest.raises(ScaffoldError, match=re.escape("renders src/my_app/agents/billing.py")):
        render_release_0_1_0(
            snapshot, ANSWERS, [Specialist(name="billing", instructions="x")], ["sqlite"]
        )


def test_templates_run_in_copiers_sandbox(snapshot: Path) -> None:
    from jinja2.exceptions import SecurityError

    write(
        snapshot / "project", {"evil.txt.jinja": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    )
    with pytest.raises(SecurityError):
        render_release_0_1_0(snapshot, ANSWERS, [], ["sqlite"])


def test_the_renderer_matches_the_0_1_0_copier_yml() -> None:
    """The settings the renderer hard-codes are the ones the 0.1.0 templates declare."""
    root = find_release("0.1.0").path
    project = yaml.safe_load((root / "project" / "copier.yml").read_text())
    agent = yaml.safe_load((root / "components" / "agent" / "copier.yml").read_text())
    for config in (project, agent):
        assert config["_templates_suffix"] == releases._SUFFIX
        assert config["_envops"] == {"keep_trailing_newline": True}
        assert tuple(config["_exclude"]) == releases._EXCLUDE
        assert all("/" not in pattern for pattern in config["_exclude"])
        assert not {"_jinja_extensions", "_subdirectory", "_tasks", "_answers_file"} & set(config)
    defaults = dict(releases._PROJECT_DEFAULTS)
    for key, question in project.items():
        if key.startswith("_") or key in ("project_name", "stores", "tool_version"):
            continue
        assert defaults[key] == question["default"], key
    assert project["stores"]["default"] == "{{ [database] }}"
    assert project["tool_version"]["default"] == "0.0.0"
    assert set(agent) - {"_templates_suffix", "_envops", "_exclude"} == {
        "project_name",
        "package_name",
        "agent_name",
        "agent_instructions",
    }


def test_every_snapshot_has_a_release_file_and_a_renderer() -> None:
    folders = sorted(path for path in (REPO_ROOT / "releases").iterdir() if path.is_dir())
    assert "0.1.0" in [folder.name for folder in folders]
    for folder in folders:
        release = find_release(folder.name)
        assert release.version == folder.name
        assert release.engine in releases.RENDERERS
        assert len(release.commit) == 40


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(RefusedError, match=re.escape("not know the templates of version 9.9.9")):
        find_release("9.9.9")
