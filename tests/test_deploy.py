"""The deployment files, checked against the code they deploy, without Docker or network.

Dockerfile (its build followed in a fresh venv, its HEALTHCHECK run against a real server),
deploy/docker-compose.yml and deploy/monitor.yaml, deploy/kubernetes/, the systemd unit and the
Prometheus alerting rules: every MONITOR_* variable they set must be a real setting, and every
configuration they ship must pass `monitor check` as laid out where it runs.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from aiohttp import web

import monitor
from monitor.cli.common import EXIT_CONFIG
from monitor.config.settings import Settings, env_name, parse_duration, parse_host_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
KUBERNETES = DEPLOY / "kubernetes"
UNIT = DEPLOY / "systemd" / "feed-monitor.service"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

SETTING_NAMES = frozenset(env_name(field) for field in Settings.model_fields)
STATUS_PORT = 9464
# The status server's metrics (monitor/metrics.py) that the alerting rules may use.
METRICS = frozenset(
    {
        "monitor_polls_total",
        "monitor_feeds_unhealthy",
        "monitor_deliveries_total",
        "monitor_outbox_pending",
        "monitor_outbox_oldest_pending_seconds",
        "monitor_config_reload_failures_total",
        "monitor_alerts_total",
        "monitor_build_info",
    }
)
# The builder stage's steps, which the wheel test follows (with local paths).
WHEEL_STEP = "python -m pip wheel --no-deps --wheel-dir /wheels ."
VENV_STEP = "python -m venv --without-pip /opt/venv"
INSTALL_STEP = "python -m pip --python /opt/venv/bin/python install"


def check_settings(values: Mapping[str, str]) -> Settings:
    """`values` (MONITOR_* variables) as the daemon reads them; every name must be a setting."""
    unknown = sorted(name for name in values if name not in SETTING_NAMES)
    assert not unknown, f"not settings: {unknown}"
    fields: dict[str, Any] = {
        name.removeprefix("MONITOR_").lower(): value for name, value in values.items()
    }
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without MONITOR_* and Python path variables, plus `extra`."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MONITOR_") and name not in dropped
    }
    pip = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_NO_CACHE_DIR": "1"}
    return {**env, **pip, **extra}


def run_monitor_check(config: Path, env: Mapping[str, str], cwd: Path) -> str:
    """`monitor check` with `env` as its whole MONITOR_* environment; its output, asserting 0."""
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "check"],
        cwd=cwd,
        env=clean_environ(**env, MONITOR_CONFIG=str(config)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{config}: ok:" in result.stdout
    return result.stdout


# ---- Dockerfile ----


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]


def dockerfile_instructions(text: str) -> list[Instruction]:
    """The instructions, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def dockerfile_stages() -> list[Stage]:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    arguments = dict(
        i.args.split("=", 1) for i in instructions if i.keyword == "ARG" and "=" in i.args
    )
    stages: list[Stage] = []
    for index, instruction in enumerate(instructions):
        if instruction.keyword != "FROM":
            continue
        words = instruction.args.split()
        base = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], words[0])
        name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
        rest = instructions[index + 1 :]
        end = next((n for n, i in enumerate(rest) if i.keyword == "FROM"), len(rest))
        stages.append(Stage(base, name, tuple(rest[:end])))
    return stages


def runtime_stage() -> Stage:
    return dockerfile_stages()[-1]


def runtime_env() -> dict[str, str]:
    """The runtime stage's ENV values (KEY=VALUE form)."""
    env: dict[str, str] = {}
    for args in runtime_stage().all("ENV"):
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument list, as Docker parses it."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def healthcheck_command() -> list[str]:
    options, _, command = runtime_stage().last("HEALTHCHECK").partition(" CMD ")
    assert "--timeout=" in options and "--interval=" in options
    return exec_form(command.strip())


def image_user_id() -> int:
    user = runtime_stage().last("USER").split(":")[0]
    assert user.isdigit(), "a numeric USER lets Kubernetes verify runAsNonRoot"
    return int(user)


def test_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert builder.name and runtime.base == "python:3.11-slim"
    assert any(f"--from={builder.name}" in args for args in runtime.all("COPY"))
    assert image_user_id() != 0 and runtime.last("USER").split(":")[0] != "root"
    assert runtime.last("VOLUME") in ("/data", '["/data"]')
    assert runtime.last("WORKDIR") == "/data"
    assert runtime.last("EXPOSE").split("/")[0] == str(STATUS_PORT)
    assert [*exec_form(runtime.last("ENTRYPOINT")), *exec_form(runtime.last("CMD"))] == [
        "monitor",
        "run",
    ]


