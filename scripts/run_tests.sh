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
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"

say "docker engine and compose v2"
.venv/bin/python -m tests.e2e.engine ensure

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

# Two pytest processes at once: tests/e2e, which mostly waits on containers, and beside it unit +
# integration spread over the cores by pytest-xdist (one test file per worker, so a module's
# proxy stays shared by its tests). Both print in full (e2e's output after the other's); the run
# fails if either fails, or if neither collected a test. Arguments go to both.
E2E_LOG=$(mktemp)
e2e_pid=
finish_e2e() {
  # Ctrl-C and errors end the e2e run the way Ctrl-C would: its fixtures tear the stacks down.
  if [ -n "$e2e_pid" ] && kill -0 "$e2e_pid" 2>/dev/null; then
    kill -INT "$e2e_pid" 2>/dev/null || true
    wait "$e2e_pid" 2>/dev/null || true
    say "pytest tests/e2e (interrupted)"
    cat "$E2E_LOG"
  fi
  rm -f "$E2E_LOG"
}
trap finish_e2e EXIT
trap 'exit 130' INT TERM

# e2e on two workers: the shared stack's modules on one, the modules with stacks of their own
# beside it (tests/e2e/conftest.py); LLMOPS_E2E_WORKERS=N overrides the count.
say "pytest tests/e2e: started in the background, its output follows"
set -m # its own process group, so it keeps SIGINT (a background job of a script ignores it)
.venv/bin/python -m pytest tests/e2e -n "${LLMOPS_E2E_WORKERS:-2}" --dist loadgroup "$@" >"$E2E_LOG" 2>&1 &
e2e_pid=$!
set +m

# -n auto: one worker per CPU; PYTEST_XDIST_AUTO_NUM_WORKERS=N overrides it.
say "pytest: unit and integration (pytest-xdist)"
set +e
.venv/bin/python -m pytest --ignore=tests/e2e -n auto --dist loadfile "$@"
main_code=$?
if [ "$main_code" -eq 2 ]; then # interrupted, or a collection error: no reason to wait for e2e
  kill -INT "$e2e_pid" 2>/dev/null
fi
wait "$e2e_pid"
e2e_code=$?
e2e_pid=
set -e

say "pytest tests/e2e"
cat "$E2E_LOG"

say "pytest exit codes: unit and integration $main_code, e2e $e2e_code"
if [ "$main_code" -eq 5 ] && [ "$e2e_code" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
for code in "$main_code" "$e2e_code"; do
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ]; then
    exit "$code"
  fi
done
exit 0
