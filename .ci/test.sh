#!/usr/bin/env bash
# Everything the test suite needs beyond the Python packages, then pytest.
# Called by `make test` (and so by .ci/run). Idempotent: what is there is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# Debian packages: rsync (gitlab-ci-local), PostgreSQL (SQL validations).
need_apt=()
command -v rsync >/dev/null 2>&1 || need_apt+=(rsync)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: missing ${need_apt[*]} (install them to run every test)" >&2
  fi
fi

# npm tools pinned in .ci/package.json and its lockfile (gitlab-ci-local, SARIF multitool).
if [ -f .ci/package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d .ci/node_modules ] || [ .ci/package.json -nt .ci/node_modules ]; then
    (cd .ci && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch .ci/node_modules
  fi
  export PATH="$PWD/.ci/node_modules/.bin:$PATH"
fi

# A throwaway PostgreSQL server on a loopback port, stopped when the tests end.
# A server that cannot start fails the run here (set -e), rather than as skips.
if [ -x .ci/postgres.sh ]; then
  pg_env=$(.ci/postgres.sh start)
  eval "$pg_env"
  trap '.ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT
fi

# The policy library's own unit tests, with a coverage floor.
"$BIN/gate" verify --library --coverage --coverage-min 90 --format junit=.ci/.verify-junit.xml

set +e
"$BIN/python" -m pytest "$@"
code=$?
set -e
if [ $code -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit $code
