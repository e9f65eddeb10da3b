#!/usr/bin/env bash
# Interop: the antivirus crate against a real ClamAV clamd. No signature download: we write a
# one-line body signature database (.ndb) for the EICAR test file, start clamd in the
# foreground on a unix socket and on TCP 127.0.0.1 with a temporary config, and run the
# crate's ignored integration tests (crates/antivirus/tests/clamd.rs): EICAR plain, as an
# attachment and inside a zip are Infected (clamd decodes MIME and unpacks zips itself), clean
# mail is Clean, clamd's own StreamMaxLength is reported as too large; then with clamd stopped,
# Unavailable and the fail-open / fail-closed (451 4.7.0) mapping. Then end to end: the real
# server with `[antivirus] clamd` set, Python smtplib sending EICAR (554 5.7.0 naming the
# signature), an executable (554 5.7.0 from the attachment policy), clean mail (250), and
# with clamd stopped 451 4.7.0.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

command -v clamd >/dev/null || fail "clamd not installed (apt-get install clamav-daemon)"
# Build first, so the time clamd runs is spent testing.
cargo test --workspace --locked --test clamd --no-run >/dev/null 2>&1 || fail "build of the clamd test failed"

AV=$WORK/clamd
mkdir -p "$AV/db"
# EICAR, then an .ndb body signature `Name:TargetType:Offset:HexBody` (ClamAV signature format:
# target 0 = any file, offset * = anywhere) so it is found inside attachments and archives.
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$AV/eicar.com"
python3 -c 'import sys; print("Mailstead-Test-EICAR:0:*:" + open(sys.argv[1], "rb").read().hex())' \
  "$AV/eicar.com" >"$AV/db/mailstead.ndb"
TCP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$AV/clamd.conf" <<EOF2
DatabaseDirectory $AV/db
LocalSocket $AV/clamd.sock
TCPSocket $TCP_PORT
TCPAddr 127.0.0.1
Foreground yes
LogFile $AV/clamd.log
PidFile $AV/clamd.pid
ScanMail yes
ScanArchive yes
Bytecode no
SelfCheck 0
StreamMaxLength 1M
EOF2

# Bounded: clamd lives at most 60 s even if this script is killed before its cleanup.
timeout 60 clamd -c "$AV/clamd.conf" >"$AV/clamd.out" 2>&1 &
CLAMD_PID=$!
PIDS+=("$CLAMD_PID")
tcp_up() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$TCP_PORT"; }
wait_for test -S "$AV/clamd.sock" || fail "clamd did not start: $(tail -5 "$AV/clamd.out")"
wait_for tcp_up || fail "clamd TCP socket not up"
grep -q "Loaded 1 signatures" "$AV/clamd.log" || fail "clamd did not load our signature"
ok "clamd up: unix socket and 127.0.0.1:$TCP_PORT, 1 signature"

export MAILSTEAD_CLAMD_UNIX=$AV/clamd.sock MAILSTEAD_CLAMD_TCP=127.0.0.1:$TCP_PORT
run_tests() { # run_tests FILTER
  timeout 60 cargo test --workspace --locked --test clamd -- --ignored "$1" >"$AV/test-$1.log" 2>&1 \
    || { cat "$AV/test-$1.log"; fail "clamd interop tests '$1' failed"; }
  grep -E '^test .* ok$' "$AV/test-$1.log" | sed 's/^/    /'
}
run_tests live_
found=$(grep -c "FOUND" "$AV/clamd.log" || true)
[ "$found" -ge 6 ] || fail "clamd logged $found detections, expected at least 6"
ok "EICAR plain, attached and zipped: infected over unix and TCP ($found detections in clamd's log); clean mail clean"

# ---- the server: SMTP DATA scanned by clamd and the attachment policy ----
[ -x "$MS" ] || cargo build --locked -p mailstead >/dev/null 2>&1 || fail "mailstead build failed"
ms_init
sed -i "s|^clamd = \"off\"|clamd = \"$AV/clamd.sock\"|" "$DATA/mailstead.toml"
grep -q "^clamd = \"$AV/clamd.sock\"" "$DATA/mailstead.toml" || fail "could not set [antivirus] clamd"
echo "pw-of-alice" | "$MS" account add alice@example.test --password-stdin --data "$DATA" >/dev/null
ms_start
SMTP=$(port smtp)
# send KIND: prints the server's reply to DATA ("CODE TEXT").
send() {
  python3 - "$SMTP" "$1" <<'PY'
import smtplib, sys, zipfile, io
from email.message import EmailMessage
port, kind = int(sys.argv[1]), sys.argv[2]
eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
m = EmailMessage()
m["From"], m["To"], m["Subject"] = "friend@remote.test", "alice@example.test", kind
m.set_content("Hello Alice")
if kind == "eicar-zip":
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docs/readme.txt", eicar)
    m.add_attachment(buf.getvalue(), maintype="application", subtype="zip", filename="docs.zip")
elif kind == "exe":
    m.add_attachment(b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode.",
                     maintype="application", subtype="octet-stream", filename="invoice.pdf")
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.remote.test")
s.mail("friend@remote.test"); s.rcpt("alice@example.test")
code, msg = s.data(m.as_bytes())
print(code, msg.decode())
s.quit()
PY
}
expect() { # expect KIND REPLY-PREFIX [TEXT]
  local r; r=$(send "$1")
  [[ "$r" == "$2"* ]] || fail "$1: expected $2, got: $r"
  [ -z "${3:-}" ] || [[ "$r" == *"$3"* ]] || fail "$1: reply lacks $3: $r"
  ok "server: $1 -> $r"
}
expect eicar-zip "554 5.7.0" "Mailstead-Test-EICAR"
expect exe "554 5.7.0" "invoice.pdf"
expect clean "250 2.0.0"
[ "$(inbox alice@example.test | grep -c '^Subject: ')" = 1 ] || fail "only the clean message is delivered"

kill "$CLAMD_PID"
wait "$CLAMD_PID" 2>/dev/null || true
run_tests stopped_
ok "clamd stopped: unavailable; fail-closed 451 4.7.0, fail-open accepts"
expect clean "451 4.7.0"
mail_log_has "antivirus unavailable" || fail "mail log lacks the antivirus temp-failure"
ok "server with clamd stopped: 451 4.7.0 (fail-closed default), mail log says why"
