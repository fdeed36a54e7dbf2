#!/usr/bin/env bash
# Diagnose the kit: a thin wrapper around `manage_langfuse.py doctor`, from any directory.
#
#   scripts/debug_langfuse.sh [--json] [--no-bedrock-calls] [--native] [--env-file PATH]
#
# Every finding is printed as OK, WARN, FAIL or SKIP with its cause and the exact fix.
# Exit status: 0 when nothing failed (WARN and SKIP included), 1 on any FAIL, 2 on bad usage.
# Uses the repository's .venv when it exists, else python3 from PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" "$ROOT/manage_langfuse.py" doctor "$@"
