#!/usr/bin/env bash
# IMAP benchmark: Mailstead and Dovecot in the same run, each with the same 10,000-message
# INBOX imported the same way (IMAP APPEND, 4 sessions). Measures SELECT, FETCH 1:* (FLAGS
# ENVELOPE), UID SEARCH BODY "word" (median of BENCH_RUNS after a first, cold run) and the memory
# each idle authenticated connection costs (1,000 logged-in connections: the server's RSS
# before and after; for Dovecot, which forks an imap process per connection, the sum over its
# whole process tree, with PSS beside RSS because RSS counts shared pages once per process;
# also the RSS left 2 s after the connections close, which shows memory the allocator kept).
# Dovecot checks the same Argon2id hash Mailstead stores, so a LOGIN costs both the same.
# Both servers plaintext on 127.0.0.1 (Mailstead in --dev mode): TLS is not measured.
# Dovecot (Debian's dovecot-imapd) runs as a private instance with its own config, a
# passwd-file user and a Maildir under a temp directory. Not a test: run by hand, as root.
#   bash bench/imap.sh            (N=10000)    BENCH_N=2000 BENCH_CONNS=200 bash bench/imap.sh
#   BENCH_MALLOC_MMAP_THRESHOLD=131072 bash bench/imap.sh     (see the note at ms_start below)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-10000}
CONNS=${BENCH_CONNS:-1000}
RUNS=${BENCH_RUNS:-5}
USER_NAME=bench@example.test
PASS=pw-bench-1
command -v dovecot >/dev/null || { echo "needs Dovecot: apt-get install dovecot-imapd" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS * 2 + 100)) ] || { echo "ulimit -n $(ulimit -n) is too low for $CONNS connections" >&2; exit 1; }
cargo build --release --locked -p mailstead >/dev/null
export MAILSTEAD_BIN=$PWD/target/release/mailstead
source tests/interop/lib.sh
B="timeout 900 python3 bench/imap_bench.py"

# ---- Mailstead: --dev (plaintext LOGIN on loopback), limits raised for the connections ----
ms_init
echo "$PASS" | "$MS" account add "$USER_NAME" --password-stdin --data "$DATA" >/dev/null
sed -i -E 's/^level = .*/level = "warn"/' "$DATA/mailstead.toml"
sed -i -E "s/^max_connections = .*/max_connections = $((CONNS + 100))/" "$DATA/mailstead.toml"
sed -i -E "s/^max_connections_per_ip = .*/max_connections_per_ip = $((CONNS + 100))/" "$DATA/mailstead.toml"
# BENCH_MALLOC_MMAP_THRESHOLD=131072 runs Mailstead with glibc's mmap threshold fixed: each
# login's transient 19 MiB of Argon2 memory then goes back to the kernel at once instead of
# fragmenting the heap, so the RSS figures show what the connections themselves hold.
if [ -n "${BENCH_MALLOC_MMAP_THRESHOLD:-}" ]; then
  MALLOC_MMAP_THRESHOLD_=$BENCH_MALLOC_MMAP_THRESHOLD ms_start
else
  ms_start
fi
MS_IMAP=$(port imap)

# ---- Dovecot: a private instance on 127.0.0.1, Maildir, passwd-file ----
DV=$WORK/dovecot
mkdir -p "$DV/home" "$DV/run"
chown nobody:nogroup "$DV/home"
DV_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The very Argon2id hash Mailstead stores (m=19456, t=2, p=1): both servers do the same work
# per LOGIN.
hash=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("SELECT password_hash FROM accounts WHERE lookup = ?", (sys.argv[2],)).fetchone()[0])' "$DATA/mailstead.db" "$USER_NAME")
echo "$USER_NAME:{ARGON2ID}$hash::::::" >"$DV/passwd"
cat >"$DV/dovecot.conf" <<EOF2
base_dir = $DV/run
state_dir = $DV/run
log_path = $DV/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = $DV/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DV/home/%u
}
mail_location = maildir:~/Maildir
default_process_limit = $((CONNS + 100))
default_client_limit = $((CONNS * 4 + 100))
default_vsz_limit = 1G
protocol imap {
  mail_max_userip_connections = $((CONNS + 100))
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DV_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  client_limit = $((CONNS * 4 + 100))
}
EOF2
dovecot -c "$DV/dovecot.conf" -F >>"$DV/stdout" 2>&1 &
PIDS+=($!)
DV_PID=$!
wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1', $DV_PORT))" || fail "dovecot did not start: $(cat "$DV/stdout" "$DV/dovecot.log")"
trap 'doveadm -c "$DV/dovecot.conf" stop 2>/dev/null || true; cleanup' EXIT

