#!/usr/bin/env bash
# Runs every test: installs the test tools if needed, then the whole workspace's tests.
# DynamoDB Local is started by the tests themselves on a free loopback port and stops with them.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/install-test-tools.sh
export PATH="$PWD/.tools/venv/bin:$PATH" SAM_CLI_TELEMETRY=0
exec cargo test --workspace --all-targets "$@"
