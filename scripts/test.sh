#!/usr/bin/env bash
# `npm test`: installs what the tests need when missing (npm packages; etcd and a kube-apiserver
# built once per machine, see install-testenv.sh), then runs unit and integration tests.
# Arguments filter test files by substring: `npm test -- reconciler`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[test] npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
bash scripts/install-testenv.sh
exec node scripts/run-tests.mjs all "$@"
