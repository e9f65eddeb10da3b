#!/usr/bin/env bash
# Interop: DNSSEC for DANE (RFC 7672) with real unbound as the validating resolver on loopback,
# serving a signed test zone (dns_start_signed in lib.sh). The dnsq example asks through
# AdResolver (--ad), which sets AD and DO in its queries, and through HickoryResolver, which
# does not: unbound only sets AD for a client that asks (RFC 6840 §5.7), which is why
# AdResolver exists. Checked: MX, A, AAAA, TLSA and a TXT too big for UDP (TCP) of a signed
# name come back authentic; the same without asking are not; a name below the unsigned
# delegation insecure.test. is not; NXDOMAIN and NODATA keep their kinds; unsigned data in
# the signed zone (bogus) and names outside test. fail as temporary.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

DNSQ=${DNSQ_BIN:-$PWD/target/debug/examples/dnsq}
[ -x "$DNSQ" ] || fail "no $DNSQ (cargo build -p mailstead-dns --example dnsq)"

HASH=$(printf 'a DANE-EE SPKI' | sha256sum | cut -d' ' -f1)
# A TXT record of 8 strings of 200 bytes: with its signature over 1232 bytes, so over TCP.
BIG=$(python3 -c 'print(" ".join(chr(ord("a") + i) * 200 for i in range(8)))')
dns_start_signed "bogus.test. 300 IN A 192.0.2.66" <<EOF
secure.test. 300 IN MX 10 mx.secure.test.
mx.secure.test. 300 IN A 192.0.2.25
mx.secure.test. 300 IN AAAA 2001:db8::25
_25._tcp.mx.secure.test. 300 IN TLSA 3 1 1 $HASH
big.secure.test. 300 IN TXT $BIG
insecure.test. 300 IN MX 10 mx.insecure.test.
mx.insecure.test. 300 IN A 192.0.2.26
_25._tcp.mx.insecure.test. 300 IN TLSA 3 1 1 $HASH
EOF
ok "unbound validates the signed zone test. (unsigned delegation insecure.test.) on port $DNS_PORT"

# expect PATTERN DNSQ_ARGS...: dnsq's whole output must match the glob PATTERN.
expect() {
  local want=$1 got
  shift
  got=$("$DNSQ" --server "127.0.0.1:$DNS_PORT" "$@" 2>&1) || true
  # shellcheck disable=SC2053 # a glob on purpose
  [[ $got == $want ]] || fail "dnsq $*: expected
$want
got
$got"
}
NL=$'\n'

expect "10 mx.secure.test${NL}authentic: true" --ad MX secure.test
expect "192.0.2.25${NL}authentic: true" --ad A mx.secure.test
expect "2001:db8::25${NL}authentic: true" --ad AAAA mx.secure.test
expect "3 1 1 $HASH${NL}authentic: true" --ad TLSA _25._tcp.mx.secure.test
ok "AdResolver: MX, A, AAAA and TLSA (3 1 1) of secure.test are authentic"

expect "\"$(tr -d ' ' <<<"$BIG")\"${NL}authentic: true" --ad TXT big.secure.test
ok "AdResolver: a signed answer too big for UDP comes over TCP, authentic"

expect "10 mx.secure.test${NL}authentic: false" MX secure.test
expect "192.0.2.25${NL}authentic: false" A mx.secure.test
expect "3 1 1 $HASH${NL}authentic: false" TLSA _25._tcp.mx.secure.test
ok "HickoryResolver: the same answers, never authentic (it asks with neither AD nor DO)"

expect "10 mx.insecure.test${NL}authentic: false" --ad MX insecure.test
expect "192.0.2.26${NL}authentic: false" --ad A mx.insecure.test
expect "3 1 1 $HASH${NL}authentic: false" --ad TLSA _25._tcp.mx.insecure.test
ok "AdResolver: names below the unsigned delegation insecure.test are not authentic"

expect "error: NxDomain: *" --ad TLSA _25._tcp.nowhere.secure.test
expect "error: NoRecords: *" --ad TLSA mx.secure.test
expect "error: Temporary: *Server Failure*" --ad A bogus.test
expect "error: Temporary: *Refused*" --ad MX example.com
ok "AdResolver: NXDOMAIN, NODATA, bogus data (SERVFAIL) and names outside test. (REFUSED)"
