#!/usr/bin/env bash
# Interop: the outbound queue honours the TLS policies receiving domains publish, against a
# Postfix MX (OpenSSL STARTTLS with a certificate from a test CA that [queue] extra_ca_file
# trusts), an HTTPS policy server (Python's ssl) and unbound.
#
# MTA-STS (RFC 8461), policies fetched from https://mta-sts.<domain>/.well-known/mta-sts.txt:
# - sts.test, enforce, its MX listed and its certificate valid: delivered over verified TLS;
# - wrongmx.test, enforce, its MX not listed: never contacted, the mail waits (queue list and
#   trace say why);
# - badcert.test, enforce, listed, but the certificate is not for its name: the mail waits;
# - testing.test, testing mode, MX not listed: delivered anyway.
#
# DANE (RFC 7672), with unbound validating a DNSSEC-signed test zone (Mailstead trusts its AD
# bit: it is on loopback):
# - dane.test, TLSA 3 1 1 (DANE-EE, the MX's key): delivered over TLS, whatever the name;
# - danetai.test, TLSA 2 0 1 (DANE-TA, the test CA, sent in the MX's chain): delivered;
# - danebad.test, TLSA matching another key: the mail waits;
# - plain.insecure.test, the same wrong TLSA but in an unsigned zone: not validated, so DANE
#   does not apply and the mail goes out with opportunistic STARTTLS;
# - hosted.insecure.test, an unsigned domain whose MX is mx.dane.test (a signed provider's
#   host): DANE still protects it (RFC 7672 §2.2.1).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

# A test CA; the MX certificate names mx.sts.test (not mx.badcert.test); the policy server's
# names every mta-sts host.
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Test CA" -keyout "$WORK/ca-key.pem" -out "$WORK/ca.pem"
  issue() { # issue NAME SANS
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$WORK/$1-key.pem" -out "$WORK/$1.csr"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$2" >"$WORK/$1-ext.cnf"
    openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca-key.pem" -CAcreateserial -days 2 \
      -extfile "$WORK/$1-ext.cnf" -out "$WORK/$1-cert.pem"
    chmod 644 "$WORK/$1-key.pem"
  }
  issue mx "DNS:mx.sts.test,DNS:mx.wrongmx.test,DNS:mx.testing.test,DNS:mx.danetai.test"
  issue web "DNS:mta-sts.sts.test,DNS:mta-sts.wrongmx.test,DNS:mta-sts.badcert.test,DNS:mta-sts.testing.test"
  cat "$WORK/mx-cert.pem" "$WORK/ca.pem" >"$WORK/mx-chain.pem"
} >/dev/null 2>&1 || fail "openssl could not make the test certificates"
spki_sha256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
cert_sha256() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

