#!/usr/bin/env bash
# Interop: the IMAP server (STARTTLS on the imap port, implicit TLS on imaps) against Python's
# imaplib: every command, two concurrent sessions and IDLE push of SMTP deliveries, hostile
# input and password throttling. Production mode (no plaintext passwords).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

ms_init
sed -i 's/^dev = true/dev = false/' "$DATA/mailstead.toml"
echo "password-of-alice@example.test" | "$MS" account add alice@example.test --password-stdin --data "$DATA" >/dev/null
ms_start
SMTP=$(port smtp)
IMAP=$(port imap)
IMAPS=$(port imaps)
ok "server up: imap $IMAP, imaps $IMAPS"

python3 tests/interop/imap_clients.py deliver "$DATA" "$SMTP" 5
python3 tests/interop/imap_clients.py commands "$DATA" "$IMAP" "$IMAPS"
python3 tests/interop/imap_clients.py concurrent "$DATA" "$IMAPS" "$SMTP"
python3 tests/interop/imap_clients.py hostile "$DATA" "$IMAPS"
ok "imap interop passed"
