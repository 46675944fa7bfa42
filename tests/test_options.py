"""ProjectOptions: NAME, flag values, agent names, and defaults."""

from __future__ import annotations

import pytest

from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.errors import UsageError
from chatkit_scaffold.options import ProjectOptions, package_name_for, suggest_project_name


def parse_error(**values: object) -> UsageError:
    with pytest.raises(UsageError) as caught:
        ProjectOptions.parse({"name": "my-app", **values})
    assert caught.value.exit_code == 2
    return caught.value


def test_defaults_match_the_product_contract() -> None:
    parsed = ProjectOptions.parse({"name": "my-app"})
    assert parsed.choices == {
        "database": "sqlite",
        "file_store": "local",
        "provider": "openai",
        "auth": "none",
        "docker": True,
        "deploy": "none",
    }
    assert parsed.agents == ()


def test_every_value_of_the_product_contract_is_accepted() -> None:
    for database in ("sqlite", "postgres"):
        for file_store in ("none", "local", "s3"):
            for provider in ("openai", "gemini", "litellm", "openai-compatible"):
                for auth in ("none", "jwt"):
                    for deploy in ("none", "kubernetes"):
                        values = {
                            "database": database,
                            "file_store": file_store,
                            "provider": provider,
                            "auth": auth,
                            "docker": False,
                            "deploy": deploy,
                        }
                        parsed = ProjectOptions.parse({"name": "my-app", **values})
                        assert parsed.answers() == {
                            "project_name": "my-app",
                            "package_name": "my_app",
                            **values,
                        }


def test_choices_are_matched_without_regard_to_case() -> None:
    parsed = ProjectOptions.parse({"name": "my-app", "file_store": "S3", "provider": "Gemini"})
    assert parsed.choices["file_store"] == "s3"
    assert parsed.choices["provider"] == "gemini"


def test_answers_and_components_hold_every_choice() -> None:
    parsed = ProjectOptions.parse({"name": "My-App", "provider": "gemini", "agents": ["billing"]})
    assert parsed.answers() == {
        "project_name": "My-App",
        "package_name": "my_app",
        "database": "sqlite",
        "file_store": "local",
        "provider": "gemini",
        "auth": "none",
        "docker": True,
        "deploy": "none",
    }
    labels = [component.label for component in parsed.components()]
    assert labels == [
        "database sqlite",
        "file_store local",
        "provider gemini",
        "auth none",
        "docker on",
        "deploy none",
        "agent billing",
    ]


def test_no_docker_means_no_docker_component() -> None:
    parsed = ProjectOptions.parse({"name": "my-app", "docker": False})
    assert "docker" not in {component.kind for component in parsed.components()}


@pytest.mark.parametrize(
    ("name", "package"),
    [("my-app", "my_app"), ("My-App", "my_app"), ("chat_bot2", "chat_bot2"), ("a b", "a_b")],
)
def test_package_name(name: str, package: str) -> None:
    assert package_name_for(name) == package


@pytest.mark.parametrize(
    ("field", "value", "flag", "allowed", "close"),
    [
        ("provider", "gemni", "--provider", "openai, gemini, litellm, openai-compatible", "gemini"),
        ("database", "postgresql", "--database", "sqlite, postgres", "postgres"),
        ("file_store", "locall", "--file-store", "none, local, s3", "local"),
        ("auth", "jwtt", "--auth", "none, jwt", "jwt"),
    ],
)
def test_bad_choice_names_flag_value_allowed_values_and_close_match(
    field: str, value: str, flag: str, allowed: str, close: str
) -> None:
    error = parse_error(**{field: value})
    assert f"Invalid value for {flag}: '{value}'." in error.message
    assert f"Allowed values: {allowed}." in error.message
    assert f"Did you mean '{close}'?" in error.message


def test_bad_choice_without_close_match_has_no_suggestion() -> None:
    error = parse_error(database="mongodb")
    assert "Invalid value for --database: 'mongodb'. Allowed values: sqlite, postgres." in (
        error.message
    )
    assert "Did you mean" not in error.message


def test_every_bad_value_is_reported_at_once() -> None:
    error = parse_error(database="mysql", auth="oauth")
    assert "--database: 'mysql'" in error.message
    assert "--auth: 'oauth'" in error.message


