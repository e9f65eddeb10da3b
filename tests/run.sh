#!/usr/bin/env bash
# Runs every test without installing anything (the peers must be installed already): the
# same steps as CI, which live in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
MAILSTEAD_SKIP_INSTALL=1 exec bash .ci/run
