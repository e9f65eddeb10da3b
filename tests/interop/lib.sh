# Shared helpers for the interop scripts: a throw-away Mailstead data directory with ephemeral
# ports, a running server, and a private Postfix instance. Sourced, not run.
# KEEP_WORK=1 keeps the work directory (data, logs, client files) for a look after a failure.

MS=${MAILSTEAD_BIN:-$PWD/target/debug/mailstead}
WORK=$(mktemp -d /tmp/mailstead-interop.XXXXXX)
chmod 755 "$WORK"
DATA=$WORK/data
PIDS=()

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for conf in "$WORK"/*/conf; do
    [ -f "$conf/master.cf" ] && postfix -c "$conf" stop >/dev/null 2>&1 || true
  done
  wait 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    echo "---- server log (last 40 lines) ----"; tail -40 "$WORK/serve.log" 2>/dev/null || true
    for log in "$WORK"/*/postfix.log; do
      [ -f "$log" ] && { echo "---- $log ----"; tail -30 "$log"; }
    done
  fi
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# init a --dev data directory whose listeners all use ephemeral ports.
ms_init() {
  "$MS" init --data "$DATA" --domain example.test --dev >/dev/null
  sed -i -E 's/"127\.0\.0\.1:[0-9]+"/"127.0.0.1:0"/' "$DATA/mailstead.toml"
}

# Start the server and wait for run/ports.json.
ms_start() {
  "$MS" serve --data "$DATA" >>"$WORK/serve.log" 2>&1 &
  PIDS+=($!)
  MS_PID=$!
  for _ in $(seq 100); do
    [ -s "$DATA/run/ports.json" ] && return 0
    sleep 0.05
  done
  fail "server did not start"
}

# mail_log_has PATTERN: whether the mail log gets a line matching PATTERN within 5 s (the server
# writes the log out every 100 ms, not per line).
mail_log_has() {
  for _ in $(seq 100); do grep -q "$1" "$DATA/log/mail.log" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# port SERVICE: the bound port of a service.
port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]].rsplit(":",1)[1])' "$DATA/run/ports.json" "$1"; }

# inbox ADDRESS: prints the INBOX messages of an account, separated by a line "=====".
inbox() { python3 "$(dirname "${BASH_SOURCE[0]}")/mailbox.py" "$DATA" "$1"; }

# postfix_instance NAME MAIN_CF_LINES: a private Postfix in $WORK/NAME listening on
# 127.0.0.1:$PF_PORT (sets PF_PORT and PF_DIR). MAIN_CF_LINES are added to a main.cf that
# already sets the directories, loopback-only networking and the log file.
postfix_instance() {
  local pf=$WORK/$1
  mkdir -p "$pf/conf" "$pf/q" "$pf/data"
  chown postfix "$pf/q" "$pf/data"
  PF_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PF_DIR=$pf
  cat >"$pf/conf/main.cf" <<EOF2
compatibility_level = 3.6
queue_directory = $pf/q
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $pf/postfix.log
maillog_file_prefixes = $pf
alias_maps =
alias_database =
smtputf8_enable = no
$2
EOF2
  cat >"$pf/conf/master.cf" <<EOF2
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
showq     unix  n       -       n       -       -       showq
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
EOF2
  postfix -c "$pf/conf" start >/dev/null 2>&1 || fail "postfix $1 did not start: $(tail -5 "$pf/postfix.log")"
}

# A private Postfix relaying to us: postfix_start RELAYHOST_PORT LMTP_DOMAIN LMTP_PORT -> sets PF_PORT.
postfix_start() {
  postfix_instance postfix "myhostname = relay.remote.test
mydomain = remote.test
myorigin = remote.test
mydestination =
relayhost = [127.0.0.1]:$1
transport_maps = inline:{ $2=lmtp:inet:127.0.0.1:$3 }
local_recipient_maps =
smtp_tls_security_level = may
smtp_tls_CAfile = $DATA/tls/cert.pem"
}

# dns_start: unbound as the only DNS server of the test: the `local-data:` lines on standard
# input are the whole "test." zone (other names under test. are NXDOMAIN), nothing is resolved
# recursively. Sets DNS_PORT (UDP and TCP on 127.0.0.1).
dns_start() {
  # Not a pipe: unbound_start must run in this shell (DNS_PORT, PIDS).
  unbound_start < <(
    echo '  module-config: "iterator"'
    echo '  local-zone: "test." static'
    cat
  )
}

