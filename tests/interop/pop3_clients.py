#!/usr/bin/env python3
"""POP3 interop checks with Python's poplib against a running Mailstead.

Usage:
  pop3_clients.py deliver DATA SMTP_PORT COUNT       # COUNT messages to alice via smtplib
  pop3_clients.py poplib  DATA POP3_PORT POP3S_PORT  # every command, STLS, pop3s, errors (production mode)
  pop3_clients.py dev     DATA POP3_PORT             # --dev: USER/PASS in plaintext on loopback
  pop3_clients.py throttle DATA POP3S_PORT           # password guessing gets [AUTH] throttled

The store is read straight from SQLite (read-only) to compare what POP3 says with what the
IMAP view of INBOX holds: sizes, UIDVALIDITY/UID behind each UIDL, flags, expunge tombstones.
"""
import base64
import os
import poplib
import smtplib
import socket
import sqlite3
import ssl
import sys

ALICE = "alice@example.test"
PASSWORD = "password-of-alice@example.test"
SEEN, DELETED = 1, 8


# The scripts run from the repository root or from here: find verdict.py beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_bytes import COLUMNS, body as stored_body  # noqa: E402
from verdict import check, fail, ok  # noqa: E402


def tls_context(data):
    ctx = ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem"))
    return ctx


def inbox(data, address=ALICE):
    """(uidvalidity, [(uid, size, flags, bytes)]) of INBOX, and the expunged UIDs."""
    db = sqlite3.connect(f"file:{os.path.join(data, 'mailstead.db')}?mode=ro", uri=True)
    (mailbox, uidvalidity) = db.execute(
        """SELECT x.id, x.uidvalidity FROM mailboxes x JOIN accounts a ON x.account = a.id
           WHERE a.lookup = ? AND x.name = 'INBOX'""",
        (address,),
    ).fetchone()
    rows = db.execute(
        f"""SELECT m.uid, m.size, m.flags, {COLUMNS} FROM messages m JOIN blobs b ON b.hash = m.blob
           WHERE m.mailbox = ? ORDER BY m.uid""",
        (mailbox,),
    ).fetchall()
    messages = []
    for uid, size, flags, *location in rows:
        messages.append((uid, size, flags, stored_body(data, *location)))
    expunged = [u for (u,) in db.execute("SELECT uid FROM expunged WHERE mailbox = ? ORDER BY uid", (mailbox,))]
    db.close()
    return uidvalidity, messages, expunged


def expect_error(fn, text, what):
    try:
        fn()
    except poplib.error_proto as e:
        got = e.args[0].decode() if isinstance(e.args[0], bytes) else str(e.args[0])
        check(text in got, f"{what}: expected {text!r}, got {got!r}")
        ok(what)
        return
    fail(f"{what}: no error")


def deliver(data, smtp_port, count):
    with smtplib.SMTP("127.0.0.1", int(smtp_port)) as s:
        for i in range(int(count)):
            body = f"Subject: pop3 test {i}\r\nFrom: s@remote.test\r\nTo: {ALICE}\r\n\r\nmessage {i}\r\n"
            if i == 1:
                # Lines that need byte-stuffing, and one that is only a dot.
                body += ".leading dot\r\n.\r\n..two dots\r\nend\r\n"
            if i == 2:
                body += ("x" * 70 + "\r\n") * 3000  # about 210 KiB: a segment body, several writes
            s.sendmail("s@remote.test", [ALICE], body.encode())
    ok(f"delivered {count} messages with smtplib")


def login_stls(data, port):
    p = poplib.POP3("localhost", int(port), timeout=10)
    p.stls(context=tls_context(data))
    p.user(ALICE)
    p.pass_(PASSWORD)
    return p


