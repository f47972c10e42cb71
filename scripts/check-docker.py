#!/usr/bin/env python3
"""Offline checks of docker/ (no Docker engine runs here).

- compose.yaml parses; every depends_on names a service;
- each built service builds a binary the workspace has;
- every environment variable a service sets is one of its settings
  (an `env = "NAME"` in that crate's settings.rs);
- health checks probe the PORT the service listens on;
- nginx.conf's upstream hosts are compose services;
- every ${VAR} the compose file reads is in .env.example.
"""
import pathlib
import re
import sys

try:
    import yaml
except ImportError:  # a fresh machine: PyYAML from PyPI
    import subprocess
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pyyaml"])
    import yaml

root = pathlib.Path(__file__).resolve().parent.parent
docker = root / "docker"
compose = yaml.safe_load((docker / "compose.yaml").read_text())
services = compose["services"]
problems = []

for name, svc in services.items():
    for dep in (svc.get("depends_on") or {}):
        if dep not in services:
            problems.append(f"{name}: depends_on unknown service {dep}")
    build = svc.get("build")
    if not build:
        continue
    binary = build["args"]["BIN"]
    crate = root / binary
    if not (crate / "Cargo.toml").exists():
        problems.append(f"{name}: BIN={binary} is not a workspace crate")
        continue
    settings = (crate / "src" / "settings.rs").read_text()
    known = set(re.findall(r'env = "([A-Z_]+)"', settings)) | {"RUST_LOG", "HOST"}
    env = svc.get("environment") or {}
    for key in env:
        if key not in known:
            problems.append(f"{name}: sets {key}, which {binary} does not read")
    port = str(env.get("PORT", ""))
    probe = " ".join(svc.get("healthcheck", {}).get("test", []))
    if port and f":{port}/" not in probe:
        problems.append(f"{name}: health check does not probe port {port}: {probe}")

nginx = (docker / "nginx.conf").read_text()
for host in re.findall(r"server\s+([a-z][a-z0-9-]*):\d+;", nginx):
    if host not in services:
        problems.append(f"nginx.conf: upstream host {host} is not a service")

example = (docker / ".env.example").read_text()
for var in set(re.findall(r"\$\{([A-Z_]+)", (docker / "compose.yaml").read_text())):
    if not re.search(rf"^{var}=", example, re.M):
        problems.append(f"compose.yaml reads ${{{var}}}, missing from .env.example")

dockerfile = (docker / "Dockerfile").read_text()
if "USER chat" not in dockerfile:
    problems.append("Dockerfile: the runtime image must not run as root")

for p in problems:
    print("docker/:", p)
print(f"docker/: {len(services)} services checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
