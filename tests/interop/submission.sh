#!/usr/bin/env bash
# Interop: message submission and DKIM signing against real peers. Python smtplib and msmtp
# submit on 587 (STARTTLS) and 465 (implicit TLS); unbound serves exactly the records
# `mailstead dns` prints; dkimpy (python3-dkim) and `opendkim -t` verify both signatures
# (Ed25519 and RSA) of the local copies and of the queued copies; then the hold of outgoing
# spam with the postmaster's notice, `mailstead trace`, the mail log, and — without --dev —
# the refusal of AUTH before STARTTLS.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh
for tool in unbound msmtp opendkim; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
/usr/bin/python3 -c 'import dkim, dns.resolver, nacl' 2>/dev/null \
  || fail "dkimpy with Ed25519 support (python3-dkim, python3-dnspython, python3-nacl) is not installed"

ms_init
PW=pw-alice-submit-1
echo "$PW" | "$MS" account add alice@example.test --password-stdin --data "$DATA" >/dev/null
echo "pw-bob-submit-1" | "$MS" account add bob@example.test --password-stdin --data "$DATA" >/dev/null
"$MS" alias add sales@example.test alice@example.test --data "$DATA" >/dev/null
"$MS" alias add postmaster@example.test bob@example.test --data "$DATA" >/dev/null

# The records to publish, as printed, are the test zone; remote.test's MX refuses connections.
"$MS" dns --data "$DATA" >"$WORK/zone.txt"
grep -q $'^ms[0-9]\\{6\\}e._domainkey.example.test.\t3600\tIN\tTXT\t"v=DKIM1; k=ed25519; p=' "$WORK/zone.txt" \
  || fail "mailstead dns prints no Ed25519 key: $(cat "$WORK/zone.txt")"
grep -q '_dmarc.example.test.*"v=DMARC1; p=quarantine' "$WORK/zone.txt" || fail "mailstead dns prints no DMARC"
ok "mailstead dns prints MX, SPF, two DKIM keys and DMARC"
dns_start < <(
  grep -v '^;' "$WORK/zone.txt" | grep . | tr '\t' ' ' | sed "s/.*/  local-data: '&'/"
  echo "  local-data: 'remote.test. MX 10 mx.remote.test.'"
  echo "  local-data: 'mx.remote.test. A 127.0.0.99'"
)
ok "unbound serves the published records on port $DNS_PORT"
ms_set dns nameservers "[\"127.0.0.1:$DNS_PORT\"]"
ms_start
SUB=$(port submission)
SUBS=$(port submissions)
ok "server up: submission $SUB, submissions $SUBS"

python3 tests/interop/submission_clients.py "$DATA" "$SUB" "$SUBS" "$PW" "$WORK/sent-465.eml"

# msmtp, the sendmail-style client, on both ports.
cat >"$WORK/msmtprc" <<EOF2
defaults
tls on
tls_trust_file $DATA/tls/cert.pem
auth on
user alice@example.test
password $PW
from alice@example.test
logfile $WORK/msmtp.log
account sub587
host localhost
port $SUB
tls_starttls on
account sub465
host localhost
port $SUBS
tls_starttls off
EOF2
chmod 600 "$WORK/msmtprc"
for acct in sub587 sub465; do
  printf 'From: alice@example.test\nTo: bob@example.test, carol@remote.test\nSubject: msmtp %s\n\nsent by msmtp\n' "$acct" \
    | msmtp -C "$WORK/msmtprc" -a "$acct" bob@example.test carol@remote.test || fail "msmtp $acct: $(tail -3 "$WORK/msmtp.log")"
done
ok "msmtp submits on 587 (STARTTLS) and 465 (implicit TLS)"

# split_messages PREFIX: mailbox.py output on stdin -> PREFIX-N.eml files (queue title lines
# dropped), their names on stdout.
split_messages() {
  python3 -c '
import sys
prefix = sys.argv[1]
parts = [p for p in sys.stdin.buffer.read().split(b"=====\n") if p.strip()]
for i, m in enumerate(parts, 1):
    if m.startswith(b"queue "):
        m = m.split(b"\n", 1)[1]
    with open(f"{prefix}-{i}.eml", "wb") as f:
        f.write(m)
    print(f"{prefix}-{i}.eml")' "$1"
}

# Local copies: bob's INBOX has every submitted message once, signed; nothing forged.
bob=$(inbox bob@example.test)
for s in "smtplib 587" "as an alias" "smtplib 465" "msmtp sub587" "msmtp sub465"; do
  grep -q "Subject: $s" <<<"$bob" || fail "bob's INBOX lacks '$s'"
done
grep -q "Subject: forged" <<<"$bob" && fail "a message with another account's From was delivered"
grep -q "with ESMTPSA id" <<<"$bob" || fail "no ESMTPSA Received field"
mapfile -t local_copies < <(inbox bob@example.test | split_messages "$WORK/local")
python3 - "$WORK/sent-465.eml" "${local_copies[@]}" <<'PY' || fail "the 465 message did not get Date and Message-ID"
import sys
for path in sys.argv[2:]:
    m = open(path, "rb").read()
    if b"Subject: smtplib 465" in m:
        assert b"\r\nMessage-ID: <" in m and b"@localhost>" in m and b"\r\nDate: " in m, m[:600]
        sys.exit(0)
sys.exit(1)
PY
ok "local copies delivered at once, with an authenticated Received field; Date and Message-ID added"

