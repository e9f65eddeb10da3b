#!/usr/bin/env bash
# Interop: the outbound queue against Postfix peers, routed by a real DNS server (unbound).
# A local alias forwards to three addresses at remote.test, whose MX is a Postfix that accepts
# one, defers one (450) and refuses one (550): the accepted copy lands in Postfix's Maildir,
# the refusal comes back to the local sender as a DSN, the deferral waits in the queue
# (`mailstead queue list`) until Postfix accepts it and `mailstead queue retry` sends it.
# Mail for relayed.test goes through a second Postfix configured as the smart host (STARTTLS,
# certificate verified, AUTH PLAIN against Dovecot SASL). Then
# `mailstead trace` explains each outcome, and a kill -9 during a burst loses nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

# The receiving Postfix for remote.test: Maildir delivery, per-recipient verdicts.
PF_UID=$(id -u postfix); PF_GID=$(id -g postfix)
postfix_instance remote "myhostname = mx.remote.test
mydestination =
virtual_mailbox_domains = remote.test
virtual_mailbox_base = $WORK/remote/maildir
virtual_mailbox_maps = inline:{ ok@remote.test=ok/ defer@remote.test=defer/ refuse@remote.test=refuse/ burst@remote.test=burst/ hidden@remote.test=hidden/ }
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_minimum_uid = 1
smtpd_recipient_restrictions = check_recipient_access texthash:$WORK/remote/conf/verdicts, permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0"
REMOTE_PORT=$PF_PORT
mkdir -p "$WORK/remote/maildir"; chown postfix "$WORK/remote/maildir"
printf 'defer@remote.test 450 4.2.0 <defer@remote.test>: mailbox busy, try later\nrefuse@remote.test 550 5.1.1 <refuse@remote.test>: Recipient address rejected: User unknown\n' \
  >"$WORK/remote/conf/verdicts"
postfix -c "$WORK/remote/conf" reload >/dev/null 2>&1
ok "Postfix for remote.test on port $REMOTE_PORT"

# The smart host for relayed.test: a Postfix with STARTTLS (a certificate for smarthost.test,
# which Mailstead checks against [queue] extra_ca_file) that takes relayed.test into its own
# Maildir.
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Test CA" -keyout "$WORK/ca-key.pem" -out "$WORK/ca.pem"
  openssl req -newkey rsa:2048 -nodes -subj /CN=smarthost.test -keyout "$WORK/relay-key.pem" -out "$WORK/relay.csr"
  printf 'subjectAltName=DNS:smarthost.test\nbasicConstraints=CA:FALSE\n' >"$WORK/relay-ext.cnf"
  openssl x509 -req -in "$WORK/relay.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca-key.pem" -CAcreateserial -days 2 \
    -extfile "$WORK/relay-ext.cnf" -out "$WORK/relay-cert.pem"
} >/dev/null 2>&1 || fail "openssl could not make the smart host's certificate"
chmod 644 "$WORK/relay-key.pem"
postfix_instance relay "myhostname = smarthost.test
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_cert_file = $WORK/relay-cert.pem
smtpd_tls_key_file = $WORK/relay-key.pem
mydestination =
virtual_mailbox_domains = relayed.test
virtual_mailbox_base = $WORK/relay/maildir
virtual_mailbox_maps = inline:{ carol@relayed.test=carol/ }
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_minimum_uid = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_tls_auth_only = yes
smtpd_recipient_restrictions = permit_sasl_authenticated, reject"
RELAY_PORT=$PF_PORT
mkdir -p "$WORK/relay/maildir" "$WORK/relay/q/private" "$WORK/sasl/run"; chown postfix "$WORK/relay/maildir"
# Its SASL server: a private Dovecot auth service with one user, on the socket Postfix asks.
echo "relayuser@smarthost.test:{PLAIN}relay-secret-7::::::" >"$WORK/sasl/passwd"
cat >"$WORK/sasl/dovecot.conf" <<EOF2
base_dir = $WORK/sasl/run
state_dir = $WORK/sasl/run
log_path = $WORK/sasl/dovecot.log
protocols =
ssl = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = $WORK/sasl/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $WORK/relay/q/private/auth {
    mode = 0660
    user = postfix
  }
}
EOF2
dovecot -c "$WORK/sasl/dovecot.conf" -F >>"$WORK/sasl/stdout" 2>&1 &
PIDS+=($!)
wait_for test -S "$WORK/relay/q/private/auth" || fail "dovecot auth did not start: $(cat "$WORK/sasl/stdout" "$WORK/sasl/dovecot.log" 2>/dev/null)"
ok "Postfix smart host on port $RELAY_PORT (STARTTLS, AUTH required: Dovecot SASL)"

dns_start <<EOF
  local-data: 'remote.test. MX 10 mx.remote.test.'
  local-data: 'mx.remote.test. A 127.0.0.1'
  local-data: 'nullmx.test. MX 0 .'
  local-data: 'smarthost.test. A 127.0.0.1'
EOF

