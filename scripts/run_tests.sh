#!/usr/bin/env bash
# The test command from the README. From nothing: system packages, the pinned venv,
# a Docker engine and compose v2, then lint and the whole test suite (unit, integration
# against the real LiteLLM proxy, end-to-end on the real Docker engine).
#
#   scripts/run_tests.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

# Debian packages the test bed needs: the engine, the servers the stand-in images run, and
# chromium, the headless browser the HTML usage report is tested in.
SYSTEM_PACKAGES=(docker.io postgresql redis-server haproxy wget iproute2 chromium)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these on install; the tests run their own copies.
  service postgresql stop >/dev/null 2>&1 || true
  service redis-server stop >/dev/null 2>&1 || true
fi

say "python environment (.venv, pinned)"
if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"

say "docker engine and compose v2"
.venv/bin/python -m tests.e2e.engine ensure

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

say "pytest"
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$code"
