#!/usr/bin/env bash
# Interop: the POP3 server (STLS on the pop3 port, implicit TLS on pop3s) against real
# clients — Python poplib (every command, STLS, pop3s, SASL, errors, locking, deletions seen
# in the store's INBOX view), fetchmail (--ssl and STLS, --keep, delete mode, UIDL-based
# "fetch only new"), mutt in batch mode under tmux — then --dev plaintext on loopback and
# password-guessing throttling.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

ms_init
# Production mode first: passwords only inside TLS (listeners stay on 127.0.0.1:0).
sed -i 's/^dev = true/dev = false/' "$DATA/mailstead.toml"
for a in alice@example.test bob@example.test; do
  echo "password-of-$a" | "$MS" account add "$a" --password-stdin --data "$DATA" >/dev/null
done
ms_start
SMTP=$(port smtp)
POP3=$(port pop3)
POP3S=$(port pop3s)
ok "server up: pop3 $POP3, pop3s $POP3S"

count() { python3 -c 'import sys; sys.path.insert(0, "tests/interop"); import pop3_clients as p; print(len(p.inbox(sys.argv[1])[1]))' "$DATA"; }

python3 tests/interop/pop3_clients.py deliver "$DATA" "$SMTP" 5
python3 tests/interop/pop3_clients.py poplib "$DATA" "$POP3" "$POP3S"

# ---- fetchmail ----
FM=$WORK/fetchmail
mkdir -p "$FM/out"
fetchmailrc() { # fetchmailrc PORT EXTRA-OPTIONS -> $FM/rc (mode 600, as fetchmail demands)
  cat >"$FM/rc" <<EOF2
set no syslog
set logfile "$FM/log"
poll localhost port $1 protocol pop3 uidl timeout 20
  user "alice@example.test" password "password-of-alice@example.test"
  $2 sslcertck sslcertfile "$DATA/tls/cert.pem"
  mda "cat > \$(mktemp -p $FM/out msg.XXXXXX)"
EOF2
  chmod 600 "$FM/rc"
}
fm() { # fm ARGS... -> exit code of fetchmail (0 mail, 1 no mail)
  local rc=0
  HOME=$FM fetchmail -f "$FM/rc" -i "$FM/ids" --nodetach --norewrite "$@" >>"$FM/stdout" 2>&1 || rc=$?
  echo "$rc"
}
fetched() { find "$FM/out" -type f | wc -l; }

