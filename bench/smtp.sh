#!/usr/bin/env bash
# SMTP-in benchmark: Postfix's smtp-source (20 sessions) sends N messages of 1 KiB and of
# 100 KiB to Mailstead and, in the same run, to a local Postfix delivering to Maildir (also
# fsynced before its 250). Prints messages/s and the ratio. Not a test: run by hand, as root.
# Each size is measured ROUNDS times, alternating the two servers, after a warm-up of both,
# each run starting on a quiet disk (sync); the medians are shown, the ratio of each round, and
# on standard error each round's figures with the CPU the hypervisor withheld meanwhile (steal;
# over 5% gets a warning: such a round understates both servers).
#   bash bench/smtp.sh            (N=5000)    BENCH_N=2000 BENCH_ROUNDS=1 bash bench/smtp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-5000}
SESSIONS=${BENCH_SESSIONS:-20}
ROUNDS=${BENCH_ROUNDS:-5}
cargo build --release --locked -p mailstead >/dev/null
export MAILSTEAD_BIN=$PWD/target/release/mailstead
source tests/interop/lib.sh

ms_init
"$MS" domain add bench.test --data "$DATA" >/dev/null
echo pw-bench-1 | "$MS" account add u@bench.test --password-stdin --data "$DATA" >/dev/null
sed -i -E 's/^level = .*/level = "warn"/' "$DATA/mailstead.toml"
sed -i -E "s/^max_connections_per_ip = .*/max_connections_per_ip = 200/" "$DATA/mailstead.toml"
ms_start
SMTP=$(port smtp)

# Postfix: accepts mail for bench.test into a Maildir via virtual(8).
pf=$WORK/postfix
mkdir -p "$pf/conf" "$pf/q" "$pf/data" "$pf/maildir"
chown postfix "$pf/q" "$pf/data" "$pf/maildir"
PF_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PF_UID=$(id -u postfix); PF_GID=$(id -g postfix)
cat >"$pf/conf/main.cf" <<EOF2
compatibility_level = 3.6
queue_directory = $pf/q
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.local
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $pf/postfix.log
maillog_file_prefixes = $pf
alias_maps =
alias_database =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $pf/maildir
virtual_mailbox_maps = inline:{ u@bench.test=u/ }
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_minimum_uid = 1
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
EOF2
sed -n '/^pickup/,$p' tests/interop/lib.sh | sed -n '1,/^EOF2/p' | grep -v EOF2 >"$pf/conf/master.cf.tail"
{ echo "127.0.0.1:$PF_PORT inet n - n - - smtpd"; cat "$pf/conf/master.cf.tail";
  echo "virtual   unix  -       n       n       -       -       virtual"; } >"$pf/conf/master.cf"
rm "$pf/conf/master.cf.tail"
postfix -c "$pf/conf" start >/dev/null 2>&1 || fail "postfix start"
count_maildir() { find "$pf/maildir/u/new" -type f 2>/dev/null | wc -l; }
count_mailstead() { sqlite3_count; }
sqlite3_count() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from messages").fetchone()[0])' "$DATA/mailstead.db"; }

busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }
steal_ticks() { awk '/^cpu / {print $9}' /proc/stat; }
run() { # run NAME PORT SIZE COUNTER -> "messages/s cpu-ms-per-message steal-%" (CPU: whole
  # machine, load tool included, so both servers carry the same overhead; steal: the share of
  # CPU time the hypervisor withheld meanwhile, which slows a run without showing in its CPU)
  local before after start end b0 b1 s0 s1
  # Start on a quiet disk: neither server pays for the other's leftover writeback.
  sync
  before=$($4)
  b0=$(busy_ticks); s0=$(steal_ticks)
  start=$(date +%s.%N)
  smtp-source -s "$SESSIONS" -m "$N" -l "$3" -f sender@remote.test -t u@bench.test "127.0.0.1:$2"
  # The clock stops when every message is stored. Mailstead answers 250 only once a message
  # is durable, so that is when smtp-source ends (the count below only checks it). Postfix
  # acknowledges at queue time and delivers afterwards: its clock runs on until the count
  # finds all in Maildir, stopped just before that count (so the count's own time, a Python
  # start or a directory walk, is never charged to either server).
  end=$(date +%s.%N); b1=$(busy_ticks); after=$($4)
  for _ in $(seq 6000); do
    [ $((after - before)) -ge "$N" ] && break
    sleep 0.02
    end=$(date +%s.%N); b1=$(busy_ticks); after=$($4)
  done
  [ $((after - before)) -ge "$N" ] || fail "only $((after - before)) of $N messages were stored"
  s1=$(steal_ticks)
  python3 -c "print(f'{$N/($end-$start):.0f} {($b1-$b0)*1000/$(getconf CLK_TCK)/$N:.2f} {100*($s1-$s0)/max(1,$b1-$b0+$s1-$s0):.0f}')"
}

