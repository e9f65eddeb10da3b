#!/usr/bin/env bash
# Runs every test Mailstead has: formatting, lints, licences, unit/conformance/crash tests, and
# the interop tests against real peers (tests/interop/*.sh). CI runs this through .ci/run, which
# first installs the peers; on your own machine run `bash .ci/run` as root, or this script if
# the peers are already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "licences (deny.toml)"
python3 tests/licenses.py
step "cargo test"
cargo test --workspace --locked
step "fuzz targets still compile (run them with cargo +nightly fuzz)"
cargo check --locked --manifest-path crates/proto/fuzz/Cargo.toml --bins
# The IMAP targets share the main target directory (same lockfile versions, so nothing is
# compiled twice).
CARGO_TARGET_DIR=target cargo check --locked --manifest-path crates/imap/fuzz/Cargo.toml --bins
step "interop tests against real peers"
cargo build --locked -p mailstead
shopt -s nullglob
for t in tests/interop/*.sh; do
  [ "$(basename "$t")" = lib.sh ] && continue
  step "$t"
  bash "$t"
done
step "all tests passed"