before=$(count)
fetchmailrc "$POP3S" "ssl"
rc=$(fm --keep)
[ "$rc" = 0 ] || fail "fetchmail --ssl --keep exited $rc: $(tail -5 "$FM/stdout")"
[ "$(fetched)" = "$before" ] || fail "fetchmail --keep fetched $(fetched), expected $before"
[ "$(count)" = "$before" ] || fail "fetchmail --keep deleted messages"
grep -q "^Subject: pop3 test 1" "$FM/out"/* || fail "fetched messages lack their subjects"
ok "fetchmail --ssl --keep: fetched all $before, left them on the server"

rc=$(fm --keep)
[ "$rc" = 1 ] || fail "second fetchmail --keep exited $rc (expected 1: no new mail): $(tail -5 "$FM/stdout")"
[ "$(fetched)" = "$before" ] || fail "UIDL fetch-only-new fetched old messages again"
ok "fetchmail UIDL: second run fetches nothing (exit 1)"

python3 tests/interop/pop3_clients.py deliver "$DATA" "$SMTP" 1
fetchmailrc "$POP3" "sslproto tls1.2+"   # the pop3 port: STLS, required
rc=$(fm --keep -v)
[ "$rc" = 0 ] || fail "fetchmail STLS --keep exited $rc: $(tail -5 "$FM/stdout")"
grep -q "POP3> STLS" "$FM/stdout" || fail "fetchmail did not use STLS: $(grep POP3 "$FM/stdout" | head)"
[ "$(fetched)" = "$((before + 1))" ] || fail "UIDL fetch-only-new: expected 1 new, have $(fetched)"
ok "fetchmail over STLS, UIDL: fetches exactly the one new message"

total=$(count)
rm -f "$FM/out"/*
fetchmailrc "$POP3S" "ssl"
rc=$(fm --all --nokeep)
[ "$rc" = 0 ] || fail "fetchmail delete mode exited $rc: $(tail -5 "$FM/stdout")"
[ "$(fetched)" = "$total" ] || fail "fetchmail delete mode fetched $(fetched) of $total"
[ "$(count)" = 0 ] || fail "fetchmail delete mode left $(count) messages in INBOX"
ok "fetchmail --ssl delete mode: fetched $total and the store's INBOX is empty"

# ---- mutt (needs a terminal: run it under tmux) ----
python3 tests/interop/pop3_clients.py deliver "$DATA" "$SMTP" 3
MUTT=$WORK/mutt
mkdir -p "$MUTT"
cat >"$MUTT/muttrc" <<EOF2
set pop_user = "alice@example.test"
set pop_pass = "password-of-alice@example.test"
set certificate_file = "$MUTT/certs"
set ssl_force_tls = yes
set delete = yes
set quit = yes
set move = no
set mbox_type = mbox
set spoolfile = "pops://localhost:$POP3S/"
set folder = "$MUTT"
set record = ""
set header_cache = ""
set message_cachedir = ""
set sort = date-sent
EOF2
cp "$DATA/tls/cert.pem" "$MUTT/certs"
TM=ms-pop3-mutt-$$
# Bounded: mutt gets 60 s, and the pane lingers 10 s after it for the error report.
tmux new-session -d -s "$TM" -x 160 -y 40 "HOME=$MUTT timeout --foreground 60 mutt -n -F $MUTT/muttrc; sleep 10"
screen() { tmux capture-pane -p -t "$TM"; }
wait_for sh -c "tmux capture-pane -p -t $TM | grep -q 'pop3 test 2'" || fail "mutt did not show the POP3 INBOX: $(screen)"
screen | grep -q 'pop3 test 0' || fail "mutt index misses messages: $(screen)"
ok "mutt (pops://) lists the maildrop"
tmux send-keys -t "$TM" Enter
wait_for sh -c "tmux capture-pane -p -t $TM | grep -q 'message 0'" || fail "mutt did not show the message: $(screen)"
tmux send-keys -t "$TM" i
sleep 0.3
tmux send-keys -t "$TM" d
sleep 0.3
tmux send-keys -t "$TM" q
wait_for sh -c "[ \"\$(python3 -c 'import sys; sys.path.insert(0, \"tests/interop\"); import pop3_clients as p; print(len(p.inbox(sys.argv[1])[1]))' '$DATA')\" = 2 ]" \
  || fail "mutt's delete did not reach the store (INBOX has $(count)): $(screen)"
tmux kill-session -t "$TM" 2>/dev/null || true
ok "mutt: read a message, deleted it, quit: the store's INBOX has 2 left"

# ---- POP3 and IMAP views of INBOX agree ----
python3 tests/interop/pop3_clients.py deliver "$DATA" "$SMTP" 2
python3 tests/interop/pop3_clients.py imap "$DATA" "$POP3S" "$(port imaps)"

# ---- --dev: plaintext passwords on loopback ----
kill "$MS_PID"; wait "$MS_PID" 2>/dev/null || true
sed -i 's/^dev = false/dev = true/' "$DATA/mailstead.toml"
rm -f "$DATA/run/ports.json"
ms_start
python3 tests/interop/pop3_clients.py dev "$DATA" "$(port pop3)"

# ---- last, because it blocks 127.0.0.1 for an hour: password guessing ----
python3 tests/interop/pop3_clients.py throttle "$DATA" "$(port pop3s)"
ok "pop3 interop done"
