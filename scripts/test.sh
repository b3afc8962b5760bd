#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine with the Rust toolchain:
# installs the external tools the end-to-end tests run for real, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --workspace --no-fail-fast "$@"
else
    exec cargo test --workspace --no-fail-fast "$@"
fi
