#!/usr/bin/env bash
# Interop: SMTP in (port 25) and LMTP against real peers — Python smtplib (plain, STARTTLS,
# hostile raw dialogs), swaks (plain, STARTTLS, pipelining, refusals), msmtp, Postfix relaying
# to us as its relayhost (with STARTTLS and CHUNKING) and Postfix delivering to us over LMTP —
# then checks the mailboxes and `mailstead trace`.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

ms_init
"$MS" domain add lmtp.test --data "$DATA" >/dev/null
for a in alice@example.test bob@example.test carol@lmtp.test; do
  echo "password-of-$a" | "$MS" account add "$a" --password-stdin --data "$DATA" >/dev/null
done
"$MS" alias add team@example.test alice@example.test bob@example.test --data "$DATA" >/dev/null
ms_start
SMTP=$(port smtp)
LMTP=$(port lmtp)
ok "server up: smtp $SMTP, lmtp $LMTP"

python3 tests/interop/smtp_clients.py "$DATA" "$SMTP"

# swaks
swaks --server 127.0.0.1:$SMTP --from s@remote.test --to alice@example.test --helo swaks.remote.test \
  --header "Subject: swaks plain" --silent 2 || fail "swaks plain"
ok "swaks plain"
swaks --server 127.0.0.1:$SMTP --from s@remote.test --to bob@example.test --tls \
  --header "Subject: swaks starttls" --silent 2 || fail "swaks --tls"
ok "swaks STARTTLS"
swaks --server 127.0.0.1:$SMTP --from s@remote.test --to team@example.test --pipeline \
  --header "Subject: swaks pipeline" --silent 2 || fail "swaks --pipeline"
ok "swaks PIPELINING to an alias"
out=$(swaks --server 127.0.0.1:$SMTP --from s@remote.test --to ghost@example.test 2>&1 || true)
grep -q "550 5.1.1" <<<"$out" || fail "swaks unknown user: $out"
ok "swaks: unknown user gets 550 5.1.1"
out=$(swaks --server 127.0.0.1:$SMTP --from s@remote.test --to someone@gmail.example 2>&1 || true)
grep -q "554 5.7.1" <<<"$out" || fail "swaks relay: $out"
ok "swaks: relaying refused with 554 5.7.1"
out=$(swaks --server 127.0.0.1:$SMTP --from s@remote.test --to alice@example.test --quit-after RCPT 2>&1) || fail "quit-after"
grep -q "221" <<<"$out" || fail "swaks --quit-after RCPT: $out"
ok "swaks --quit-after RCPT"

# msmtp (STARTTLS, certificate verified against the data directory's certificate)
printf 'Subject: msmtp\n\nfrom msmtp\n' | msmtp --host=localhost --port=$SMTP --tls=on --tls-starttls=on \
  --tls-trust-file="$DATA/tls/cert.pem" --auth=off --from=m@remote.test alice@example.test || fail "msmtp"
ok "msmtp with STARTTLS"

# Postfix relays to us (relayhost) over SMTP, and delivers lmtp.test over LMTP.
postfix_start "$SMTP" lmtp.test "$LMTP"
swaks --server 127.0.0.1:$PF_PORT --from pf@remote.test --to bob@example.test \
  --header "Subject: via postfix relay" --silent 2 || fail "swaks to postfix"
swaks --server 127.0.0.1:$PF_PORT --from pf@remote.test --to carol@lmtp.test \
  --header "Subject: via postfix lmtp" --silent 2 || fail "swaks to postfix (lmtp)"
wait_for sh -c "python3 tests/interop/mailbox.py '$DATA' bob@example.test | grep -q 'via postfix relay'" \
  || fail "Postfix relay did not deliver to bob"
ok "Postfix relayhost -> Mailstead SMTP"
wait_for sh -c "python3 tests/interop/mailbox.py '$DATA' carol@lmtp.test | grep -q 'via postfix lmtp'" \
  || fail "Postfix LMTP did not deliver to carol"
ok "Postfix -> Mailstead LMTP"
grep -q "status=sent" "$WORK/postfix/postfix.log" || fail "postfix log shows no status=sent"
grep -q "relay=127.0.0.1\[127.0.0.1\]:$LMTP" "$WORK/postfix/postfix.log" || fail "postfix did not use LMTP"

# Mailboxes hold what was sent, with trace headers.
alice=$(inbox alice@example.test)
for s in "smtplib plain" "smtplib mixed" "swaks plain" "swaks pipeline" "msmtp" "Subject: pipe"; do
  grep -q "$s" <<<"$alice" || fail "alice's INBOX lacks '$s'"
done
bob=$(inbox bob@example.test)
grep -q "with ESMTPS id" <<<"$bob" || fail "no ESMTPS Received field in bob's mail"
grep -q "version=TLSv1.3" <<<"$bob" || fail "no TLS version in bob's Received field"
grep -q "Received: from relay.remote.test" <<<"$bob" || fail "no Received field for the Postfix hop"
grep -q "Subject: bare-lf" <<<"$bob" || fail "bare-LF message missing"
carol=$(inbox carol@lmtp.test)
grep -q "with LMTP" <<<"$carol" || fail "no LMTP Received field"
grep -q "Delivered-To: carol@lmtp.test" <<<"$carol" || fail "no Delivered-To"
ok "mailboxes and trace headers"

# trace shows the journey.
sleep 0.5
t=$("$MS" trace "<plain@remote.test>" --data "$DATA")
grep -q "delivery.local" <<<"$t" && grep -q "=> delivered to alice@example.test" <<<"$t" || fail "trace by Message-ID: $t"
t=$("$MS" trace ghost@example.test --data "$DATA")
grep -q "refused at RCPT for ghost@example.test" <<<"$t" || fail "trace of a refused recipient: $t"
ok "mailstead trace"
mail_log_has "status=delivered" || fail "mail log has no deliveries"
ok "mail log"

# SIGTERM stops cleanly.
kill -TERM "$MS_PID"
wait_for sh -c "! kill -0 $MS_PID" || fail "server did not stop on SIGTERM"
grep -q "stopped" "$WORK/serve.log" || fail "no clean stop"
ok "SIGTERM: clean shutdown"
