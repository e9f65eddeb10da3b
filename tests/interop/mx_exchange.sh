#!/usr/bin/env bash
# Interop: two Mailstead servers exchanging mail by MX, as two mail hosts on the Internet do.
# A serves a.test on 127.0.0.10, B serves b.test on 127.0.0.20 (TESTING.md: all of 127/8 is
# local, so each has its own "port"), both on the same port number, found through unbound,
# which publishes exactly what `mailstead dns` prints for each (MX, SPF, both DKIM keys,
# DMARC). alice@a.test submits to bob@b.test; B's checks must all pass (SPF for A's outgoing
# address, both DKIM signatures, DMARC); bob answers through B; a message to a user B does not
# have comes back to alice as a DSN; the journals show the journey on both sides.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

PORT=$(python3 -c '
import socket
for port in range(26000, 27000):
    try:
        for ip in ("127.0.0.10", "127.0.0.20"):
            s = socket.socket(); s.bind((ip, port)); s.close()
        print(port); break
    except OSError:
        continue')

# setup NAME DOMAIN IP USER: a server's data directory, listening for SMTP on IP:PORT.
setup() {
  DATA=$WORK/$1
  "$MS" init --data "$DATA" --domain "$2" --hostname "mx.$2" --dev >/dev/null
  sed -i -E 's/"127\.0\.0\.1:[0-9]+"/"127.0.0.1:0"/' "$DATA/mailstead.toml"
  ms_set listen smtp "\"$3:$PORT\""
  ms_set queue mx_port "$PORT"
  ms_set queue source_addresses "[\"$3\"]"
  # The other server arrives over loopback: check it like any Internet host.
  ms_set smtp trusted_networks '[]'
  echo "pw-$4" | "$MS" account add "$4@$2" --password-stdin --data "$DATA" >/dev/null
  "$MS" dns --domain "$2" --data "$DATA" >"$WORK/$1.zone"
}
setup a a.test 127.0.0.10 alice
setup b b.test 127.0.0.20 bob
grep -q "_domainkey.a.test" "$WORK/a.zone" && grep -q "_domainkey.b.test" "$WORK/b.zone" || fail "mailstead dns: no DKIM keys"

dns_start < <(
  cat "$WORK/a.zone" "$WORK/b.zone" | grep -v '^;' | grep . | tr '\t' ' ' \
    | sed -e 's/"v=spf1 mx -all"/"v=spf1 mx -all"/' -e 's/p=quarantine/p=reject/' | sed "s/.*/  local-data: '&'/"
  echo "  local-data: 'mx.a.test. A 127.0.0.10'"
  echo "  local-data: 'mx.b.test. A 127.0.0.20'"
)
ok "unbound publishes both servers' records (MX, SPF, DKIM, DMARC p=reject)"

start() { # start NAME: serve, and remember its pid and data directory
  DATA=$WORK/$1
  ms_set dns nameservers "[\"127.0.0.1:$DNS_PORT\"]"
  ms_start
  eval "PID_$1=$MS_PID"
}
start a
start b
A_SUB=$(DATA=$WORK/a port submission)
B_SUB=$(DATA=$WORK/b port submission)
ok "A (a.test, 127.0.0.10:$PORT) and B (b.test, 127.0.0.20:$PORT) up"

python3 - "$A_SUB" "$B_SUB" <<'PY' || fail "submission"
import smtplib, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
with smtplib.SMTP("127.0.0.1", a) as s:
    s.login("alice@a.test", "pw-alice")
    s.sendmail("alice@a.test", ["bob@b.test"], "From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: hello across\r\n\r\nHi Bob, from A.\r\n")
    s.sendmail("alice@a.test", ["nobody@b.test"], "From: Alice <alice@a.test>\r\nTo: nobody@b.test\r\nSubject: to nobody\r\n\r\nAnyone?\r\n")
PY
ok "alice submitted two messages on A"

box() { python3 tests/interop/mailbox.py "$WORK/$1" "$2"; }
wait_for sh -c "python3 tests/interop/mailbox.py '$WORK/b' bob@b.test | grep -q 'hello across'" || fail "bob did not get the message"
m=$(box b bob@b.test)
for part in "Authentication-Results: mx.b.test" "spf=pass" "smtp.mailfrom=alice@a.test" "dmarc=pass header.from=a.test" "X-Spam-Status: No"; do
  grep -q "$part" <<<"$m" || fail "bob's copy lacks $part: $m"
done
[ "$(grep -c "dkim=pass" <<<"$m")" -ge 2 ] || fail "both DKIM signatures must pass on B: $m"
grep -q "from mx.a.test (\[127.0.0.10\])" <<<"$m" || grep -q "127.0.0.10" <<<"$m" || fail "B did not see A's source address: $m"
ok "B verified A's mail: SPF pass for 127.0.0.10, both DKIM signatures, DMARC pass"

wait_for sh -c "python3 tests/interop/mailbox.py '$WORK/a' alice@a.test | grep -q 'Final-Recipient: rfc822; nobody@b.test'" \
  || fail "no DSN for nobody@b.test"
grep -q "Diagnostic-Code: smtp; 550 5.1.1" <<<"$(box a alice@a.test)" || fail "DSN diagnostic"
ok "B refused nobody@b.test (550 5.1.1) and A returned a DSN to alice"

python3 - "$B_SUB" <<'PY' || fail "bob's reply"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.login("bob@b.test", "pw-bob")
    s.sendmail("bob@b.test", ["alice@a.test"], "From: Bob <bob@b.test>\r\nTo: alice@a.test\r\nSubject: Re: hello across\r\n\r\nHi Alice.\r\n")
PY
wait_for sh -c "python3 tests/interop/mailbox.py '$WORK/a' alice@a.test | grep -q 'Re: hello across'" || fail "alice did not get the reply"
grep -q "dmarc=pass header.from=b.test" <<<"$(box a alice@a.test)" || fail "A did not verify B's reply"
ok "bob's reply verified by A (DMARC pass) and delivered"

t=$("$MS" trace bob@b.test --data "$WORK/a")
grep -q "bob@b.test: sent to mx.b.test" <<<"$t" || fail "A's trace: $t"
t=$("$MS" trace alice@a.test --data "$WORK/b")
grep -q "dmarc=pass" <<<"$t" && grep -q "delivered to bob@b.test" <<<"$t" || fail "B's trace: $t"
ok "trace on A shows the hand-over to mx.b.test; on B the checks and the delivery"