echo "importing $N messages into each server by IMAP APPEND (4 sessions)..."
ms_import=$($B import 127.0.0.1 "$MS_IMAP" "$USER_NAME" "$PASS" "$N" 4)
dv_import=$($B import 127.0.0.1 "$DV_PORT" "$USER_NAME" "$PASS" "$N" 4)

echo "SELECT, FETCH 1:* (FLAGS ENVELOPE), UID SEARCH BODY: 1 cold run + $RUNS..."
ms_ops=$($B ops 127.0.0.1 "$MS_IMAP" "$USER_NAME" "$PASS" "$RUNS" zanzibar)
dv_ops=$($B ops 127.0.0.1 "$DV_PORT" "$USER_NAME" "$PASS" "$RUNS" zanzibar)

echo "$CONNS idle logged-in connections..."
ms_mem=$($B conns 127.0.0.1 "$MS_IMAP" "$USER_NAME" "$PASS" "$CONNS" "$MS_PID")
sleep 2
dv_mem=$($B conns 127.0.0.1 "$DV_PORT" "$USER_NAME" "$PASS" "$CONNS" "$DV_PID")

python3 - "$N" "$CONNS" "$ms_import" "$dv_import" "$ms_ops" "$dv_ops" "$ms_mem" "$dv_mem" <<'EOF2'
import json, sys
n, conns = int(sys.argv[1]), int(sys.argv[2])
mi, di = float(sys.argv[3]), float(sys.argv[4])
mo, do, mm, dm = (json.loads(a) for a in sys.argv[5:9])
for name, o in (("mailstead", mo), ("dovecot", do)):
    if o["exists"] != n or o["hits"] != n // 50:
        sys.exit(f"{name}: {o['exists']} messages, {o['hits']} search hits; expected {n} and {n // 50}")
print()
print(f"IMAP, {n} messages in INBOX; times are medians of warm runs (lower is better)")
print(f"{'':36} {'mailstead':>12} {'dovecot':>12} {'ratio':>8}")
def row(label, m, d, unit, better_low=True):
    ratio = (d / m if better_low else m / d) if m and d else float("nan")
    print(f"{label:36} {m:>10.1f}{unit:2} {d:>10.1f}{unit:2} {ratio:>7.2f}x")
row("APPEND import, 4 sessions (msg/s)", mi, di, "", better_low=False)
for key, label in (("select", "SELECT INBOX"), ("fetch", "FETCH 1:* (FLAGS ENVELOPE)"), ("search", 'UID SEARCH BODY "zanzibar"')):
    row(f"{label} (cold)", mo[key + "_cold"] * 1000, do[key + "_cold"] * 1000, "ms")
    row(label, mo[key] * 1000, do[key] * 1000, "ms")
row(f"RSS per idle connection ({conns})", mm["rss_per_conn"], dm["rss_per_conn"], "Ki")
row(f"PSS per idle connection ({conns})", mm["pss_per_conn"], dm["pss_per_conn"], "Ki")
row(f"connect + LOGIN x{conns} (s)", mm["connect_login_s"], dm["connect_login_s"], "s ")
print(f"ratio = how many times better Mailstead is (dovecot/mailstead; for msg/s mailstead/dovecot)")
print(f"server RSS (KiB) before -> with {conns} connections -> 2 s after closing them: "
      f"mailstead {mm['rss_before']} -> {mm['rss_after']} -> {mm['rss_closed']} (1 process); "
      f"dovecot {dm['rss_before']} -> {dm['rss_after']} -> {dm['rss_closed']} "
      f"({dm['procs_after']} processes, {dm['imap_procs_after']} imap)")
EOF2
