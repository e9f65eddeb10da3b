#!/usr/bin/env bash
# Interop: the IMAP server against real mail clients over IMAPS (certificate from init, which
# names `localhost`): mbsync (isync) syncing 300+ messages both ways with a Maildir, changing
# flags and deleting on both sides, Expunge Both, then both sides compared exactly; mutt in
# batch mode under tmux (read, flag, delete, expunge at quit); fetchmail over IMAP (--ssl,
# --keep, nothing new on a second run, then delete mode empties INBOX). One account per client.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/interop/lib.sh

ms_init
sed -i 's/^dev = true/dev = false/' "$DATA/mailstead.toml"
for a in alice bob carol; do
  echo "password-of-$a@example.test" | "$MS" account add "$a@example.test" --password-stdin --data "$DATA" >/dev/null
done
ms_start
SMTP=$(port smtp)
IMAPS=$(port imaps)
ok "server up: imaps $IMAPS"
py() { timeout 60 python3 tests/interop/imap_sync.py "$@"; }

# ---- mbsync: two-way sync with a Maildir ----
py deliver "$DATA" "$SMTP" alice@example.test 300 smtp
py append "$DATA" "$IMAPS" alice@example.test INBOX 3 appended '(\Seen \Flagged)'
py append "$DATA" "$IMAPS" alice@example.test Archive 4 archived
MB=$WORK/mbsync
mkdir -p "$MB/mail"
cat >"$MB/rc" <<EOF2
IMAPAccount mailstead
Host localhost
Port $IMAPS
User alice@example.test
Pass password-of-alice@example.test
SSLType IMAPS
CertificateFile $DATA/tls/cert.pem
Timeout 30

IMAPStore remote
Account mailstead

MaildirStore local
Path $MB/mail/
Inbox $MB/mail/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
Sync All
EOF2
mbsync_run() { # mbsync_run WHAT: runs a full sync, fails on a non-zero exit
  local rc=0
  HOME=$MB timeout 120 mbsync -c "$MB/rc" -a -V ${MBSYNC_DEBUG:-} >"$MB/out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || fail "mbsync ($1) exited $rc: $(grep -v '^[>]' "$MB/out" | tail -15)"
}
start=$(date +%s.%N)
mbsync_run "first sync"
n=$(py compare "$DATA" "$IMAPS" alice@example.test "$MB/mail")
[ "$(find "$MB/mail/INBOX/cur" "$MB/mail/INBOX/new" -type f | wc -l)" = 303 ] || fail "Maildir INBOX has $(find "$MB/mail/INBOX/cur" "$MB/mail/INBOX/new" -type f | wc -l) messages, expected 303"
[ "$n" = 307 ] || fail "first sync: $n messages on both sides, expected 307"
ok "mbsync first sync (Far -> Near, $(python3 -c "print(f'{$(date +%s.%N)-$start:.1f}')") s): 307 messages, flags and bytes identical"

py server-edit "$DATA" "$IMAPS" alice@example.test
py maildir-edit "$MB/mail"
MBSYNC_DEBUG=-Dn mbsync_run "second sync"
n=$(py compare "$DATA" "$IMAPS" alice@example.test "$MB/mail")
[ "$n" = $((307 - 10 - 10 - 5 + 1 + 1 + 2)) ] || fail "second sync: $n messages on both sides, expected 286"
py expect-after-sync "$DATA" "$IMAPS" alice@example.test
cp "$MB/out" "$MB/out.2"
ok "mbsync second sync (flags, deletions and new mail both ways, Expunge Both): $n messages agree"

MBSYNC_DEBUG=-Dn mbsync_run "third sync"
n2=$(py compare "$DATA" "$IMAPS" alice@example.test "$MB/mail")
[ "$n2" = "$n" ] || fail "a sync with nothing to do changed the count: $n -> $n2"
! grep -E '^>>> [0-9]+ (UID STORE|STORE|APPEND|EXPUNGE|UID EXPUNGE|CREATE)' "$MB/out" \
  || fail "mbsync changed something on a sync with nothing to do"
grep -q '^>>> [0-9]* COMPRESS DEFLATE' "$MB/out" || fail "mbsync did not use COMPRESS=DEFLATE"
ok "mbsync third sync with nothing to do (over COMPRESS=DEFLATE): only reads, still $n2 messages, identical"