@pytest.mark.parametrize(
    ("name", "expected", "hint"),
    [
        ("my app", "not a valid Python distribution name", "Did you mean 'my-app'?"),
        ("-app", "not a valid Python distribution name", "Did you mean 'app'?"),
        ("app-", "not a valid Python distribution name", None),
        ("", "not a valid Python distribution name", None),
        ("my/app", "not a valid Python distribution name", "Did you mean 'my-app'?"),
        ("my.app", "its package name 'my.app' is not a Python identifier", None),
        ("1app", "its package name '1app' is not a Python identifier", None),
        ("class", "its package name 'class' is a Python keyword", "'class-app'"),
        ("test_app", "generated test module 'tests/test_app.py'", "'app'"),
        ("agents", "would shadow the 'agents' module", None),
        ("chatkit", "would shadow the 'chatkit' module", None),
        ("FastAPI", "would shadow the 'fastapi' module", None),
        ("openai", "would shadow the 'openai' module", None),
        ("pydantic", "would shadow the 'pydantic' module", None),
        ("tests", "would shadow the generated project's 'tests' folder", None),
        ("json", "would shadow the standard library's 'json' module", None),
        ("jinja2", "would shadow the 'jinja2' module or distribution", "'jinja2-app'"),
        ("httpx2", "would shadow the 'httpx2' module", None),
        ("typing-extensions", "would shadow the 'typing_extensions' module", None),
        ("pydantic-core", "would shadow the 'pydantic_core' module", None),
        ("griffe", "would shadow the 'griffe' module", None),
        ("conftest", "would shadow the generated test module 'tests/conftest.py'", None),
        ("chatkit-helpers", "generated test module 'tests/chatkit_helpers.py'", None),
        ("identity", "generated test module 'tests/identity.py'", None),
        ("store-fixtures", "generated test module 'tests/store_fixtures.py'", None),
        ("sqlite-database", "generated test module 'tests/sqlite_database.py'", None),
        ("postgres_database", "generated test module 'tests/postgres_database.py'", None),
        ("test-billing", "generated test module 'tests/test_billing.py'", None),
        ("a" * 65, "65 characters, longer than 64", "shorter name"),
    ],
)
def test_bad_name(name: str, expected: str, hint: str | None) -> None:
    with pytest.raises(UsageError) as caught:
        ProjectOptions.parse({"name": name})
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"Invalid NAME '{name}'")
    assert expected in caught.value.message
    if hint:
        assert caught.value.hint is not None
        assert hint in caught.value.hint


@pytest.mark.parametrize(
    ("agent", "expected", "hint"),
    [
        ("Billing", "not a lower-case Python identifier", "Did you mean 'billing'?"),
        ("customer-support", "not a lower-case Python identifier", "'customer_support'"),
        ("2fa", "not a lower-case Python identifier", None),
        ("_private", "not a lower-case Python identifier", "Did you mean 'private'?"),
        ("class", "it is a Python keyword", "'class_agent'"),
        ("assistant", "the name is reserved", "'assistant_specialist'"),
        ("tools", "the name is reserved", None),
        ("a" * 41, "longer than 40 characters", "transfer_to_NAME"),
    ],
)
def test_bad_agent_name(agent: str, expected: str, hint: str | None) -> None:
    error = parse_error(agents=[agent])
    assert f"Invalid agent name '{agent}'" in error.message
    assert expected in error.message
    if hint:
        assert error.hint is not None
        assert hint in error.hint


def test_duplicate_agents_are_refused() -> None:
    error = parse_error(agents=["billing", "support", "billing"])
    assert "Invalid --agent 'billing': given more than once." in error.message


def test_unknown_option_is_refused() -> None:
    error = parse_error(colour="blue")
    assert "colour" in error.message


def test_every_bad_value_and_agent_is_reported_at_once() -> None:
    error = parse_error(database="mysql", auth="oauth", agents=["Bad-One", "class", "ok"])
    for expected in ("--database: 'mysql'", "--auth: 'oauth'", "'Bad-One'", "'class'"):
        assert expected in error.message


def test_options_follow_the_catalog() -> None:
    catalog = load_catalog()
    assert [kind.name for kind in catalog.options()] == [
        "database",
        "file_store",
        "provider",
        "auth",
        "docker",
        "deploy",
    ]
    assert catalog.kind("database").choices == ["sqlite", "postgres"]
    assert catalog.kind("deploy").choices == ["none", "kubernetes"]
    assert catalog.kind("docker").default is True


@pytest.mark.parametrize(
    "name", ["test_app", "my app", "-app", "json", "agents", "1app", "class", "x" * 70, "a.b"]
)
def test_a_suggested_name_is_never_refused(name: str) -> None:
    suggestion = suggest_project_name(name)
    if suggestion is not None:
        assert ProjectOptions.parse({"name": suggestion}).name == suggestion