ms_init
echo "pw-alice-1" | "$MS" account add alice@example.test --password-stdin --data "$DATA" >/dev/null
"$MS" alias add out@example.test ok@remote.test defer@remote.test refuse@remote.test --data "$DATA" >/dev/null
"$MS" alias add relayout@example.test carol@relayed.test --data "$DATA" >/dev/null
"$MS" alias add burst@example.test burst@remote.test --data "$DATA" >/dev/null
ms_set server hostname '"mx.example.test"'
ms_set dns nameservers "[\"127.0.0.1:$DNS_PORT\"]"
ms_set queue mx_port "$REMOTE_PORT"
ms_set queue retry_first_secs 3600
ms_set relay host "\"smarthost.test:$RELAY_PORT\""
ms_set relay tls '"starttls"'
ms_set relay domains '["relayed.test"]'
ms_set relay username '"relayuser@smarthost.test"'
echo "relay-secret-7" >"$DATA/relay-password"
ms_set relay password_file '"relay-password"'
cp "$WORK/ca.pem" "$DATA/relay-ca.pem"
ms_set queue extra_ca_file '"relay-ca.pem"'
"$MS" check-config --data "$DATA" >/dev/null || fail "config"
ms_start
SMTP=$(port smtp)
ok "server up: smtp $SMTP"

maildir_count() { find "$WORK/$1/maildir/$2/new" -type f 2>/dev/null | wc -l; }

swaks --server 127.0.0.1:$SMTP --from alice@example.test --to out@example.test \
  --header "Subject: three ways" --silent 2 || fail "swaks to out@"
wait_for sh -c "[ \$(find '$WORK/remote/maildir/ok/new' -type f 2>/dev/null | wc -l) -ge 1 ]" \
  || fail "ok@remote.test did not receive the forward"