# Queued copies: one entry per message with a remote recipient.
mapfile -t queued < <(python3 tests/interop/mailbox.py "$DATA" --queue | split_messages "$WORK/queued")
[ "${#queued[@]}" = 4 ] || fail "expected 4 queued messages, found ${#queued[@]}"
python3 tests/interop/mailbox.py "$DATA" --queue | grep -q "held=1" && fail "a normal message was held"
ok "messages for carol@remote.test wait in the outbound queue, not held"

# DKIM: dkimpy and opendkim verify both signatures of every copy against the test zone.
/usr/bin/python3 tests/interop/dkim_check.py "$DNS_PORT" "${local_copies[@]}" "${queued[@]}"
cat >"$WORK/opendkim-resolver.conf" <<EOF2
server:
  do-not-query-localhost: no
  local-zone: "test." nodefault
forward-zone:
  name: "test."
  forward-addr: 127.0.0.1@$DNS_PORT
EOF2
cat >"$WORK/opendkim.conf" <<EOF2
Mode v
Syslog no
ResolverConfiguration $WORK/opendkim-resolver.conf
EOF2
# opendkim -t reports on the first signature (Ed25519); without it, on the RSA one. It exits 0
# even on failure: the verdict is in its output.
opendkim_verify() { opendkim -x "$WORK/opendkim.conf" -t "$1" 2>&1 || true; }
without_first_signature() {
  python3 -c '
import re, sys
m = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(re.sub(rb"DKIM-Signature: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*", b"", m, count=1))' "$1"
}
for m in "${local_copies[@]}" "${queued[@]}"; do
  out=$(opendkim_verify "$m")
  grep -q "verification (s=ms[0-9]*e,\? d=example.test, .*) succeeded" <<<"$out" || fail "opendkim -t $m (Ed25519): $out"
  without_first_signature "$m" >"$m.rsa"
  out=$(opendkim_verify "$m.rsa")
  grep -q "verification (s=ms[0-9]*r,\? d=example.test, 2048-bit key.*) succeeded" <<<"$out" || fail "opendkim -t $m (RSA): $out"
done
ok "opendkim -t verifies the Ed25519 and the RSA signature of every copy"
# A changed body fails both verifiers (the checks above can fail).
sed 's/this is smtplib 587/this is smtplib 588/' "${queued[0]}" >"$WORK/tampered.eml"
cmp -s "${queued[0]}" "$WORK/tampered.eml" && fail "tampering did not change the message"
/usr/bin/python3 tests/interop/dkim_check.py "$DNS_PORT" "$WORK/tampered.eml" >/dev/null 2>&1 && fail "dkimpy accepted a changed body"
opendkim_verify "$WORK/tampered.eml" | grep -q "succeeded" && fail "opendkim accepted a changed body"
ok "a changed body fails dkimpy and opendkim"

# Outgoing spam is held, local copies are not, and the postmaster is told.
python3 - "$DATA" "$SUBS" "$PW" <<'PY' >"$WORK/held-id" || fail "GTUBE submission"
import os, smtplib, ssl, sys
data, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem"))
with smtplib.SMTP_SSL("localhost", port, context=ctx, timeout=30) as s:
    s.login("alice@example.test", pw)
    s.mail("alice@example.test")
    s.rcpt("carol@remote.test")
    code, text = s.data(b"From: alice@example.test\r\nTo: carol@remote.test\r\nSubject: held spam\r\n\r\n"
                        b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
    assert code == 250, (code, text)
    print(text.decode().rsplit(" ", 1)[1])
PY
HELD=$(cat "$WORK/held-id")
python3 tests/interop/mailbox.py "$DATA" --queue | grep -q "queue $HELD held=1" || fail "GTUBE message not held"
inbox bob@example.test | grep -q "Subject: Outgoing message from alice@example.test held for review ($HELD)" \
  || fail "no hold notice in the postmaster's INBOX"
ok "outgoing spam held in the queue; postmaster@ told"

sleep 0.5 # the journal is written after the reply
t=$("$MS" trace "$HELD" --data "$DATA")
grep -q "submission.hold" <<<"$t" && grep -q "=> held for review (outbound spam score [0-9.]*), not sent to carol@remote.test" <<<"$t" || fail "trace of the hold: $t"
t=$("$MS" trace carol@remote.test --data "$DATA")
grep -q "dkim.sign" <<<"$t" && grep -Eq "=> delivered to bob@example.test; (queued for carol@remote.test|carol@remote.test: )" <<<"$t" \
  || fail "trace of a submission: $t"
ok "mailstead trace shows signing, queueing and the hold"
mail_log_has "status=queued" && mail_log_has "auth=alice@example.test" \
  || fail "mail log lacks submissions"
ok "mail log"

# Without --dev: no AUTH before STARTTLS, even on loopback.
kill -TERM "$MS_PID"
wait_for sh -c "! kill -0 $MS_PID" || fail "server did not stop"
ms_set server dev false
ms_start
python3 - "$DATA" "$(port submission)" "$PW" <<'PY' || fail "AUTH before TLS without --dev"
import os, smtplib, ssl, sys
data, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with smtplib.SMTP("localhost", port, timeout=30) as s:
    s.ehlo()
    assert not s.has_extn("auth"), s.esmtp_features
    code, text = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(f"\0alice@example.test\0{pw}".encode()).decode())
    assert code == 530 and b"STARTTLS" in text, (code, text)
    s.starttls(context=ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem")))
    s.ehlo()
    s.login("alice@example.test", pw)
PY
ok "without --dev, AUTH needs STARTTLS first (530 5.7.0), then works"