def poplib_checks(data, pop3_port, pop3s_port):
    # Port 110's role, production mode: no password before STLS (RFC 2595).
    p = poplib.POP3("localhost", int(pop3_port), timeout=10)
    check(p.getwelcome().startswith(b"+OK"), "greeting")
    caps = p.capa()
    check("STLS" in caps and "USER" not in caps and "SASL" not in caps, f"CAPA before STLS: {caps}")
    check("IMPLEMENTATION" in caps and "PIPELINING" in caps and "RESP-CODES" in caps, f"CAPA: {caps}")
    check("AUTH-RESP-CODE" in caps and "UIDL" in caps and "TOP" in caps, f"CAPA: {caps}")
    ok("CAPA before STLS: STLS, no USER/SASL; RESP-CODES, AUTH-RESP-CODE, PIPELINING, IMPLEMENTATION")
    expect_error(lambda: p.user(ALICE), "-ERR [AUTH] Plaintext authentication disallowed", "USER before STLS refused")
    expect_error(lambda: p._shortcmd("AUTH PLAIN"), "-ERR [AUTH]", "AUTH before STLS refused")
    expect_error(lambda: p.stat(), "-ERR Command not valid before login", "STAT before login")
    expect_error(lambda: p._shortcmd("XYZZY"), "-ERR Unknown command", "unknown command")
    p.stls(context=tls_context(data))
    caps = p.capa()
    check("USER" in caps and caps.get("SASL") == ["PLAIN", "LOGIN"] and "STLS" not in caps, f"CAPA after STLS: {caps}")
    ok("STLS, then CAPA offers USER and SASL PLAIN LOGIN")
    expect_error(lambda: p.stls(context=tls_context(data)), "-ERR", "second STLS refused")
    expect_error(lambda: (p.user(ALICE), p.pass_("wrong")), "-ERR [AUTH] Invalid user name or password", "wrong password")
    p.user(ALICE)
    resp = p.pass_(PASSWORD)
    check(resp.startswith(b"+OK"), f"login: {resp}")
    ok("USER/PASS inside STLS")

    uidvalidity, messages, _ = inbox(data)
    count, size = p.stat()
    check(count == len(messages) and size == sum(m[1] for m in messages), f"STAT {count} {size}")
    ok(f"STAT matches the store: {count} messages, {size} octets")
    resp, listing, _ = p.list()
    sizes = [int(l.split()[1]) for l in listing]
    check(sizes == [m[1] for m in messages], f"LIST {sizes}")
    check(p.list(2).split()[2] == str(messages[1][1]).encode(), "LIST 2")
    ok("LIST (all and one) matches the stored sizes")
    resp, uidls, _ = p.uidl()
    expected = [f"{i + 1} {m[0]:08X}{uidvalidity:08X}".encode() for i, m in enumerate(messages)]
    check(uidls == expected, f"UIDL {uidls} != {expected}")
    check(p.uidl(1).split()[2] == expected[0].split()[1], "UIDL 1")
    ok("UIDL = (UID, UIDVALIDITY) of the IMAP view, all and one")
    for n, (uid, stored_size, _, stored) in enumerate(messages, 1):
        resp, lines, octets = p.retr(n)
        got = b"\r\n".join(lines) + b"\r\n"
        check(got == stored, f"RETR {n} content differs")
        check(octets == stored_size and resp == f"+OK {stored_size} octets".encode(), f"RETR {n}: {resp} {octets}")
    ok("RETR of every message: byte-exact after unstuffing, octet count = stored size (CRLF counted)")
    resp, lines, _ = p.top(2, 2)
    header_end = lines.index(b"")
    check(lines[header_end + 1:] == [b"message 1", b".leading dot"], f"TOP 2 2: {lines}")
    resp, lines, _ = p.top(2, 0)
    check(lines[-1] == b"" and b"Subject: pop3 test 1" in lines, f"TOP 2 0: {lines}")
    ok("TOP n 0 and TOP n 2")
    check(p.noop().startswith(b"+OK"), "NOOP")
    expect_error(lambda: p.retr(999), "-ERR No such message", "RETR of a message that does not exist")
    expect_error(lambda: p._shortcmd("RETR x"), "-ERR Invalid message number", "RETR with a bad number")
    expect_error(lambda: p._shortcmd("USER bob@example.test"), "-ERR Command not valid after login", "USER after login")
    check(p.dele(1).startswith(b"+OK"), "DELE 1")
    expect_error(lambda: p.retr(1), "-ERR Message already deleted", "RETR of a deleted message")
    expect_error(lambda: p.dele(1), "-ERR Message already deleted", "DELE twice")
    check(p.stat()[0] == count - 1, "STAT after DELE")
    check(p.rset().startswith(b"+OK"), "RSET")
    check(p.stat()[0] == count, "STAT after RSET")
    ok("NOOP, DELE, RSET")

    # Maildrop lock: a second session (over the other listener) is refused politely.
    s = poplib.POP3_SSL("localhost", int(pop3s_port), context=tls_context(data), timeout=10)
    s.user(ALICE)
    expect_error(lambda: s.pass_(PASSWORD), "-ERR [IN-USE]", "second concurrent session gets [IN-USE]")
    s.quit()

    # Deletions apply at QUIT only, exactly the DELE'd ones, visible in the store.
    p.dele(1)
    p.dele(3)
    check(len(inbox(data)[1]) == count, "nothing deleted before QUIT")
    resp = p.quit()
    check(resp.startswith(b"+OK") and f"({count - 2} messages left)".encode() in resp, f"QUIT: {resp}")
    _, after, expunged = inbox(data)
    check([m[0] for m in after] == [m[0] for i, m in enumerate(messages) if i not in (0, 2)], "QUIT removed the wrong messages")
    check(set(expunged) == {messages[0][0], messages[2][0]}, f"expunge tombstones (IMAP VANISHED): {expunged}")
    check(all(m[2] & SEEN for m in after) and not any(m[2] & DELETED for m in after), "flags after QUIT")
    ok("QUIT: exactly the DELE'd messages expunged (tombstones for IMAP), retrieved ones \\Seen")

    # pop3s (implicit TLS), AUTH PLAIN and AUTH LOGIN, unique-ids stable across sessions.
    s = poplib.POP3_SSL("localhost", int(pop3s_port), context=tls_context(data), timeout=10)
    plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    check(s._shortcmd(f"AUTH PLAIN {plain}").startswith(b"+OK"), "AUTH PLAIN")
    resp, uidls, _ = s.uidl()
    check(uidls == [f"{i + 1} {e.split()[1].decode()}".encode() for i, e in enumerate(x for j, x in enumerate(expected) if j not in (0, 2))], f"UIDL after QUIT: {uidls}")
    ok("pop3s + AUTH PLAIN; unique-ids unchanged in a new session")
    # A session that drops without QUIT deletes nothing.
    s.dele(1)
    s.sock.close()
    _, still, _ = inbox(data)
    check(len(still) == len(after), "a dropped session deleted something")
    ok("connection dropped after DELE: nothing deleted")

    for _ in range(50):  # the server notices the drop and releases the lock
        s = poplib.POP3_SSL("localhost", int(pop3s_port), context=tls_context(data), timeout=10)
        try:
            s._shortcmd("AUTH LOGIN")
            s._shortcmd(base64.b64encode(ALICE.encode()).decode())
            s._shortcmd(base64.b64encode(PASSWORD.encode()).decode())
            break
        except poplib.error_proto as e:
            check(b"[IN-USE]" in e.args[0], f"AUTH LOGIN: {e}")
            s.close()
    else:
        fail("maildrop lock not released after a dropped connection")
    ok("AUTH LOGIN; lock released after the dropped connection")
    # Pipelining (RFC 2449): several commands in one write, answers in order.
    s.sock.sendall(b"STAT\r\nNOOP\r\nLIST 1\r\n")
    r = [s._getresp() for _ in range(3)]
    check(r[0].startswith(b"+OK") and r[1] == b"+OK" and r[2].startswith(b"+OK 1 "), f"pipelined: {r}")
    ok("pipelined STAT/NOOP/LIST answered in order")
    # A very long line is refused, the session goes on.
    s.sock.sendall(b"A" * 100_000 + b"\r\n")
    try:
        s._getresp()
        fail("long line accepted")
    except poplib.error_proto as e:
        check(b"Line too long" in e.args[0], f"long line: {e}")
    check(s.noop().startswith(b"+OK"), "NOOP after a long line")
    ok("100 KB line refused with -ERR, session goes on")
    s.quit()