# dns_start_signed [BOGUS_LINES]: unbound as a validating resolver (DNSSEC, the AD bit) for a
# signed "test." zone. Sets DNS_PORT (UDP and TCP on 127.0.0.1).
# Standard input: zone-file lines with absolute owner names ("mx.secure.test. 300 IN A ...").
# - Lines for names under insecure.test. make the zone "insecure.test.", unsigned and delegated
#   from test. without a DS record: its answers are insecure (AD clear), like a domain without
#   DNSSEC below a signed TLD. Its SOA and NS, and the delegation, are added here.
# - Every other line goes into "test." (SOA, NS and DNSKEYs are added here), signed with
#   ldns-signzone with one ECDSA P-256 KSK and one ZSK (NSEC): its answers are secure (AD set
#   for queries that ask with AD or DO, RFC 6840 §5.7; names not in it NXDOMAIN, also secure).
# - BOGUS_LINES are added to "test." after signing: data without signatures, which unbound
#   rejects as bogus (SERVFAIL), proof that it really validates.
# Both zones are `auth-zone`s "for-upstream": unbound does not answer from them as an
# authority, it resolves through them as if they were remote authoritative servers, so the
# validator (`module-config: "validator iterator"`) checks every answer against the KSK given
# as `trust-anchor-file` for test. (the NSEC of the delegation proves insecure.test. has no DS).
# Names outside test. are REFUSED; nothing leaves the machine.
dns_start_signed() {
  local dir=$WORK/dnssec
  mkdir -p "$dir"
  local lines
  lines=$(cat)
  {
    echo '$TTL 300'
    echo 'test. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300'
    echo 'test. IN NS ns.test.'
    echo 'ns.test. IN A 127.0.0.1'
    echo 'insecure.test. IN NS ns.test.'
    grep -Ev '^(\S+\.)?insecure\.test\.\s' <<<"$lines" || true
  } >"$dir/test.unsigned"
  {
    echo '$TTL 300'
    echo 'insecure.test. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300'
    echo 'insecure.test. IN NS ns.test.'
    grep -E '^(\S+\.)?insecure\.test\.\s' <<<"$lines" || true
  } >"$dir/insecure.test.zone"
  local ksk zsk
  ksk=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k test.) || fail "ldns-keygen (KSK)"
  zsk=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 test.) || fail "ldns-keygen (ZSK)"
  (cd "$dir" && ldns-signzone -f test.zone test.unsigned "$ksk" "$zsk") || fail "ldns-signzone"
  [ -z "${1:-}" ] || echo "$1" >>"$dir/test.zone"
  unbound_start < <(
    echo '  module-config: "validator iterator"'
    echo "  trust-anchor-file: \"$dir/$ksk.key\""
    echo '  local-zone: "test." transparent'
    for zone in test insecure.test; do
      cat <<EOF2
auth-zone:
  name: "$zone."
  zonefile: "$dir/$zone.zone"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
EOF2
    done
  )
}

# unbound_start: unbound on 127.0.0.1:$DNS_PORT (a free port) with the configuration lines on
# standard input added to its `server:` clause (they may open more clauses). Every name is
# REFUSED but those the lines open (a `local-zone:` for test.). Returns when test. answers.
unbound_start() {
  DNS_PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  {
    cat <<EOF2
server:
  interface: 127.0.0.1
  port: $DNS_PORT
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$WORK"
  pidfile: ""
  use-syslog: no
  logfile: "$WORK/unbound.log"
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  local-zone: "." refuse
EOF2
    cat
  } >"$WORK/unbound.conf"
  unbound -c "$WORK/unbound.conf" >"$WORK/unbound.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    python3 - "$DNS_PORT" <<'PY' && return 0
import socket, struct, sys
q = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x04test\x00" + struct.pack(">HH", 6, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
try:
    s.recv(4096)
except OSError:
    sys.exit(1)
PY
    sleep 0.1
  done
  fail "unbound did not start: $(cat "$WORK/unbound.out")"
}

# wait_for CMD...: retries a command for up to 15 s.
wait_for() {
  for _ in $(seq 150); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# ms_set SECTION KEY VALUE: sets KEY (a TOML value, written as given) in [SECTION] of the
# data directory's mailstead.toml, whose template lists every option.
ms_set() {
  python3 - "$DATA/mailstead.toml" "$1" "$2" "$3" <<'PY' || fail "ms_set $1.$2"
import re, sys
path, section, key, value = sys.argv[1:]
text = open(path).read()
start = text.index(f"\n[{section}]\n")
end = text.find("\n[", start + 1)
end = len(text) if end < 0 else end
block, n = re.subn(rf"(?m)^{re.escape(key)} = .*$", lambda _: f"{key} = {value}", text[start:end], count=1)
if n != 1:
    sys.exit(f"no {key} in [{section}]")
open(path, "w").write(text[:start] + block + text[end:])
PY
}