def test_dockerfile_env_is_real_settings_with_the_store_in_the_volume() -> None:
    env = runtime_env()
    settings = check_settings({k: v for k, v in env.items() if k.startswith("MONITOR_")})
    assert settings.status_address == ("0.0.0.0", STATUS_PORT)
    assert settings.database_url == "sqlite+aiosqlite:////data/monitor.db"
    assert settings.config is None  # the embedded default unless a config is mounted
    assert env["PATH"].startswith("/opt/venv/bin:")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` (or a folder above it) out of the build context."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        variants = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(p, v) for p in prefixes for v in variants):
            return True
    return False


def builder_sources() -> list[str]:
    """What the builder stage copies from the build context."""
    sources = [
        source
        for args in dockerfile_stages()[0].all("COPY")
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    assert {"pyproject.toml", "README.md", "monitor/", "rules/"} <= set(sources)
    return sources


def test_dockerignore_keeps_out_the_clutter_but_not_what_the_build_copies() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [p.strip().strip("/") for p in lines if p.strip() and not p.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)
    sources = builder_sources()
    copied = [
        str(path.relative_to(REPO))
        for source in sources
        for path in [REPO / source, *sorted((REPO / source).rglob("*"))]
        if "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    assert not [path for path in copied if _ignored(path, patterns)]
    for clutter in (".git", "tests/test_deploy.py", ".venv", "monitor.db", "x/__pycache__/y.pyc"):
        assert _ignored(clutter, patterns), clutter


def test_the_wheel_the_builder_makes_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    builder_steps = " ".join(dockerfile_stages()[0].all("RUN"))
    for step in (WHEEL_STEP, VENV_STEP, INSTALL_STEP):
        assert step in builder_steps
    source = _copy_build_context(tmp_path / "src")
    wheel = _build_wheel(source, tmp_path / "wheels")
    _assert_wheel_has_package_data(wheel)

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    _pip(["--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], tmp_path)
    _share_dependencies(python)  # after the install: pip saw an empty venv

    empty = tmp_path / "empty"  # no monitor.yaml, no .env: the embedded default
    empty.mkdir()
    version = _run([venv / "bin" / "monitor", "--version"], cwd=empty)
    assert monitor.__version__ in version
    assert "embedded default: ok:" in _run([venv / "bin" / "monitor", "check"], cwd=empty)
    where = _run(
        [
            python,
            "-c",
            "import monitor; from monitor.config.defaults import default_rules_dir as d; "
            "print(monitor.__file__); print(d())",
        ],
        cwd=empty,
    ).splitlines()
    package, rules = Path(where[0]), Path(where[1])
    assert package.is_relative_to(venv), "the venv runs the wheel, not this checkout"
    assert rules.is_relative_to(venv), "the image links /usr/share/feed-monitor/rules here"
    assert (rules / "actors" / "countries.yaml").is_file()


def _copy_build_context(target: Path) -> Path:
    """What the builder stage COPYs, symlinks kept (monitor/default_rules links to rules/)."""
    target.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source in builder_sources():
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, target / source, symlinks=True, ignore=skip)
        else:
            shutil.copy2(REPO / source, target / source)
    return target


def _build_wheel(source: Path, wheels: Path) -> Path:
    # As the builder, but offline: this environment's setuptools instead of an isolated one.
    setuptools = tuple(int(part) for part in metadata.version("setuptools").split(".")[:2])
    builds = setuptools >= (70, 1) or find_spec("wheel") is not None  # bdist_wheel built in
    assert builds, "building a wheel offline needs setuptools>=70.1 here (the test extra)"
    _pip(
        ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), "."], source
    )
    (wheel,) = wheels.glob("feed_monitor-*.whl")
    return wheel


def _assert_wheel_has_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"monitor/{path.relative_to(REPO / 'monitor').as_posix()}"
        for pattern in (
            "notify/templates/*.j2",
            "store/migrations/*.mako",
            "store/migrations/versions/*.py",
            "defaults/*.yaml",
        )
        for path in (REPO / "monitor").glob(pattern)
    }
    expected |= {
        f"monitor/default_rules/{path.relative_to(REPO / 'rules').as_posix()}"
        for path in (REPO / "rules").rglob("*.yaml")
    }
    assert len(expected) > 10
    assert not sorted(expected - names), "missing from the wheel"
    assert "monitor/defaults/monitor.yaml" in names
    assert "monitor/default_rules/actors/countries.yaml" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "monitor = monitor.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _share_dependencies(python: Path) -> None:
    """Lets the venv import this environment's packages (the dependencies), after its own, so
    that the test needs no network. A plain path line: this environment's .pth files (its
    editable install of this checkout) are not run."""
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(site.strip(), "zz-test-dependencies.pth").write_text("\n".join(sorted(paths)) + "\n")


def _pip(args: list[str], cwd: Path) -> None:
    _run([sys.executable, "-m", "pip", "--quiet", *args], cwd=cwd)


def _run(command: list[Any], cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result.stdout


# ---- HEALTHCHECK ----


async def run_healthcheck(status_addr: str) -> int:
    """The image's HEALTHCHECK command, with this interpreter as its `python`."""
    command = healthcheck_command()
    assert command[0] == "python"  # /opt/venv/bin/python through the image's PATH
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env=clean_environ(MONITOR_STATUS_ADDR=status_addr),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 30)


async def serve_health(status: int) -> tuple[web.AppRunner, int, list[str]]:
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(status=status, text="ok" if status == 200 else "not ok")

    app = web.Application()
    app.router.add_get("/{path:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port, asked


async def test_healthcheck_passes_when_healthz_answers_200() -> None:
    runner, port, asked = await serve_health(200)
    try:
        # The image's MONITOR_STATUS_ADDR host (0.0.0.0) with this server's port.
        host, _ = parse_host_port(runtime_env()["MONITOR_STATUS_ADDR"])
        assert await run_healthcheck(f"{host}:{port}") == 0
        assert await run_healthcheck(f"127.0.0.1:{port}") == 0
    finally:
        await runner.cleanup()
    assert asked == ["/healthz", "/healthz"]


async def test_healthcheck_fails_on_an_error_answer() -> None:
    runner, port, asked = await serve_health(503)
    try:
        assert await run_healthcheck(f"0.0.0.0:{port}") == 1
    finally:
        await runner.cleanup()
    assert asked == ["/healthz"]


async def test_healthcheck_fails_when_nothing_listens() -> None:
    with socket.socket() as reserved:  # bound, never listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        assert await run_healthcheck(f"0.0.0.0:{port}") == 1


# ---- docker compose ----


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def compose_variables() -> dict[str, str]:
    """deploy/.env.example: the values a user copies to deploy/.env."""
    pairs = (
        line.split("=", 1)
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `$$`."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        if variables.get(name):
            return variables[name]
        assert default is not None, f"${{{name}}} has no value and no default"
        return default

    return re.sub(r"\$\{(\w+)(:?-([^}]*))?\}", substitute, value).replace("$$", "$")


def daemon_environment(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """The daemon's environment with compose's `variables` (default: none, no deploy/.env)."""
    raw = compose()["services"]["monitor"]["environment"]
    assert isinstance(raw, dict)
    return {name: interpolate(str(value), variables or {}) for name, value in raw.items()}


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


def daemon_mounts() -> list[Mount]:
    mounts = []
    for entry in compose()["services"]["monitor"]["volumes"]:
        source, target, *mode = entry.split(":")
        mounts.append(Mount(source, target, mode == ["ro"]))
    return mounts


def test_compose_runs_the_daemon_with_postgres_and_mailpit() -> None:
    services = compose()["services"]
    assert {"monitor", "postgres", "mailpit"} <= set(services)
    daemon = services["monitor"]
    assert (COMPOSE.parent / daemon["build"]["context"]).resolve() == REPO
    assert (REPO / daemon["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    for name, condition in daemon["depends_on"].items():
        assert name in services
        if condition["condition"] == "service_healthy":
            assert services[name]["healthcheck"]["test"], name
    assert daemon["depends_on"]["postgres"]["condition"] == "service_healthy"
    container_ports = {str(p).rsplit(":", 1)[-1] for p in daemon["ports"]}
    assert str(STATUS_PORT) in container_ports
    assert {"8025", "1025"} <= {str(p).rsplit(":", 1)[-1] for p in services["mailpit"]["ports"]}


def test_compose_daemon_settings_are_real_and_point_at_the_other_services() -> None:
    services = compose()["services"]
    env = daemon_environment()
    settings = check_settings(env)
    assert settings.status_address == ("0.0.0.0", STATUS_PORT)
    assert settings.smtp_host in services and settings.smtp_host == "mailpit"
    assert (settings.smtp_effective_port, settings.smtp_security) == (1025, "none")
    assert settings.smtp_from
    # The database URL names the postgres service with its user, password and database.
    match = re.fullmatch(
        r"postgresql\+asyncpg://(\w+):([^@]+)@(\w+):5432/(\w+)", env["MONITOR_DATABASE_URL"]
    )
    assert match, "a PostgreSQL URL"
    postgres = {k: interpolate(str(v), {}) for k, v in services["postgres"]["environment"].items()}
    assert match.groups() == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        "postgres",
        postgres["POSTGRES_DB"],
    )
    grace = parse_duration(services["monitor"]["stop_grace_period"]).total_seconds()
    assert grace > settings.shutdown_grace


def test_compose_env_example_sets_variables_the_compose_file_uses() -> None:
    variables = compose_variables()
    assert variables
    for name in variables:
        assert f"${{{name}:-" in COMPOSE.read_text(), name
    check_settings(daemon_environment(variables))


def test_compose_mounts_exist_and_volumes_are_declared() -> None:
    declared = set(compose()["volumes"])
    mounts = daemon_mounts()
    for mount in mounts:
        if mount.source.startswith("."):
            assert (COMPOSE.parent / mount.source).exists(), mount.source
        else:
            assert mount.source in declared, mount.source
    assert any(m.target == "/data" for m in mounts)
    config = next(m for m in mounts if m.target == daemon_environment()["MONITOR_CONFIG"])
    assert config.read_only and config.source == "./monitor.yaml"
    postgres_volumes = compose()["services"]["postgres"]["volumes"]
    assert {v.split(":")[0] for v in postgres_volumes} <= declared


def test_compose_config_passes_check_as_mounted(tmp_path: Path) -> None:
    root = tmp_path / "container"
    for mount in daemon_mounts():
        if not mount.target.startswith("/config"):
            continue
        place = root / mount.target.lstrip("/")
        place.parent.mkdir(parents=True, exist_ok=True)
        source = COMPOSE.parent / mount.source  # copied: a bind mount is no symlink
        if source.is_dir():
            shutil.copytree(source, place, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, place)
    env = daemon_environment()
    config = root / env.pop("MONITOR_CONFIG").lstrip("/")
    output = run_monitor_check(config, env, cwd=tmp_path)
    assert "2 notifiers" in output and " 0 rules" not in output


# ---- Kubernetes ----


def manifests() -> dict[str, dict[str, Any]]:
    """Every document of deploy/kubernetes/*.yaml by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in found, document["kind"]
            found[document["kind"]] = document
    return found


def container() -> dict[str, Any]:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def container_env() -> dict[str, str]:
    """The container's environment, secretKeyRefs read from secret.yaml's example values."""
    secret = manifests()["Secret"]
    values: dict[str, str] = {}
    for entry in container()["env"]:
        if "value" in entry:
            values[entry["name"]] = str(entry["value"])
            continue
        reference = entry["valueFrom"]["secretKeyRef"]
        assert reference["name"] == secret["metadata"]["name"]
        values[entry["name"]] = secret["stringData"][reference["key"]]
    return values


def test_kubernetes_manifests_load_and_kustomize_lists_them() -> None:
    found = manifests()
    assert {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Kustomization",
    } <= set(found)
    listed = set(found["Kustomization"]["resources"])
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_kubernetes_probes_hit_the_status_server() -> None:
    spec = container()
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert ports == {"status": STATUS_PORT}
    probes = {}
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = spec[kind]["httpGet"]
        probes[kind] = (get["path"], ports.get(get["port"], get["port"]))
    assert probes == {
        "startupProbe": ("/healthz", STATUS_PORT),
        "livenessProbe": ("/healthz", STATUS_PORT),
        "readinessProbe": ("/readyz", STATUS_PORT),
    }
    assert check_settings(_monitor_env()).status_address == ("0.0.0.0", STATUS_PORT)


def _monitor_env() -> dict[str, str]:
    return {k: v for k, v in container_env().items() if k.startswith("MONITOR_")}


def test_kubernetes_pod_runs_unprivileged_on_a_read_only_root() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == image_user_id()
    assert pod["automountServiceAccountToken"] is False
    spec = container()
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in spec["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert spec["resources"]["requests"] and spec["resources"]["limits"]["memory"]
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > check_settings(_monitor_env()).shutdown_grace


def test_kubernetes_wiring_is_consistent() -> None:
    found = manifests()
    deployment, service = found["Deployment"], found["Service"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == STATUS_PORT and port["targetPort"] == "status"
    assert service["metadata"]["annotations"]["prometheus.io/port"] == str(STATUS_PORT)
    assert service["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    pod = deployment["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container()["volumeMounts"]}
    config_map = volumes[mounts["/config"]]["configMap"]
    assert config_map["name"] == found["ConfigMap"]["metadata"]["name"]
    assert {item["key"] for item in config_map["items"]} == set(found["ConfigMap"]["data"])
    settings = check_settings(_monitor_env())
    assert settings.config is not None and settings.config.parent == Path("/config")
    # Several replicas share one PostgreSQL database (SQLite would take one pod at a time).
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"


def test_kubernetes_env_names_are_settings_or_used_by_the_config() -> None:
    env = container_env()
    check_settings(_monitor_env())
    monitor_yaml = manifests()["ConfigMap"]["data"]["monitor.yaml"]
    others = [name for name in env if not name.startswith("MONITOR_")]
    assert others, "the example shows a ${VAR} from the Secret"
    for name in others:
        assert f"${{{name}}}" in monitor_yaml, name


def test_kubernetes_config_map_passes_check_as_mounted(tmp_path: Path) -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (mount,) = [m for m in container()["volumeMounts"] if m["mountPath"] == "/config"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    data = manifests()["ConfigMap"]["data"]
    root = tmp_path / "container"
    for item in volume["configMap"]["items"]:
        place = root / mount["mountPath"].lstrip("/") / item["path"]
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_text(data[item["key"]])
    env = container_env()
    config = root / env.pop("MONITOR_CONFIG").lstrip("/")
    output = run_monitor_check(config, env, cwd=tmp_path)
    assert "3 notifiers" in output and "2 rules" in output


# ---- systemd ----

# The directives of systemd.unit(5), systemd.service(5), systemd.exec(5), systemd.kill(5) and
# systemd.resource-control(5) that a unit of this kind may use.
SYSTEMD_DIRECTIVES = {
    "Unit": {
        "Description",
        "Documentation",
        "Wants",
        "Requires",
        "After",
        "Before",
        "StartLimitIntervalSec",
        "StartLimitBurst",
    },
    "Service": {
        # systemd.service
        "Type",
        "ExecStart",
        "ExecStartPre",
        "ExecReload",
        "Restart",
        "RestartSec",
        "RestartPreventExitStatus",
        "TimeoutStopSec",
        # systemd.kill
        "KillSignal",
        "KillMode",
        # systemd.exec
        "Environment",
        "EnvironmentFile",
        "SyslogIdentifier",
        "DynamicUser",
        "StateDirectory",
        "StateDirectoryMode",
        "WorkingDirectory",
        "UMask",
        "LimitNOFILE",
        "CapabilityBoundingSet",
        "AmbientCapabilities",
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "ProtectProc",
        "RestrictAddressFamilies",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "LockPersonality",
        "SystemCallArchitectures",
        "SystemCallFilter",
        "SystemCallErrorNumber",
        # systemd.resource-control
        "MemoryMax",
        "TasksMax",
    },
    "Install": {"WantedBy"},
}


def unit_entries() -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, repeated keys kept."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"not an assignment in a section: {raw}"
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(key: str) -> list[str]:
    return [value for _, name, value in unit_entries() if name == key]


def unit_value(key: str) -> str:
    (value,) = unit_values(key)
    return value


def unit_environment() -> dict[str, str]:
    pairs = (pair.split("=", 1) for v in unit_values("Environment") for pair in shlex.split(v))
    return dict(pairs)


def test_systemd_unit_uses_only_real_directives() -> None:
    entries = unit_entries()
    assert {section for section, _, _ in entries} == set(SYSTEMD_DIRECTIVES)
    unknown = [(s, k) for s, k, _ in entries if k not in SYSTEMD_DIRECTIVES[s]]
    assert not unknown


def test_systemd_unit_runs_the_daemon_hardened() -> None:
    assert unit_value("Type") == "simple"
    assert unit_value("ExecStart").endswith("/monitor run")
    assert unit_value("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert unit_value("KillSignal") == "SIGTERM"
    assert unit_value("Restart") == "on-failure"
    assert unit_value("RestartPreventExitStatus") == str(EXIT_CONFIG)
    for key, value in {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }.items():
        assert unit_value(key) == value, key
    assert "@system-service" in unit_values("SystemCallFilter")
    assert unit_value("EnvironmentFile") == "-/etc/feed-monitor/env"
    assert unit_value("WantedBy") == "multi-user.target"


def test_systemd_unit_settings_are_real_and_keep_state_in_its_directory() -> None:
    settings = check_settings(
        {k: v for k, v in unit_environment().items() if k.startswith("MONITOR_")}
    )
    state = f"/var/lib/{unit_value('StateDirectory')}"
    assert unit_value("WorkingDirectory") == state
    assert settings.database_url == f"sqlite+aiosqlite:///{state}/monitor.db"
    stop = parse_duration(unit_value("TimeoutStopSec")).total_seconds()
    assert stop > settings.shutdown_grace


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_finds_nothing_wrong_in_the_unit(tmp_path: Path) -> None:
    unit = tmp_path / UNIT.name
    # verify wants ExecStart's program to exist: this interpreter stands in for the venv's.
    executable = unit_value("ExecStart").split()[0]
    unit.write_text(UNIT.read_text().replace(executable, sys.executable))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    complaints = [line for line in result.stderr.splitlines() if line.startswith(str(unit))]
    assert not complaints


# ---- Prometheus ----

ALERT_NAMES = {
    "MonitorDown",
    "FeedsUnhealthy",
    "DeliveriesDead",
    "OutboxBacklog",
    "NoPolls",
    "ConfigReloadFailed",
}


def alert_rules() -> Iterator[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert groups
    for group in groups:
        assert group["name"] and group["rules"]
        yield from group["rules"]


def test_alerting_rules_are_complete_and_use_real_metrics() -> None:
    rules = list(alert_rules())
    assert {rule["alert"] for rule in rules} == ALERT_NAMES
    for rule in rules:
        assert re.fullmatch(r"[0-9]+[smhd]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
        used = set(re.findall(r"monitor_[a-z_]+", expr))
        assert used <= METRICS, rule["alert"]
        assert used or rule["alert"] == "MonitorDown"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Prometheus)")
def test_alerting_rules_fire_when_they_should(tmp_path: Path) -> None:
    """promtool's rule unit tests on made-up series (one a minute): which alerts fire when."""
    target = 'job="feed-monitor", instance="m:9464"'
    series = {
        "up": "1x10 0x20",  # down from 11m to 31m, then gone
        'monitor_polls_total{outcome="ok"}': "0+5x10 50x50",  # no poll after 10m
        'monitor_polls_total{outcome="failed"}': "0x60",  # flat, yet polls flow until 10m
        "monitor_feeds_unhealthy": "0x10 2x40",
        'monitor_deliveries_total{notifier="ops", state="dead"}': "0x10 3x50",
        "monitor_outbox_oldest_pending_seconds": "0x10 1000x20",
        "monitor_config_reload_failures_total": "0x20 1x40",  # one failure at 21m
    }
    firing = {
        "9m": [],
        "25m": ["ConfigReloadFailed", "DeliveriesDead", "MonitorDown", "OutboxBacklog"],
        "45m": ["DeliveriesDead", "FeedsUnhealthy", "NoPolls"],
    }
    input_series = [
        {"series": _with_labels(name, target), "values": values} for name, values in series.items()
    ]
    expectations = [
        {
            "expr": 'count by (alertname) (ALERTS{alertstate="firing"})',
            "eval_time": at,
            "exp_samples": [{"labels": f'{{alertname="{name}"}}', "value": 1} for name in names],
        }
        for at, names in firing.items()
    ]
    tests = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m", "input_series": input_series, "promql_expr_test": expectations}
        ],
    }
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        ["promtool", "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(ALERT_NAMES) == {name for names in firing.values() for name in names}


def _with_labels(series: str, labels: str) -> str:
    name, _, given = series.partition("{")
    return f"{name}{{{labels}, {given}" if given else f"{name}{{{labels}}}"
