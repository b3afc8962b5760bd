#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine with the Rust toolchain:
# installs the external tools the end-to-end tests run for real, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

# The end-to-end tests run the real `asto` binary; build it once, with the same command the tests
# use to make sure it is current (so each test's check is a no-op).
cargo build --quiet -p asto-controller --bin asto

# Device discovery through libudev is a cargo feature (it needs libudev-dev to build).
cargo test --quiet -p asto-drivers --features udev --lib discovery

if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --workspace --no-fail-fast "$@"
else
    exec cargo test --workspace --no-fail-fast "$@"
fi
