#!/usr/bin/env bash
# Install idwatch with its test extras (and Chromium for the HTML report test), then run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  fi
fi
if ! command -v java >/dev/null 2>&1; then  # the Spark parity test (tests/engines) needs Java
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
      || echo "warning: could not install openjdk-17-jre-headless; the Spark parity test will fail under CI=true" >&2
  fi
fi
python3 -m pip install -q -e ".[test]"
python3 -m ruff check src tests bench
python3 -m ruff format --check src tests bench
python3 -m pytest -n 2 "$@"
