#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, skipping what is
# already there: PostgreSQL (Debian), nginx (Debian, for local scale-out), a C
# toolchain, the tansu broker (crates.io). Safe to re-run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

apt_packages=()
command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] || apt_packages+=(postgresql postgresql-client libpq-dev)
command -v psql >/dev/null || apt_packages+=(postgresql-client)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_packages+=(nginx-light)
command -v python3 >/dev/null || apt_packages+=(python3)
# C toolchain for librdkafka and jemalloc (built from source by their crates).
command -v cc >/dev/null || apt_packages+=(gcc)
command -v make >/dev/null || apt_packages+=(make)
# loadgen --plot draws its text with DejaVu Sans.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_packages+=(fonts-dejavu-core)

if [ "${#apt_packages[@]}" -gt 0 ]; then
  log "installing Debian packages: ${apt_packages[*]}"
  [ "$(id -u)" = 0 ] || die "need root to install ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  # Debian starts a default cluster on 5432; we run our own clusters.
  systemctl disable --now postgresql >/dev/null 2>&1 || service postgresql stop >/dev/null 2>&1 || true
fi

if ! tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  log "installing tansu $TANSU_VERSION from crates.io (10-17 minutes on 2 cores, once)"
  cargo install tansu --locked --version "$TANSU_VERSION" --features dynostore,libsql
fi
log "dependencies present: PostgreSQL $(pg_config --version | awk '{print $2}'), tansu $TANSU_VERSION"