grep -q "Subject: three ways" "$WORK"/remote/maildir/ok/new/* || fail "wrong message at ok@"
ok "forwarded copy delivered by MX to Postfix (Maildir)"

wait_for sh -c "python3 tests/interop/mailbox.py '$DATA' alice@example.test | grep -q 'Final-Recipient: rfc822; refuse@remote.test'" \
  || fail "no DSN for refuse@remote.test in alice's INBOX"
dsn=$(python3 tests/interop/mailbox.py "$DATA" alice@example.test)
grep -q "Diagnostic-Code: smtp; 550 5.1.1 <refuse@remote.test>" <<<"$dsn" || fail "DSN diagnostic: $dsn"
grep -q "Remote-MTA: dns; mx.remote.test" <<<"$dsn" || fail "DSN Remote-MTA: $dsn"
grep -q "Subject: three ways" <<<"$dsn" || fail "DSN does not return the message: $dsn"
grep -q "Final-Recipient: rfc822; defer@remote.test" <<<"$dsn" && fail "a young deferral must not bounce"
ok "550 from Postfix: RFC 3464 DSN delivered to the local sender"

list=$("$MS" queue list --data "$DATA")
grep -q "defer@remote.test" <<<"$list" && grep -q "450 4.2.0" <<<"$list" || fail "queue list: $list"
qid=$(awk 'NR==1 {print $1}' <<<"$list")
ok "deferred recipient waits in the queue ($qid)"

: >"$WORK/remote/conf/verdicts"
postfix -c "$WORK/remote/conf" reload >/dev/null 2>&1
"$MS" queue retry "$qid" --data "$DATA" >/dev/null
wait_for sh -c "[ \$(find '$WORK/remote/maildir/defer/new' -type f 2>/dev/null | wc -l) -ge 1 ]" \
  || fail "the retried recipient was not delivered"
wait_for sh -c "'$MS' queue list --data '$DATA' | grep -q 'queue is empty'" || fail "queue not empty after retry"
ok "queue retry: delivered once Postfix accepts"

t=$("$MS" trace "$qid" --data "$DATA")
grep -q "ok@remote.test: sent to mx.remote.test" <<<"$t" || fail "trace (sent): $t"
grep -q "refuse@remote.test: bounced, rejected by mx.remote.test: 550 5.1.1" <<<"$t" || fail "trace (bounced): $t"
grep -q "address does not exist" <<<"$t" || fail "trace explanation: $t"
grep -q "outbound.attempt" <<<"$t" || fail "trace attempts: $t"
ok "mailstead trace: each recipient's fate with a plain reason"

swaks --server 127.0.0.1:$SMTP --from alice@example.test --to relayout@example.test \
  --header "Subject: via the smart host" --silent 2 || fail "swaks to relayout@"
wait_for sh -c "[ \$(find '$WORK/relay/maildir/carol/new' -type f 2>/dev/null | wc -l) -ge 1 ]" \
  || fail "the smart host did not receive mail for relayed.test"
grep -q "TLS connection established from localhost" "$WORK/relay/postfix.log" \
  || fail "the smart host saw no TLS: $(tail -5 "$WORK/relay/postfix.log")"
grep -q "sasl_method=PLAIN, sasl_username=relayuser@smarthost.test" "$WORK/relay/postfix.log" \
  || fail "the smart host saw no AUTH: $(tail -5 "$WORK/relay/postfix.log")"
ok "mail for relayed.test goes through the smart host: STARTTLS with its certificate checked, then AUTH PLAIN"

# sendmail, as applications call it: the binary under the name `sendmail`, -t with Bcc.
ln -s "$MS" "$WORK/sendmail"
printf 'From: App <app@example.test>\nTo: alice@example.test, ok@remote.test\nBcc: hidden@remote.test\nSubject: from sendmail -t\n\n.leading dot stays\nbye\n' \
  | MAILSTEAD_DATA="$DATA" "$WORK/sendmail" -t -i -f app@example.test || fail "sendmail -t exited $?"
wait_for sh -c "python3 tests/interop/mailbox.py '$DATA' alice@example.test | grep -q 'from sendmail -t'" \
  || fail "sendmail: local copy not delivered"
wait_for sh -c "[ \$(find '$WORK/remote/maildir/hidden/new' -type f 2>/dev/null | wc -l) -ge 1 ]" || fail "sendmail: Bcc recipient"
grep -q "Bcc:" "$WORK"/remote/maildir/hidden/new/* && fail "sendmail -t left the Bcc header in"
grep -q "^\.leading dot stays" "$WORK"/remote/maildir/hidden/new/* || fail "sendmail -i: dot line"
inbox_now=$(python3 tests/interop/mailbox.py "$DATA" alice@example.test)
grep -q "^Message-ID: <" <<<"$inbox_now" || fail "sendmail: no Message-ID added"
grep -q "^DKIM-Signature: v=1; a=ed25519-sha256; s=ms" <<<"$inbox_now" || fail "sendmail: not DKIM-signed"
ok "sendmail -t -i (invoked as sendmail): local and remote recipients, Bcc removed, Message-ID added, DKIM-signed"
out=$(printf 'Subject: x\n\nx\n' | "$MS" sendmail --data "$DATA" 2>&1) && fail "sendmail without recipients succeeded"
[ $? -ne 0 ] && grep -q "no recipients" <<<"$out" || fail "sendmail without recipients: $out"
ok "sendmail without recipients: usage error"

# kill -9 in the middle of delivering a burst: every message reaches the remote after the
# restart. The remote is down while the burst is queued, then comes back, and the server is
# killed once the first copies have arrived.
N=40
postfix -c "$WORK/remote/conf" stop >/dev/null 2>&1
python3 - "$SMTP" "$N" <<'PY' || fail "burst"
import smtplib, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
with smtplib.SMTP("127.0.0.1", port) as s:
    for i in range(n):
        s.sendmail("alice@example.test", ["burst@example.test"], f"Subject: burst {i}\r\nMessage-ID: <burst{i}@example.test>\r\n\r\nn {i}\r\n")
PY
wait_for sh -c "[ \$('$MS' queue list --data '$DATA' | grep -c 'retry in') -ge $N ]" || fail "burst not deferred while the remote is down"
postfix -c "$WORK/remote/conf" start >/dev/null 2>&1
"$MS" queue retry --all --data "$DATA" >/dev/null
for _ in $(seq 400); do [ "$(maildir_count remote burst)" -ge 3 ] && break; sleep 0.02; done
kill -9 "$MS_PID"
wait "$MS_PID" 2>/dev/null || true
sent_before=$(maildir_count remote burst)
ms_start
"$MS" queue retry --all --data "$DATA" >/dev/null
wait_for sh -c "[ \$(find '$WORK/remote/maildir/burst/new' -type f 2>/dev/null | wc -l) -ge $N ]" \
  || fail "after kill -9 and restart only $(maildir_count remote burst) of $N arrived"
wait_for sh -c "'$MS' queue list --data '$DATA' | grep -q 'queue is empty'" || fail "queue not empty after the burst"
got=$(maildir_count remote burst)
unique=$(grep -h "^Subject: burst" "$WORK"/remote/maildir/burst/new/* | sort -u | wc -l)
[ "$unique" -eq "$N" ] || fail "$unique distinct of $N burst messages arrived"
# A copy the remote had taken but whose 250 had not reached us when we died is sent again
# (RFC 5321 §6.1): at most one per session open at the kill (4 per destination). A recipient
# whose 250 we had read is recorded before the session ends, so it is never sent twice.
[ $((got - unique)) -le 4 ] || fail "$((got - unique)) copies sent twice: more than the sessions open at the kill"
ok "kill -9 during delivery ($sent_before of $N out before the kill): all $N arrived, $((got - unique)) sent twice (sessions in flight)"

kill "$MS_PID"; wait "$MS_PID" 2>/dev/null || true
set +e
printf 'Subject: x\n\nx\n' | "$MS" sendmail --data "$DATA" alice@example.test 2>"$WORK/sendmail.err"
rc=$?
set -e
[ "$rc" -eq 75 ] && grep -q "is \`mailstead serve\` running" "$WORK/sendmail.err" || fail "sendmail with the server down: exit $rc, $(cat "$WORK/sendmail.err")"
ok "sendmail with the server down: exit 75 (try later) and a clear message"