# The load tool's own ceiling: smtp-source against servers that store nothing. No server can
# show more than this here, so it bounds the ratio this script can measure. Two of them, as
# neither is fastest at both sizes: Postfix's smtp-sink (one process, cheapest per
# connection, but at 100 KiB its small reads make it the bottleneck) and bench/null_sink.rs
# (a thread per connection from a pool, 256 KiB reads). The higher rate is the ceiling.
SINK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 1000 &
PIDS+=("$!")
NULL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rustc -O --edition 2024 -o "$WORK/null_sink" bench/null_sink.rs
"$WORK/null_sink" "127.0.0.1:$NULL_PORT" $((SESSIONS * 2)) &
PIDS+=("$!")
sleep 0.3
sink_rate() { # sink_rate PORT SIZE
  local start end
  start=$(date +%s.%N)
  smtp-source -s "$SESSIONS" -m "$N" -l "$2" -f sender@remote.test -t u@bench.test "127.0.0.1:$1"
  end=$(date +%s.%N)
  python3 -c "print(f'{$N/($end-$start):.0f}')"
}
ceiling() { # ceiling SIZE -> "rate (which sink)"
  local a b
  a=$(sink_rate "$SINK_PORT" "$1"); b=$(sink_rate "$NULL_PORT" "$1")
  echo "ceiling: smtp-sink $a/s null_sink $b/s" >&2
  if [ "$a" -ge "$b" ]; then echo "$a (smtp-sink)"; else echo "$b (null_sink)"; fi
}

median() { python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }

# Warm-up, the same for both: Postfix forks its smtpd processes on demand and both servers'
# caches start cold. Not counted.
WARM=$((N / 5))
smtp-source -s "$SESSIONS" -m "$WARM" -l 1024 -f sender@remote.test -t u@bench.test "127.0.0.1:$SMTP"
smtp-source -s "$SESSIONS" -m "$WARM" -l 1024 -f sender@remote.test -t u@bench.test "127.0.0.1:$PF_PORT"
for _ in $(seq 600); do [ "$(count_maildir)" -ge "$WARM" ] && break; sleep 0.05; done

echo "smtp-source: $SESSIONS sessions, $N messages per size and round, $ROUNDS rounds (medians shown);"
echo "every message fsynced before it counts"
echo "cpu ms/msg: busy CPU of the whole machine (both cores, smtp-source included) per message"
printf '%-8s %12s %12s %8s %12s %12s %8s %22s   %s\n' size mailstead/s postfix/s ratio "ms cpu/msg" "pf ms/msg" "cpu" "ceiling (stores nothing)/s" "ratio per round"
for size in 1024 102400; do
  ms=(); mcs=(); ps=(); pcs=(); rounds=()
  for _ in $(seq "$ROUNDS"); do
    r=$(run mailstead "$SMTP" $size sqlite3_count); read -r rate cpu msteal <<<"$r"; ms+=("$rate"); mcs+=("$cpu")
    r=$(run postfix "$PF_PORT" $size count_maildir); read -r rate cpu psteal <<<"$r"; ps+=("$rate"); pcs+=("$cpu")
    rounds+=("$(python3 -c "print(f'{${ms[-1]}/${ps[-1]}:.1f}x')")")
    echo "round: mailstead ${ms[-1]}/s ${mcs[-1]}ms steal ${msteal}% postfix ${ps[-1]}/s ${pcs[-1]}ms steal ${psteal}%" >&2
    if [ "$msteal" -gt 5 ] || [ "$psteal" -gt 5 ]; then
      echo "warning: the hypervisor withheld over 5% of the CPU in this round; its figures understate both servers" >&2
    fi
  done
  m=$(median "${ms[@]}"); mc=$(median "${mcs[@]}"); p=$(median "${ps[@]}"); pc=$(median "${pcs[@]}")
  c=$(ceiling $size)
  printf '%-8s %12.0f %12.0f %8s %12.2f %12.2f %8s %22s   %s\n' "$((size/1024))KiB" "$m" "$p" "$(python3 -c "print(f'{$m/$p:.1f}x')")" \
    "$mc" "$pc" "$(python3 -c "print(f'{$pc/$mc:.1f}x')")" "$c" "${rounds[*]}"
done
