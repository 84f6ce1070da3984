"""Checks docker-compose.yml and deploy/Dockerfile without a Docker engine.

    python3 scripts/check-compose.py [BIN_DIR]    # BIN_DIR: target/debug

- `docker compose config -q` when the docker CLI has the compose plugin;
- every service has an image or a build, and a health check (a one-shot
  service may disable it when whoever depends on it waits for it to
  complete);
- images are pinned to a version (no `latest`, no bare major);
- every rollcall service runs one of the four binaries, and every flag and
  environment variable it is given is one that binary's --help lists (the
  binaries built in BIN_DIR are asked, so the file cannot drift from them);
- the Dockerfile builds the four binaries and installs the health check the
  services call, and its ENV variables are ones some binary reads;
- files mounted from the repository exist, and depends_on names services.

Exits 1 listing each problem. Needs PyYAML.
"""

import pathlib
import re
import shlex
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy/Dockerfile"
BINARIES = ("rollcall", "rollcall-api", "rollcall-projector", "rollcall-reaper")
HEALTHCHECK = "rollcall-healthcheck"
# Read by libraries rather than by the binaries' flags.
LIBRARY_VARIABLES = {"RUST_LOG"}
# `[env: NAME=value]`, or `[env: NAME]` where the value is hidden (URLs with
# passwords).
ENV = re.compile(r"\[env: (\w+)[=\]]")
PINNED = re.compile(r":v?\d+\.\d+(\.\d+)?([-.][\w.-]+)?$")


class Binaries:
    """Asks the built binaries for their --help, once per command line."""

    def __init__(self, directory):
        self.directory = directory
        self.helps = {}

    def help(self, words):
        key = tuple(words)
        if key not in self.helps:
            program = self.directory / words[0]
            if not program.exists():
                raise SystemExit(
                    f"check-compose: {program} is missing; build it first: cargo build --workspace --bins"
                )
            run = subprocess.run([str(program), *words[1:], "--help"], capture_output=True, text=True)
            if run.returncode != 0:
                self.helps[key] = None
            else:
                self.helps[key] = run.stdout
        return self.helps[key]

    def all_variables(self):
        variables = set()
        for binary in BINARIES:
            variables.update(re.findall(ENV, self.help([binary]) or ""))
        return variables


def command_words(service):
    command = service.get("command")
    if isinstance(command, str):
        return shlex.split(command)
    return list(command or [])


def check_rollcall_service(name, service, binaries, problems):
    words = command_words(service)
    if not words or words[0] not in BINARIES:
        problems.append(f"{name}: command {words} does not run one of {', '.join(BINARIES)}")
        return
    verb = [words[0]] + [w for w in words[1:2] if not w.startswith("-")]
    help_text = binaries.help(verb)
    if help_text is None:
        problems.append(f"{name}: `{' '.join(verb)} --help` fails: no such command")
        return
    for word in words[len(verb):]:
        flag = word.split("=", 1)[0]
        if flag.startswith("--") and not re.search(rf"(^|\s){re.escape(flag)}[\s,=<]", help_text, re.M):
            problems.append(f"{name}: `{' '.join(verb)}` has no flag {flag}")
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    for variable in environment:
        if variable not in LIBRARY_VARIABLES and variable not in ENV.findall(help_text):
            problems.append(f"{name}: `{' '.join(verb)}` reads no environment variable {variable}")
    test = (service.get("healthcheck") or {}).get("test") or []
    if isinstance(test, list) and len(test) > 1 and test[0] in ("CMD", "CMD-SHELL"):
        program = shlex.split(test[1])[0] if test[0] == "CMD-SHELL" else test[1]
        if program != HEALTHCHECK:
            problems.append(f"{name}: its health check runs {program}, not {HEALTHCHECK}")


def check_healthcheck(name, service, services, problems):
    healthcheck = service.get("healthcheck")
    if not healthcheck:
        problems.append(f"{name}: no healthcheck")
        return
    if healthcheck.get("disable"):
        waiting = [
            other
            for other, definition in services.items()
            if name in (definition.get("depends_on") or {})
        ]
        one_shot = service.get("restart") == "no"
        completes = all(
            isinstance(services[other]["depends_on"], dict)
            and services[other]["depends_on"][name].get("condition") == "service_completed_successfully"
            for other in waiting
        )
        if not (one_shot and completes):
            problems.append(
                f"{name}: health check disabled, but it is not a one-shot service whose dependents wait for it to complete"
            )
    elif not healthcheck.get("test"):
        problems.append(f"{name}: healthcheck without a test")


def check_dockerfile(binaries, problems):
    text = DOCKERFILE.read_text()
    for binary in BINARIES:
        if f"--bin {binary}" not in text:
            problems.append(f"deploy/Dockerfile: does not build {binary}")
    if f"/usr/local/bin/{HEALTHCHECK}" not in text:
        problems.append(f"deploy/Dockerfile: does not install {HEALTHCHECK}")
    known = binaries.all_variables()
    for line in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", text, re.M):
        for variable in re.findall(r"(\w+)=", line):
            if variable not in known:
                problems.append(f"deploy/Dockerfile: ENV {variable} is read by none of the binaries")


def docker_compose_config(problems):
    try:
        version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    except FileNotFoundError:
        return "no docker CLI"
    if version.returncode != 0:
        return "no compose plugin"
    checked = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True
    )
    if checked.returncode != 0:
        problems.append(f"docker compose config: {checked.stderr.strip()}")
    return "docker compose config"


def main():
    binaries = Binaries(ROOT / (sys.argv[1] if len(sys.argv) > 1 else "target/debug"))
    problems = []
    schema = docker_compose_config(problems)
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            problems.append(f"{name}: neither image nor build")
        image = service.get("image", "")
        if "build" not in service and not PINNED.search(image):
            problems.append(f"{name}: image {image!r} is not pinned to a version")
        check_healthcheck(name, service, services, problems)
        for needed in service.get("depends_on") or {}:
            if needed not in services:
                problems.append(f"{name}: depends on {needed}, which is not a service")
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith(".") and not (ROOT / source).exists():
                problems.append(f"{name}: mounts {source}, which does not exist")
        build = service.get("build") or {}
        if isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile":
            check_rollcall_service(name, service, binaries, problems)
    check_dockerfile(binaries, problems)
    for problem in problems:
        print(f"check-compose: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-compose: {len(services)} services hold ({schema if 'config' in schema else schema + ': YAML checks only'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
