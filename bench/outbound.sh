#!/usr/bin/env bash
# Outbound benchmark: N messages of 1 KiB submitted over 20 connections, queued, and delivered
# to a Postfix smtp-sink peer — through Mailstead (submission with AUTH on 587, the queue, its
# SMTP client) and, in the same run, through a local Postfix relaying the same load to the same
# sink. Prints messages/s from the first submission to the last message at the sink, and the
# ratio. Every message is durable in the sender's queue before its 250. Not a test: run by
# hand, as root.   bash bench/outbound.sh     BENCH_N=2000 bash bench/outbound.sh
# BENCH_DKIM=0 turns Mailstead's DKIM signing off, for the same work as Postfix (which signs
# nothing here); by default every message gets its Ed25519 and RSA-2048 signatures.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-5000}
SESSIONS=${BENCH_SESSIONS:-20}
cargo build --release --locked -p mailstead >/dev/null
export MAILSTEAD_BIN=$PWD/target/release/mailstead
source tests/interop/lib.sh

SINK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/sink"; chown postfix "$WORK/sink"
# -d: one file per message received, so the script can count arrivals.
smtp-sink -u postfix -d "$WORK/sink/%M." "127.0.0.1:$SINK_PORT" 1000 &
PIDS+=($!)
sink_count() { find "$WORK/sink" -type f | wc -l; }

ms_init
echo pw-bench-1 | "$MS" account add u@example.test --password-stdin --data "$DATA" >/dev/null
sed -i -E 's/^level = .*/level = "warn"/' "$DATA/mailstead.toml"
ms_set relay host "\"127.0.0.1:$SINK_PORT\""
ms_set relay tls '"none"'
ms_set queue max_connections 20
ms_set queue max_per_domain 20
ms_set submission max_messages_per_hour 1000000
ms_set submission max_messages_per_hour_per_ip 1000000
ms_set submission max_recipients_per_hour 1000000
# A benchmark is a burst by design: outbound scoring would (rightly) hold it for review.
ms_set submission hold_threshold 9999
[ "${BENCH_DKIM:-1}" = 0 ] && ms_set submission dkim_sign false
ms_start
SUB=$(port submission)

postfix_instance postfix "myhostname = relay.bench.test
mydestination =
relayhost = [127.0.0.1]:$SINK_PORT
default_destination_concurrency_limit = 20
smtp_tls_security_level = none
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200"
PF_SUB=$PF_PORT

run() { # run PORT AUTH(yes|no): prints messages/s
  local before start end
  before=$(sink_count)
  start=$(date +%s.%N)
  python3 - "$1" "$2" "$N" "$SESSIONS" <<'PY'
import multiprocessing, smtplib, sys
port, auth, n, sessions = int(sys.argv[1]), sys.argv[2] == "yes", int(sys.argv[3]), int(sys.argv[4])
from email.utils import formatdate, make_msgid
text = ("x" * 76 + "\r\n") * 12
def worker(count):
    with smtplib.SMTP("127.0.0.1", port) as s:
        if auth:
            s.login("u@example.test", "pw-bench-1")
        for _ in range(count):
            head = f"From: u@example.test\r\nTo: x@sink.test\r\nSubject: bench\r\nDate: {formatdate()}\r\nMessage-ID: {make_msgid(domain='example.test')}\r\n\r\n"
            s.sendmail("u@example.test", ["x@sink.test"], head + text)
# One process per connection: threads would share one interpreter lock and cap the load.
procs = [multiprocessing.Process(target=worker, args=(n // sessions,)) for _ in range(sessions)]
for p in procs: p.start()
for p in procs: p.join()
PY
  for _ in $(seq 12000); do [ $(( $(sink_count) - before )) -ge $((N / SESSIONS * SESSIONS)) ] && break; sleep 0.05; done
  end=$(date +%s.%N)
  python3 -c "print(f'{$((N / SESSIONS * SESSIONS))/($end-$start):.0f}')"
}

echo "submission -> queue -> smtp-sink: $SESSIONS connections, $N messages of 1 KiB"
m=$(run "$SUB" yes)
p=$(run "$PF_SUB" no)
# The generator straight into the sink: the most this load generator can show on this machine.
c=$(run "$SINK_PORT" no)
printf '%-12s %12s %12s %8s %22s\n' "" mailstead/s postfix/s ratio "ceiling (sink direct)/s"
printf '%-12s %12s %12s %8s %22s\n' 1KiB "$m" "$p" "$(python3 -c "print(f'{$m/$p:.1f}x')")" "$c"
