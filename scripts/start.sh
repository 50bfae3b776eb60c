#!/usr/bin/env bash
# `npm start`: gitgate's demo on an embedded default (`gitgate dev`): a local control plane, a local
# Git server with the demo repo from examples/, a chat sink in this terminal, and gitgate itself.
# First run installs npm packages and builds the control plane binaries (about 6 minutes, once).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[start] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
exec node --import tsx src/cli/main.ts dev "$@"
