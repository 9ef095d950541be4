"""docker/: what can be checked without a Docker engine.

The compose file parses and names build contexts and Dockerfiles that exist; every file an image
copies exists and is not left out of the build context by its ignore file; the image versions
equal the pins in pyproject.toml and jvm/pom.xml; every published port binds 127.0.0.1; no secret
is written in the compose file or the example env file, only ${VARIABLE} references.
"""
from __future__ import annotations

import copy
import fnmatch
import importlib.util
import re
import shlex
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
ONLY_VARIABLE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?\?[^}]*)?\}$")   # ${NAME} or ${NAME:?message}: no default
URL_HOST = re.compile(r"https?://([^/\s:'\"]+)")


# ---- parsing ---------------------------------------------------------------------------------

def python_pins() -> dict[str, str]:
    """``name -> version`` of every ``name[extras]==version`` in pyproject.toml's dependencies."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for spec in project["dependencies"]:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^\s;]+)\s*", spec)
        if match:
            pins[match.group(1).lower()] = match.group(3)
    pins["python"] = project["requires-python"]
    return pins


def pom_properties(pom: Path = REPO / "jvm" / "pom.xml") -> dict[str, str]:
    root = ET.parse(pom).getroot()
    namespace = root.tag.partition("}")[0] + "}"
    return {child.tag.removeprefix(namespace): (child.text or "").strip()
            for child in root.find(f"{namespace}properties")}


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str] = field(default_factory=dict)         # ARG defaults, all stages
    images: list[str] = field(default_factory=list)            # FROM images, ARGs substituted
    copies: list[list[str]] = field(default_factory=list)      # sources of COPY/ADD from the context

    @classmethod
    def parse(cls, path: Path) -> "Dockerfile":
        parsed = cls(path)
        for instruction, rest in _instructions(path.read_text()):
            if instruction == "ARG":
                name, _, default = rest.partition("=")
                if default:
                    parsed.args[name.strip()] = default.strip().strip('"')
            elif instruction == "FROM":
                image = [w for w in rest.split() if not w.startswith("--")][0]
                parsed.images.append(re.sub(r"\$\{(\w+)\}|\$(\w+)",
                                            lambda m: parsed.args[m.group(1) or m.group(2)], image))
            elif instruction in ("COPY", "ADD"):
                words = yaml.safe_load(rest) if rest.startswith("[") else shlex.split(rest)
                flags = [w for w in words if w.startswith("--")]
                if any(f.startswith("--from=") for f in flags):
                    continue  # from another stage or image, not from the build context
                parsed.copies.append([w for w in words if not w.startswith("--")][:-1])
        return parsed


def _instructions(text: str):
    """(INSTRUCTION, arguments) per instruction: comments dropped, continuation lines joined."""
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        logical += " " + stripped
        if logical.endswith("\\"):
            logical = logical[:-1]
            continue
        instruction, _, rest = logical.strip().partition(" ")
        yield instruction.upper(), rest.strip()
        logical = ""


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def built_images() -> dict[str, tuple[Path, Path]]:
    """service -> (build context, Dockerfile) of every service compose builds."""
    out = {}
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = (DOCKER / build["context"]).resolve()
        out[name] = (context, context / build.get("dockerfile", "Dockerfile"))
    return out


def dockerfiles() -> dict[str, Dockerfile]:
    """Parsed Dockerfiles by folder name under docker/ (flink, spark, mlflow)."""
    return {p.parent.name: Dockerfile.parse(p) for p in sorted(DOCKER.glob("*/Dockerfile"))}


def ignored(relative: str, rules: list[str]) -> bool:
    """Whether a .dockerignore (last matching rule wins; a rule covers what lies below it) leaves out a path."""
    verdict = False
    parts = relative.strip("/").split("/")
    for rule in rules:
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        for depth in range(1, len(parts) + 1):
            if fnmatch.fnmatchcase("/".join(parts[:depth]), pattern):
                verdict = not negate
                break
    return verdict


def version_mismatches(pins: dict[str, str], pom: dict[str, str], files: dict[str, Dockerfile],
                       compose_file: dict) -> list[str]:
    """Every disagreement between the images' versions and the project's pins (empty: all agree)."""
    problems = []

    def expect(what: str, found, wanted) -> None:
        if found != wanted:
            problems.append(f"{what}: {found!r}, but the pin says {wanted!r}")

    flink, spark, mlflow = files["flink"], files["spark"], files["mlflow"]
    minor = re.search(r">=\s*(3\.\d+)", pins["python"]).group(1)
    for name, dockerfile in files.items():
        expect(f"docker/{name}/Dockerfile ARG PYTHON_VERSION", dockerfile.args.get("PYTHON_VERSION"), minor)
        for image in dockerfile.images:
            if image.startswith("python:"):
                expect(f"docker/{name}/Dockerfile image {image}", image.split(":")[1].split("-")[0], minor)

    expect("docker/flink/Dockerfile ARG FLINK_VERSION", flink.args.get("FLINK_VERSION"), pins["apache-flink"])
    flink_images = [i for i in flink.images if i.startswith("flink:")]
    expect("docker/flink/Dockerfile Flink image", [i.split(":")[1].split("-")[0] for i in flink_images],
           [pins["apache-flink"]])
    flink_line = ".".join(pins["apache-flink"].split(".")[:2])
    expect("jvm/pom.xml flink.kafka.connector.version (Flink line)",
           pom["flink.kafka.connector.version"].rsplit("-", 1)[-1], flink_line)

    expect("docker/spark/Dockerfile ARG SPARK_VERSION", spark.args.get("SPARK_VERSION"), pins["pyspark"])
    spark_images = [i for i in spark.images if i.startswith("apache/spark:")]
    expect("docker/spark/Dockerfile apache/spark image", [i.split(":")[1].split("-")[0] for i in spark_images],
           [pins["pyspark"]])
    if spark_images:
        expect("apache/spark image Scala line", re.search(r"scala(2\.\d+)", spark_images[0]).group(1), "2.13")
    expect("jvm/pom.xml spark.binary.version", pom["spark.binary.version"], ".".join(pins["pyspark"].split(".")[:2]))
    expect("jvm/pom.xml delta.version", pom["delta.version"], pins["delta-spark"])

    expect("docker/mlflow/Dockerfile ARG MLFLOW_VERSION", mlflow.args.get("MLFLOW_VERSION"), pins["mlflow"])

    kafka_image = compose_file["services"]["kafka"]["image"]
    expect("compose kafka image", kafka_image, f"apache/kafka:{pom['kafka.version']}")
    return problems


# ---- the compose file --------------------------------------------------------------------------

def test_the_compose_file_parses_and_has_every_service_of_the_cluster():
    services = compose()["services"]
    assert {"kafka", "jobmanager", "taskmanager", "spark-master", "spark-worker", "spark-thrift",
            "postgres", "mlflow"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, no ZooKeeper"
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_build_context_and_dockerfile_exists():
    built = built_images()
    assert set(built) >= {"jobmanager", "spark-master", "mlflow"}
    for name, (context, dockerfile) in built.items():
        assert context.is_dir(), f"{name}: build context {context} is missing"
        assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"


def test_services_without_a_build_use_an_image_that_compose_builds_or_pulls_by_name():
    services = compose()["services"]
    built = {s["image"] for s in services.values() if "build" in s and "image" in s}
    for name, service in services.items():
        image = service.get("image", "")
        if "build" not in service and image.startswith("sensorlake-"):
            assert image in built, f"{name} uses {image}, which no service builds"


def test_every_bind_mounted_file_exists():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), f"{name} mounts {source}, which does not exist"


# ---- the Dockerfiles ---------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["jobmanager", "spark-master", "mlflow"])
def test_every_file_an_image_copies_exists_in_its_build_context(service):
    context, dockerfile = built_images()[service]
    parsed = Dockerfile.parse(dockerfile)
    assert parsed.copies, f"{dockerfile} copies nothing from its context"
    ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
    if not ignore_file.exists():
        ignore_file = context / ".dockerignore"
    rules = [line.strip() for line in ignore_file.read_text().splitlines()
             if line.strip() and not line.startswith("#")] if ignore_file.exists() else []
    for sources in parsed.copies:
        for source in sources:
            assert not any(ch in source for ch in "*?$"), f"{dockerfile}: spell out {source!r}"
            assert (context / source).exists(), f"{dockerfile} copies {source}, missing from {context}"
            assert not ignored(source, rules), f"{dockerfile} copies {source}, but {ignore_file.name} leaves it out"


def test_the_build_context_of_the_repo_root_images_leaves_out_the_venv_the_lake_and_env_files():
    for name in ("flink", "spark"):
        rules = [line.strip() for line in (DOCKER / name / "Dockerfile.dockerignore").read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        for path in (".venv", "lake", ".sensorlake", "jars", ".git", "docker/.env", "sensorlake/.env"):
            assert ignored(path, rules), f"docker/{name} sends {path} to the builder"


def test_image_versions_equal_the_pins_in_pyproject_and_the_pom():
    assert version_mismatches(python_pins(), pom_properties(), dockerfiles(), compose()) == []


def test_the_flink_functions_build_against_the_pinned_flink():
    assert pom_properties(REPO / "jvm" / "functions" / "pom.xml")["flink.version"] == python_pins()["apache-flink"]


@pytest.mark.parametrize("pin, value", [("apache-flink", "2.3.0"), ("pyspark", "4.2.0"), ("mlflow", "3.18.0")])
def test_a_pin_that_moves_without_its_image_is_reported(pin, value):
    pins = {**python_pins(), pin: value}
    problems = version_mismatches(pins, pom_properties(), dockerfiles(), compose())
    assert problems and any(value in p for p in problems)


def test_a_kafka_image_that_differs_from_the_pom_is_reported():
    changed = copy.deepcopy(compose())
    changed["services"]["kafka"]["image"] = "apache/kafka:4.0.0"
    assert version_mismatches(python_pins(), pom_properties(), dockerfiles(), changed)


def test_the_dockerfile_parser_reads_args_images_and_copies(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("ARG V=1.2\nFROM base:${V}-x AS one\n# COPY not/this\nCOPY --chown=a:b a.txt \\\n  b/ /dest/\n"
                    "COPY --from=one /x /y\nADD [\"c d.txt\", \"/e\"]\n")
    parsed = Dockerfile.parse(path)
    assert parsed.args == {"V": "1.2"} and parsed.images == ["base:1.2-x"]
    assert parsed.copies == [["a.txt", "b/"], ["c d.txt"]]


# ---- network and secrets -------------------------------------------------------------------------

def _published(service: dict) -> list:
    return service.get("ports", [])


def test_every_published_port_binds_127_0_0_1():
    for name, service in compose()["services"].items():
        assert service.get("network_mode") != "host", f"{name} uses the host network"
        for port in _published(service):
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond this machine"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def _strings(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif node is not None:
        yield path, str(node)


def test_no_secret_is_written_in_the_compose_file():
    for path, value in _strings(compose()):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key):
            assert ONLY_VARIABLE.match(value), f"{path} must come from ${{VARIABLE}} without a default, not {value!r}"
        credentials = re.search(r"://[^/\s:@]+:([^@\s]+)@", value)
        assert not credentials or credentials.group(1).startswith("${"), f"{path} carries a password in a URI"


def test_the_example_env_file_names_every_variable_compose_needs_and_leaves_secrets_empty():
    example = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used <= set(example), f"missing from docker/.env.example: {sorted(used - set(example))}"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "", f"docker/.env.example sets {key}: leave secrets empty"


def test_no_file_under_docker_names_an_outside_host_or_package_index():
    """Packages come by name through the clients' own configuration; URLs name compose services only."""
    for path in DOCKER.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            outside = [h for h in URL_HOST.findall(text) if "." in h and h != "127.0.0.1"]
            assert not outside, f"{path} names outside hosts {outside}"
            assert "index-url" not in text and "--repository" not in text, f"{path} names a package index"


# ---- the MLflow entry point ----------------------------------------------------------------------

def _serve_module(monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no __pycache__ left under docker/
    spec = importlib.util.spec_from_file_location("mlflow_serve", DOCKER / "mlflow" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mlflow_entry_point_quotes_the_postgres_password_into_the_uri(monkeypatch):
    monkeypatch.setenv("POSTGRES_USER", "mlflow")
    monkeypatch.setenv("POSTGRES_PASSWORD", "p@ss:w/rd")
    assert _serve_module(monkeypatch).postgres_uri("mlflow") == "postgresql://mlflow:p%40ss%3Aw%2Frd@postgres:5432/mlflow"


def test_the_mlflow_entry_point_refuses_to_start_without_its_secrets(monkeypatch):
    for name in ("POSTGRES_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit, match="MLFLOW_AUTH_ADMIN_PASSWORD"):
        _serve_module(monkeypatch).main()