# ---- mutt (needs a terminal: run it under tmux) ----
py deliver "$DATA" "$SMTP" bob@example.test 5 mutt
MUTT=$WORK/mutt
mkdir -p "$MUTT"
cat >"$MUTT/muttrc" <<EOF2
set imap_user = "bob@example.test"
set imap_pass = "password-of-bob@example.test"
set certificate_file = "$MUTT/certs"
set ssl_force_tls = yes
set folder = "imaps://localhost:$IMAPS/"
set spoolfile = "+INBOX"
set record = ""
set postponed = ""
set header_cache = ""
set message_cachedir = ""
set imap_check_subscribed = no
set delete = yes
set quit = yes
set move = no
set mark_old = no
set resolve = no
set sort = date-sent
set timeout = 5
EOF2
cp "$DATA/tls/cert.pem" "$MUTT/certs"
TM=ms-imap-mutt-$$
# Bounded: mutt gets 60 s, and the pane lingers 10 s after it for the error report.
tmux new-session -d -s "$TM" -x 160 -y 40 "HOME=$MUTT timeout --foreground 60 mutt -n -F $MUTT/muttrc; sleep 10"
screen() { tmux capture-pane -p -t "$TM"; }
on_screen() { wait_for sh -c "tmux capture-pane -p -t $TM | grep -q '$1'"; }
on_screen 'mutt message 5' || fail "mutt did not show the IMAP INBOX: $(screen)"
screen | grep -q 'mutt message 1' || fail "mutt index misses messages: $(screen)"
ok "mutt (imaps://localhost) lists INBOX"
tmux send-keys -t "$TM" Enter          # read message 1
on_screen 'Body of mutt 1' || fail "mutt did not show message 1: $(screen)"
tmux send-keys -t "$TM" i; sleep 0.3   # back to the index
tmux send-keys -t "$TM" j; sleep 0.3   # message 2: flag it
tmux send-keys -t "$TM" F; sleep 0.3
tmux send-keys -t "$TM" j; sleep 0.3   # message 3: delete it
tmux send-keys -t "$TM" d; sleep 0.3
tmux send-keys -t "$TM" q              # quit: expunges (delete = yes)
wait_for python3 tests/interop/imap_sync.py expect-mutt "$DATA" "$IMAPS" bob@example.test \
  || { py expect-mutt "$DATA" "$IMAPS" bob@example.test || true; fail "mutt's changes did not reach the server: $(screen)"; }
tmux kill-session -t "$TM" 2>/dev/null || true
py expect-mutt "$DATA" "$IMAPS" bob@example.test

# ---- fetchmail over IMAP ----
py deliver "$DATA" "$SMTP" carol@example.test 4 fetchmail
FM=$WORK/fetchmail
mkdir -p "$FM/out"
cat >"$FM/rc" <<EOF2
set no syslog
set logfile "$FM/log"
poll localhost port $IMAPS protocol imap timeout 20
  user "carol@example.test" password "password-of-carol@example.test"
  ssl sslcertck sslcertfile "$DATA/tls/cert.pem"
  mda "cat > \$(mktemp -p $FM/out msg.XXXXXX)"
EOF2
chmod 600 "$FM/rc"
fm() { # fm ARGS... -> exit code of fetchmail (0 mail, 1 no mail)
  local rc=0
  HOME=$FM timeout 60 fetchmail -f "$FM/rc" -i "$FM/ids" --nodetach --norewrite "$@" >>"$FM/stdout" 2>&1 || rc=$?
  echo "$rc"
}
fetched() { find "$FM/out" -type f | wc -l; }
carol() { py state "$DATA" "$IMAPS" carol@example.test INBOX; }   # "count seen flagged deleted"

rc=$(fm --keep)
[ "$rc" = 0 ] || fail "fetchmail --ssl --keep exited $rc: $(tail -5 "$FM/stdout")"
[ "$(fetched)" = 4 ] || fail "fetchmail --keep fetched $(fetched), expected 4"
[ "$(carol)" = "4 4 0 0" ] || fail "after fetchmail --keep the server has (count seen flagged deleted) $(carol)"
grep -q "^Subject: fetchmail message 3" "$FM/out"/* || fail "fetched messages lack their subjects"
ok "fetchmail IMAP --ssl --keep: fetched all 4, left them on the server, now \\Seen"

rc=$(fm --keep)
[ "$rc" = 1 ] || fail "second fetchmail --keep exited $rc (expected 1: no new mail): $(tail -5 "$FM/stdout")"
[ "$(fetched)" = 4 ] || fail "second fetchmail --keep fetched old messages again: $(fetched)"
ok "fetchmail IMAP: second run fetches nothing (exit 1)"

py deliver "$DATA" "$SMTP" carol@example.test 2 fetchmail-new
rc=$(fm --keep)
[ "$rc" = 0 ] || fail "third fetchmail --keep exited $rc: $(tail -5 "$FM/stdout")"
[ "$(fetched)" = 6 ] || fail "fetchmail fetched $(($(fetched) - 4)) on the third run, expected the 2 new"
ok "fetchmail IMAP: a third run fetches exactly the 2 new messages"

rm -f "$FM/out"/*
rc=$(fm --all --nokeep)
[ "$rc" = 0 ] || fail "fetchmail delete mode exited $rc: $(tail -5 "$FM/stdout")"
[ "$(fetched)" = 6 ] || fail "fetchmail delete mode fetched $(fetched) of 6"
[ "$(carol)" = "0 0 0 0" ] || fail "fetchmail delete mode left (count seen flagged deleted) $(carol) in INBOX"
ok "fetchmail IMAP delete mode: fetched all 6 and INBOX is empty"
ok "imap client interop passed"