def dev_checks(data, pop3_port):
    p = poplib.POP3("localhost", int(pop3_port), timeout=10)
    caps = p.capa()
    check("USER" in caps and "STLS" in caps, f"dev CAPA: {caps}")
    p.user(ALICE)
    p.pass_(PASSWORD)
    count, _ = p.stat()
    p.quit()
    ok(f"--dev on loopback: USER/PASS without TLS ({count} messages)")


def throttle_checks(data, pop3s_port):
    s = poplib.POP3_SSL("localhost", int(pop3s_port), context=tls_context(data), timeout=10)
    for i in range(10):
        s.user("bob@example.test")
        try:
            s.pass_(f"guess-{i}")
            fail("a guess succeeded")
        except poplib.error_proto as e:
            check(b"-ERR [AUTH]" in e.args[0], f"guess {i}: {e}")
    s.close()
    s = poplib.POP3_SSL("localhost", int(pop3s_port), context=tls_context(data), timeout=10)
    s.user(ALICE)
    expect_error(lambda: s.pass_(PASSWORD), "-ERR [AUTH] Too many failed logins", "password guessing throttled per IP (even the right password)")


def imap_agreement(data, pop3s_port, imaps_port):
    """POP3 and IMAP agree: UIDL names the UIDs IMAP shows, and a POP3 deletion reaches an IMAP
    session that has INBOX selected as an EXPUNGE (and nothing before the POP3 QUIT)."""
    import imaplib

    imap = imaplib.IMAP4_SSL("localhost", int(imaps_port), ssl_context=tls_context(data))
    imap.login(ALICE, PASSWORD)
    imap.select("INBOX")
    imap_uids = [int(u) for u in imap.uid("SEARCH", "ALL")[1][0].split()]
    check(len(imap_uids) >= 2, f"need two messages in INBOX, IMAP shows {imap_uids}")
    p = poplib.POP3_SSL("localhost", int(pop3s_port), context=tls_context(data), timeout=10)
    p.user(ALICE)
    p.pass_(PASSWORD)
    uidl = {int(n): uid.decode() for n, uid in (line.split() for line in p.uidl()[1])}
    pop_uids = [int(uidl[n][:8], 16) for n in sorted(uidl)]
    check(pop_uids == imap_uids, f"UIDL {uidl} does not name IMAP's UIDs {imap_uids}")
    p.dele(1)
    imap.noop()
    check("EXPUNGE" not in imap.untagged_responses, "IMAP saw a deletion before the POP3 QUIT")
    p.quit()
    imap.noop()
    check(imap.untagged_responses.pop("EXPUNGE", None) == [b"1"], "IMAP did not get EXPUNGE 1 after QUIT")
    after = [int(u) for u in imap.uid("SEARCH", "ALL")[1][0].split()]
    check(after == imap_uids[1:], f"IMAP shows {after} after the POP3 deletion of UID {imap_uids[0]}")
    imap.logout()
    ok(f"POP3 and IMAP agree: UIDL = IMAP UIDs {imap_uids}; DELE+QUIT reached the selected IMAP session as EXPUNGE")


if __name__ == "__main__":
    mode, data, *ports = sys.argv[1:]
    {
        "deliver": deliver,
        "poplib": poplib_checks,
        "dev": dev_checks,
        "throttle": throttle_checks,
        "imap": imap_agreement,
    }[mode](data, *ports)
