#!/usr/bin/env bash
# Interop: port 25 screening against a real DNS server. unbound serves a test zone (SPF, DKIM
# keys, DMARC policies, a DNS blocklist, a URI blocklist); messages are DKIM-signed by dkimpy's
# dkimsign and sent with Python's smtplib and swaks; the delivered copies' Authentication-Results
# and X-Spam-Status, the Junk folder, the refusals and `mailstead trace` are checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh
command -v unbound >/dev/null || fail "unbound is not installed"
command -v dkimsign >/dev/null || fail "dkimsign (python3-dkim) is not installed"

# DKIM keys for two sender domains.
openssl genrsa -out "$WORK/dkim.pem" 2048 2>/dev/null
pub=$(openssl rsa -in "$WORK/dkim.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
# TXT data longer than 255 bytes goes out as several character-strings.
txt_strings() { python3 -c 'import sys; v=sys.argv[1]; print(" ".join("\""+v[i:i+250]+"\"" for i in range(0,len(v),250)))' "$1"; }
dkim_txt=$(txt_strings "v=DKIM1; k=rsa; p=$pub")

dns_start <<EOF
  local-data: 'pass.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"'
  local-data: '_dmarc.pass.test. TXT "v=DMARC1; p=reject"'
  local-data: 'sel._domainkey.pass.test. TXT $dkim_txt'
  local-data: 'dkimonly.test. TXT "v=spf1 ip4:192.0.2.1 -all"'
  local-data: '_dmarc.dkimonly.test. TXT "v=DMARC1; p=reject"'
  local-data: 'sel._domainkey.dkimonly.test. TXT $dkim_txt'
  local-data: 'forged.test. TXT "v=spf1 ip4:192.0.2.1 -all"'
  local-data: '_dmarc.forged.test. TXT "v=DMARC1; p=reject"'
  local-data: 'quar.test. TXT "v=spf1 ip4:192.0.2.1 -all"'
  local-data: '_dmarc.quar.test. TXT "v=DMARC1; p=quarantine"'
  local-data: 'lists.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"'
  local-data: '2.0.0.127.bl.test. A 127.0.0.2'
  local-data: '2.0.0.127.refusing.test. A 127.255.255.254'
  local-data: 'spammy-link.test.dbl.test. A 127.0.1.2'
EOF
ok "unbound serving the test zone on port $DNS_PORT"

ms_init
echo "pw-alice-1" | "$MS" account add alice@example.test --password-stdin --data "$DATA" >/dev/null
ms_set dns nameservers "[\"127.0.0.1:$DNS_PORT\"]"
ms_set dns timeout_secs 2
ms_set server hostname "\"mx.example.test\""
ms_set dmarc trusted_forwarders '["lists.test"]'
ms_set spam dnsbl '["bl.test=2", "refusing.test"]'
ms_set spam uribl '["dbl.test"]'
# Check everything from loopback too: no trusted relays in this test.
ms_set smtp trusted_networks '[]'
"$MS" check-config --data "$DATA" >/dev/null || fail "config"
ms_start
SMTP=$(port smtp)
ok "server up: smtp $SMTP"

python3 tests/interop/screening.py "$DATA" "$SMTP" "$WORK/dkim.pem"

# swaks, another client, with GTUBE.
out=$(swaks --server 127.0.0.1:$SMTP --from news@pass.test --to alice@example.test \
  --header "Subject: gtube" --body 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' 2>&1 || true)
grep -q "550 5.7.1 Message rejected as spam" <<<"$out" || fail "swaks GTUBE: $out"
ok "swaks: GTUBE refused with 550 5.7.1"

grep -q "refusing.test refused the query (127.255.255.254)" "$WORK/serve.log" \
  || fail "no log line for the refusing blocklist"
ok "a blocklist answering 127.255.255.254 is logged as refused, not counted"

t=$("$MS" trace news@forged.test --data "$DATA")
grep -q "auth" <<<"$t" && grep -q "550 5.7.1" <<<"$t" || fail "trace of the DMARC rejection: $t"
ok "mailstead trace shows the DMARC rejection"