DOMAINS="sts.test wrongmx.test badcert.test testing.test dane.test danetai.test danebad.test plain.insecure.test hosted.insecure.test"
PF_UID=$(id -u postfix); PF_GID=$(id -g postfix)
maps=""; for d in $DOMAINS; do maps="$maps bob@$d=$d/"; done
postfix_instance mx "myhostname = mx.sts.test
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_cert_file = $WORK/mx-chain.pem
smtpd_tls_key_file = $WORK/mx-key.pem
mydestination =
virtual_mailbox_domains = ${DOMAINS// /, }
virtual_mailbox_base = $WORK/mx/maildir
virtual_mailbox_maps = inline:{$maps }
virtual_uid_maps = static:$PF_UID
virtual_gid_maps = static:$PF_GID
virtual_minimum_uid = 1"
MX_PORT=$PF_PORT
mkdir -p "$WORK/mx/maildir"; chown postfix "$WORK/mx/maildir"
ok "Postfix MX with STARTTLS (test CA) on port $MX_PORT"

policy() { # policy NAME MODE MX...
  local name=$1 mode=$2; shift 2
  { echo "version: STSv1"; echo "mode: $mode"; for mx in "$@"; do echo "mx: $mx"; done; echo "max_age: 86400"; } \
    >"$WORK/$name.policy"
}
policy sts enforce mx.sts.test
policy wrongmx enforce mx.elsewhere.test
policy badcert enforce mx.badcert.test
policy testing testing mx.elsewhere.test
WEB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 tests/interop/mta_sts_server.py "$WEB_PORT" "$WORK/web-cert.pem" "$WORK/web-key.pem" \
  mta-sts.sts.test="$WORK/sts.policy" mta-sts.wrongmx.test="$WORK/wrongmx.policy" \
  mta-sts.badcert.test="$WORK/badcert.policy" mta-sts.testing.test="$WORK/testing.policy" \
  >"$WORK/web.out" 2>"$WORK/web.log" &
PIDS+=($!)
wait_for grep -q listening "$WORK/web.out" || fail "policy server: $(cat "$WORK/web.log")"
ok "MTA-STS policy server (HTTPS) on port $WEB_PORT"

dns_start_signed < <(
  for d in sts wrongmx badcert testing dane danetai danebad plain.insecure; do
    echo "$d.test. 300 IN MX 10 mx.$d.test."
    echo "mx.$d.test. 300 IN A 127.0.0.1"
  done
  echo "hosted.insecure.test. 300 IN MX 10 mx.dane.test."
  for d in sts wrongmx badcert testing; do
    echo "_mta-sts.$d.test. 300 IN TXT \"v=STSv1; id=20261201\""
    echo "mta-sts.$d.test. 300 IN A 127.0.0.1"
  done
  echo "_25._tcp.mx.dane.test. 300 IN TLSA 3 1 1 $(spki_sha256 "$WORK/mx-cert.pem")"
  echo "_25._tcp.mx.danetai.test. 300 IN TLSA 2 0 1 $(cert_sha256 "$WORK/ca.pem")"
  echo "_25._tcp.mx.danebad.test. 300 IN TLSA 3 1 1 $(spki_sha256 "$WORK/web-cert.pem")"
  echo "_25._tcp.mx.plain.insecure.test. 300 IN TLSA 3 1 1 $(spki_sha256 "$WORK/web-cert.pem")"
)
ok "unbound (validating) serves the signed test. zone: MX, _mta-sts, mta-sts and TLSA records"

ms_init
ms_set server hostname '"mx.example.test"'
ms_set dns nameservers "[\"127.0.0.1:$DNS_PORT\"]"
ms_set queue mx_port "$MX_PORT"
ms_set queue mta_sts_port "$WEB_PORT"
ms_set queue retry_first_secs 3600
cp "$WORK/ca.pem" "$DATA/test-ca.pem"
ms_set queue extra_ca_file '"test-ca.pem"'
echo "pw-alice-1" | "$MS" account add alice@example.test --password-stdin --data "$DATA" >/dev/null
"$MS" check-config --data "$DATA" >/dev/null || fail "config"
ms_start
SUB=$(port submission)
ok "Mailstead up"

send() { # send DOMAIN...: one message from alice to bob@ each domain
  python3 - "$SUB" "$@" <<'PY' || fail "submission"
import smtplib, sys
port, domains = int(sys.argv[1]), sys.argv[2:]
with smtplib.SMTP("127.0.0.1", port) as s:
    s.login("alice@example.test", "pw-alice-1")
    for d in domains:
        s.sendmail("alice@example.test", [f"bob@{d}"], f"From: alice@example.test\r\nTo: bob@{d}\r\nSubject: policy {d}\r\n\r\nhello {d}\r\n")
PY
}
delivered() { [ "$(find "$WORK/mx/maildir/$1/new" -type f 2>/dev/null | wc -l)" -ge 1 ]; }

send sts.test wrongmx.test badcert.test testing.test
wait_for delivered sts.test || fail "sts.test (enforce, listed MX, valid certificate) not delivered"
grep -q "using TLS" "$WORK"/mx/maildir/sts.test/new/* || fail "sts.test arrived without TLS"
wait_for delivered testing.test || fail "testing.test (testing mode) not delivered"
ok "enforce with a listed MX and a valid certificate: delivered over TLS; testing mode: delivered"

wait_for sh -c "'$MS' queue list --data '$DATA' | grep -q 'badcert.test'" || fail "badcert.test not deferred"
list=$("$MS" queue list --data "$DATA")
grep -q "bob@wrongmx.test" <<<"$list" && grep -q "allows none of its MX hosts" <<<"$list" \
  || fail "wrongmx.test should wait for an allowed MX: $list"
grep -q "bob@badcert.test" <<<"$list" && grep -qi "certificate" <<<"$list" \
  || fail "badcert.test should wait for a valid certificate: $list"
delivered wrongmx.test && fail "wrongmx.test must not be delivered"
delivered badcert.test && fail "badcert.test must not be delivered"
ok "enforce: an unlisted MX is never used, a certificate for another name is refused; both wait in the queue"

t=$("$MS" trace bob@sts.test --data "$DATA")
grep -q "policy=mta-sts enforce (id 20261201)" <<<"$t" || fail "trace of sts.test names no policy: $t"
t=$("$MS" trace bob@wrongmx.test --data "$DATA")
grep -q "requires verified TLS" <<<"$t" || fail "trace of wrongmx.test does not explain: $t"
grep -c "mta-sts-server: mta-sts.sts.test" "$WORK/web.log" | grep -qx 1 || fail "sts.test's policy fetched more than once: $(cat "$WORK/web.log")"
ok "trace names the policy and explains the wait; each policy fetched once"

send dane.test danetai.test danebad.test plain.insecure.test hosted.insecure.test
wait_for delivered dane.test || fail "dane.test (TLSA 3 1 1 of the MX's key) not delivered"
grep -q "using TLS" "$WORK"/mx/maildir/dane.test/new/* || fail "dane.test arrived without TLS"
wait_for delivered danetai.test || fail "danetai.test (TLSA 2 0 1 of the CA) not delivered"
wait_for delivered plain.insecure.test || fail "plain.insecure.test (unvalidated TLSA) not delivered"
wait_for delivered hosted.insecure.test || fail "hosted.insecure.test (MX in a signed zone) not delivered"
ok "DANE-EE and DANE-TA matches delivered over TLS; TLSA in an unsigned zone ignored"

wait_for sh -c "'$MS' queue list --data '$DATA' | grep -q 'bob@danebad.test'" || fail "danebad.test not deferred"
list=$("$MS" queue list --data "$DATA")
grep -A3 "bob@danebad.test" <<<"$list" | grep -q "TLSA" || fail "danebad.test should wait for a matching certificate: $list"
delivered danebad.test && fail "danebad.test must not be delivered"
ok "a certificate matching none of the TLSA records: the mail waits"

t=$("$MS" trace bob@dane.test --data "$DATA")
grep -q "policy=dane (1 TLSA record)" <<<"$t" || fail "trace of dane.test names no DANE policy: $t"
t=$("$MS" trace bob@plain.insecure.test --data "$DATA")
grep -q "policy=opportunistic" <<<"$t" || fail "trace of plain.insecure.test: $t"
t=$("$MS" trace bob@hosted.insecure.test --data "$DATA")
grep -q "policy=dane (1 TLSA record)" <<<"$t" || fail "trace of hosted.insecure.test: DANE should apply through its signed MX host: $t"
ok "trace names the DANE policy (also for an unsigned domain hosted on a signed MX), and opportunistic TLS for the unsigned one"
