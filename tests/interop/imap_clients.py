#!/usr/bin/env python3
"""IMAP interop checks with Python's imaplib against a running Mailstead.

Usage:
  imap_clients.py deliver  DATA SMTP_PORT COUNT          # COUNT messages to alice via smtplib
  imap_clients.py commands DATA IMAP_PORT IMAPS_PORT     # every command, STARTTLS, IMAPS
  imap_clients.py concurrent DATA IMAPS_PORT SMTP_PORT   # two sessions see each other; IDLE push
  imap_clients.py hostile  DATA IMAPS_PORT               # limits and bad input get BAD/NO

Each check asserts exact values (UIDs, flags, counts, bytes); the script exits non-zero with
FAIL and the reason at the first mismatch.
"""
import imaplib
import os
import re
import smtplib
import socket
import ssl
import sys
import threading
import time
import zlib

# imaplib refuses commands it has no entry for.
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED", "LOGOUT"))

ALICE = "alice@example.test"
PASSWORD = "password-of-alice@example.test"


# The scripts run from the repository root or from here: find verdict.py beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verdict import check, fail, ok  # noqa: E402


def ctx(data):
    c = ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem"))
    c.check_hostname = False
    return c


def imaps(data, port):
    return imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx(data))


def login(data, port):
    m = imaps(data, port)
    m.login(ALICE, PASSWORD)
    return m


def expect(result, what, status="OK"):
    typ, dat = result
    check(typ == status, f"{what}: expected {status}, got {typ} {dat}")
    return dat


def is_bad(m, *command):
    """Whether the command gets BAD (imaplib raises on BAD)."""
    try:
        m._simple_command(*command)
    except imaplib.IMAP4.error as e:
        return "BAD" in str(e)
    return False


def deliver(data, smtp_port, count):
    s = smtplib.SMTP("127.0.0.1", int(smtp_port))
    for i in range(1, int(count) + 1):
        body = (
            f"From: Sender {i} <sender{i}@remote.test>\r\nTo: {ALICE}\r\n"
            f"Subject: imap test {i}\r\nMessage-ID: <imap-{i}@remote.test>\r\n"
            f"Date: Mon, {i} Nov 2026 10:00:00 +0000\r\n\r\nBody number {i}, word{i}.\r\n"
        )
        s.sendmail(f"sender{i}@remote.test", [ALICE], body)
    s.quit()
    ok(f"delivered {count} messages by SMTP")


def commands(data, port, sport):
    # --- STARTTLS on 143, LOGINDISABLED before it ---
    m = imaplib.IMAP4("127.0.0.1", int(port))
    check("LOGINDISABLED" in m.capabilities, f"plaintext capabilities lack LOGINDISABLED: {m.capabilities}")
    check("STARTTLS" in m.capabilities, "STARTTLS not offered")
    typ, dat = m._simple_command("LOGIN", ALICE, PASSWORD)
    check(typ == "NO" and b"PRIVACYREQUIRED" in dat[-1], f"LOGIN without TLS: {typ} {dat}")
    m.starttls(ssl_context=ctx(data))
    check("AUTH=PLAIN" in m.capabilities, f"after STARTTLS: {m.capabilities}")
    expect(m.login(ALICE, PASSWORD), "LOGIN after STARTTLS")
    m.logout()
    ok("STARTTLS: LOGINDISABLED before, LOGIN refused in plaintext, accepted after")

    # --- IMAPS, AUTHENTICATE PLAIN ---
    m = imaps(data, sport)
    check(m.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())[0] == "OK", "AUTH PLAIN")
    typ, dat = m.capability()
    caps = dat[0].decode().split()
    for c in ["IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "ESEARCH", "SPECIAL-USE",
              "LIST-STATUS", "COMPRESS=DEFLATE", "SORT", "THREAD=REFERENCES", "QUOTA", "NAMESPACE"]:
        check(c in caps, f"capability {c} missing: {caps}")
    ok("IMAPS + AUTHENTICATE PLAIN; capabilities after login")

    # --- LIST / special use / NAMESPACE / STATUS ---
    names = [l.decode() for l in expect(m.list('""', "*"), "LIST")]
    for special, name in [("\\Sent", "Sent"), ("\\Trash", "Trash"), ("\\Junk", "Junk"), ("\\Drafts", "Drafts")]:
        check(any(special in l and f'"{name}"' in l for l in names), f"LIST lacks {special} {name}: {names}")
    expect(m.namespace(), "NAMESPACE")
    dat = expect(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE)"), "STATUS")
    status = dat[0].decode()
    check("MESSAGES 5" in status and "UNSEEN 5" in status, f"STATUS INBOX: {status}")
    ok("LIST with special-use, NAMESPACE, STATUS")

    # --- SELECT, FETCH ---
    dat = expect(m.select("INBOX"), "SELECT")
    check(dat == [b"5"], f"SELECT EXISTS: {dat}")
    typ, dat = m.fetch("1:5", "(UID FLAGS RFC822.SIZE ENVELOPE)")
    check(typ == "OK" and len(dat) == 5, f"FETCH 1:5: {dat}")
    check(b'"imap test 1"' in dat[0] and b"sender1" in dat[0], f"ENVELOPE: {dat[0]}")
    typ, dat = m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check(dat[0][1].strip() == b"Subject: imap test 2", f"HEADER.FIELDS: {dat}")
    typ, dat = m.fetch("2", "(BODY.PEEK[TEXT]<0.11>)")
    check(dat[0][1] == b"Body number", f"partial: {dat}")
    typ, dat = m.fetch("2", "(FLAGS)")
    check(b"\\Seen" not in dat[0], "PEEK set \\Seen")
    typ, dat = m.fetch("2", "(BODY[TEXT])")
    check(b"\\Seen" in b"".join(x if isinstance(x, bytes) else x[0] for x in dat), f"BODY[] did not set \\Seen: {dat}")
    typ, dat = m.fetch("3", "(BODYSTRUCTURE BINARY.SIZE[1] BINARY.PEEK[1])")
    check(typ == "OK" and b'"TEXT" "plain"' in dat[0][0], f"BODYSTRUCTURE/BINARY: {dat}")
    check(is_bad(m, "FETCH", "9", "(FLAGS)"), "FETCH of a missing message number must be BAD")
    ok("SELECT; FETCH ENVELOPE, HEADER.FIELDS, partial, PEEK vs \\Seen, BODYSTRUCTURE, BINARY")

    # --- SEARCH / ESEARCH / SORT / THREAD ---
    dat = expect(m.search(None, "UNSEEN"), "SEARCH UNSEEN")
    check(dat == [b"1 3 4 5"], f"SEARCH UNSEEN: {dat}")
    dat = expect(m.search("UTF-8", "BODY", "word4"), "SEARCH BODY")
    check(dat == [b"4"], f"SEARCH BODY word4: {dat}")
    dat = expect(m.uid("SEARCH", "OR", "SUBJECT", '"test 1"', "FROM", "sender5"), "UID SEARCH OR")
    check(dat == [b"1 5"], f"UID SEARCH OR: {dat}")
    typ, dat = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    esearch = m.untagged_responses.pop("ESEARCH", [b""])[0].decode()
    check(typ == "OK" and "MIN 1" in esearch and "MAX 5" in esearch and "COUNT 5" in esearch, f"ESEARCH: {esearch}")
    typ, dat = m.sort("(REVERSE DATE)", "UTF-8", "ALL")
    check(dat == [b"5 4 3 2 1"], f"SORT REVERSE DATE: {dat}")
    typ, dat = m.thread("REFERENCES", "UTF-8", "ALL")
    check(typ == "OK" and dat[0].count(b"(") == 5, f"THREAD: {dat}")
    typ, dat = m._simple_command("SEARCH", "CHARSET", "KOI8-R", "ALL")
    check(typ == "NO", f"unknown charset: {typ}")
    ok("SEARCH (flags, BODY, OR), ESEARCH, SORT, THREAD, BADCHARSET")

    # --- STORE, COPY, MOVE, EXPUNGE, UIDPLUS ---
    dat = expect(m.store("1", "+FLAGS", "(\\Flagged $Work)"), "STORE")
    check(b"\\Flagged" in dat[0] and b"$Work" in dat[0], f"STORE +FLAGS: {dat}")
    dat = expect(m.store("1", "-FLAGS.SILENT", "($Work)"), "STORE.SILENT")
    check(dat == [None], f"silent STORE answered: {dat}")
    typ, dat = m.copy("1:2", "Archive")
    check(typ == "OK" and b"COPYUID" in dat[0], f"COPY: {dat}")
    typ, dat = m.uid("MOVE", "3", "Trash")
    check(typ == "OK", f"UID MOVE: {dat}")
    check(m.untagged_responses.pop("EXPUNGE", None) == [b"3"], "MOVE did not expunge seq 3")
    expect(m.store("1", "+FLAGS", "(\\Deleted)"), "STORE \\Deleted")
    typ, dat = m.expunge()
    check(typ == "OK" and dat == [b"1"], f"EXPUNGE: {dat}")
    dat = expect(m.uid("SEARCH", "ALL"), "UID SEARCH ALL")
    check(dat == [b"2 4 5"], f"after MOVE and EXPUNGE: {dat}")
    typ, dat = m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nhello\r\n")
    check(typ == "OK" and b"APPENDUID" in dat[0], f"APPEND: {dat}")
    typ, dat = m.append("Nope", None, None, b"Subject: x\r\n\r\nx\r\n")
    check(typ == "NO" and b"TRYCREATE" in dat[0], f"APPEND to a missing mailbox: {dat}")
    ok("STORE (+/-, SILENT), COPY/UID MOVE with COPYUID, EXPUNGE, APPEND with APPENDUID/TRYCREATE")

    # --- CREATE/RENAME/DELETE/SUBSCRIBE, UTF-7 names ---
    expect(m.create("Projects/2026"), "CREATE")
    expect(m.create("Entw&APw-rfe"), "CREATE UTF-7")
    names = b" ".join(expect(m.list('""', "*"), "LIST"))
    check(b'"Projects"' in names and b'"Projects/2026"' in names and b'"Entw&APw-rfe"' in names, f"LIST: {names}")
    expect(m.rename("Projects", "Work"), "RENAME")
    names = b" ".join(expect(m.list('""', "Work/%"), "LIST %"))
    check(b'"Work/2026"' in names, f"children follow RENAME: {names}")
    typ, dat = m.delete("Work")
    check(typ == "NO", "DELETE of a mailbox with children")
    expect(m.delete("Work/2026"), "DELETE child")
    expect(m.delete("Work"), "DELETE parent")
    expect(m.subscribe("Archive"), "SUBSCRIBE")
    dat = expect(m.lsub('""', "*"), "LSUB")
    check(any(b'"Archive"' in l for l in dat), f"LSUB: {dat}")
    typ, dat = m.delete("INBOX")
    check(typ == "NO", "DELETE INBOX must fail")
    ok("CREATE (parents), modified UTF-7, RENAME with children, DELETE rules, SUBSCRIBE/LSUB")

    # --- CONDSTORE/QRESYNC ---
    expect(m.unselect(), "UNSELECT")
    typ, dat = m._simple_command("ENABLE", "QRESYNC")
    check(typ == "OK" and m.untagged_responses.pop("ENABLED", [b""])[0] == b"QRESYNC", f"ENABLE: {dat}")
    expect(m.select("INBOX"), "SELECT after ENABLE")
    typ, dat = m._simple_command("UID", "FETCH", "1:*", "(FLAGS)", "(CHANGEDSINCE 1)")
    fetched = m.untagged_responses.pop("FETCH", [])
    check(typ == "OK" and all(b"MODSEQ" in f for f in fetched) and fetched, f"CHANGEDSINCE: {fetched}")
    # SELECT (QRESYNC ...): a client that knew the mailbox at an old MODSEQ learns what
    # vanished since (RFC 7162 §3.2.5.1).
    typ, dat = m.status("INBOX", "(UIDVALIDITY HIGHESTMODSEQ)")
    fields = re.search(rb"UIDVALIDITY (\d+).*HIGHESTMODSEQ (\d+)", dat[0])
    check(fields is not None, f"STATUS UIDVALIDITY HIGHESTMODSEQ: {dat}")
    uidvalidity, known_modseq = int(fields.group(1)), int(fields.group(2))
    uids_before = [int(u) for u in m.uid("SEARCH", "ALL")[1][0].split()]
    expect(m.uid("STORE", str(uids_before[0]), "+FLAGS.SILENT", "(\\Deleted)"), "STORE for QRESYNC")
    expect(m.uid("EXPUNGE", str(uids_before[0])), "UID EXPUNGE for QRESYNC")
    expect(m.unselect(), "UNSELECT before QRESYNC SELECT")
    typ, dat = m._simple_command("SELECT", "INBOX", f"(QRESYNC ({uidvalidity} {known_modseq}))")
    vanished = m.untagged_responses.pop("VANISHED", [b""])
    check(typ == "OK" and any(f"(EARLIER) {uids_before[0]}".encode() in v for v in vanished),
          f"SELECT QRESYNC: {typ} {vanished}")
    m.state = "SELECTED"
    ok("ENABLE QRESYNC, UID FETCH CHANGEDSINCE with MODSEQ, SELECT (QRESYNC) reports VANISHED (EARLIER)")

    # --- QUOTA, ID, UNSELECT, CLOSE ---
    expect(m._simple_command("GETQUOTAROOT", "INBOX"), "GETQUOTAROOT")
    typ, dat = m._simple_command("ID", '("name" "imaplib")')
    check(typ == "OK" and b"Mailstead" in m.untagged_responses.pop("ID", [b""])[0], "ID")
    expect(m._simple_command("UNSELECT"), "UNSELECT")
    check(is_bad(m, "FETCH", "1", "(FLAGS)"), "FETCH after UNSELECT must be BAD")
    expect(m.select("INBOX", readonly=True), "EXAMINE")
    typ, dat = m.store("1", "+FLAGS", "(\\Seen)")
    check(typ == "NO", f"STORE in EXAMINE: {typ}")
    expect(m.close(), "CLOSE")
    m.logout()
    ok("GETQUOTAROOT, ID, UNSELECT, EXAMINE is read-only, CLOSE, LOGOUT")

    # --- COMPRESS=DEFLATE by hand ---
    raw = socket.create_connection(("127.0.0.1", int(sport)))
    s = ctx(data).wrap_socket(raw)
    f = s.makefile("rb")
    f.readline()
    s.sendall(f"a LOGIN {ALICE} {PASSWORD}\r\n".encode())
    while not f.readline().startswith(b"a "):
        pass
    s.sendall(b"b COMPRESS DEFLATE\r\n")
    check(f.readline().startswith(b"b OK"), "COMPRESS refused")
    comp, decomp = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
    s.sendall(comp.compress(b"c NOOP\r\n") + comp.flush(zlib.Z_SYNC_FLUSH))
    got = b""
    deadline = time.time() + 5
    while b"c OK" not in got and time.time() < deadline:
        got += decomp.decompress(s.recv(4096))
    check(b"c OK" in got, f"no compressed reply: {got}")
    s.close()
    ok("COMPRESS=DEFLATE both ways")


def concurrent(data, sport, smtp_port):
    a = login(data, sport)
    b = login(data, sport)
    a.select("INBOX")
    exists_b = int(expect(b.select("INBOX"), "SELECT b")[0])
    # a stores a flag; b sees it at NOOP.
    expect(a.store("1", "+FLAGS", "(\\Answered)"), "STORE a")
    b.noop()
    fetches = b.untagged_responses.pop("FETCH", [])
    check(any(b"\\Answered" in f for f in fetches), f"b did not see a's flag: {fetches}")
    # a appends; b sees EXISTS.
    a.append("INBOX", None, None, b"Subject: from a\r\n\r\nx\r\n")
    b.noop()
    check(b.untagged_responses.pop("EXISTS", [b"0"])[-1] == str(exists_b + 1).encode(), "b did not see EXISTS")
    # a expunges; b is told only at a point where EXPUNGE is allowed (not during FETCH).
    expect(a.store("1", "+FLAGS", "(\\Deleted)"), "STORE \\Deleted")
    expect(a.expunge(), "EXPUNGE a")
    b.fetch("1", "(FLAGS)")
    check("EXPUNGE" not in b.untagged_responses, "EXPUNGE sent during FETCH")
    b.noop()
    check(b.untagged_responses.pop("EXPUNGE", None) == [b"1"], "b did not get EXPUNGE at NOOP")
    ok("two sessions: flags, new mail and expunges reach the other at the right moments")

    # IDLE: mail delivered by SMTP is pushed within a second.
    tag = b.sock
    b.send(b"I1 IDLE\r\n")
    line = b.readline()
    check(line.startswith(b"+"), f"IDLE continuation: {line}")
    t0 = time.time()
    threading.Thread(target=deliver, args=(data, smtp_port, 1)).start()
    b.sock.settimeout(5)
    pushed = b.readline()
    elapsed = time.time() - t0
    check(b"EXISTS" in pushed, f"IDLE pushed {pushed}")
    check(elapsed < 1.5, f"IDLE push took {elapsed:.2f}s")
    b.send(b"DONE\r\n")
    done = b.readline()
    while not done.startswith(b"I1 "):
        done = b.readline()
    check(done.startswith(b"I1 OK"), f"IDLE end: {done}")
    ok(f"IDLE: SMTP delivery pushed as EXISTS in {elapsed * 1000:.0f} ms")
    a.logout()
    b.logout()


def hostile(data, sport):
    def raw():
        s = ctx(data).wrap_socket(socket.create_connection(("127.0.0.1", int(sport))))
        s.settimeout(10)
        f = s.makefile("rb")
        f.readline()
        return s, f

    def reply(f, tag):
        while True:
            line = f.readline()
            if not line or line.startswith(tag):
                return line

    s, f = raw()
    s.sendall(b"a1 FROBNICATE\r\n")
    check(reply(f, b"a1").startswith(b"a1 BAD"), "unknown command")
    s.sendall(b"a2 SELECT INBOX\r\n")
    check(reply(f, b"a2").startswith(b"a2 BAD"), "SELECT before login")
    s.sendall(b"a3 LOGIN {99999999}\r\n")
    check(reply(f, b"a3").startswith(b"a3 BAD"), "huge literal in LOGIN")
    s.sendall(f"a4 LOGIN {ALICE} wrong-password\r\n".encode())
    line = reply(f, b"a4")
    check(line.startswith(b"a4 NO") and b"AUTHENTICATIONFAILED" in line, f"wrong password: {line}")
    s.sendall(f"a5 LOGIN {ALICE} {PASSWORD}\r\n".encode())
    check(reply(f, b"a5").startswith(b"a5 OK"), "login")
    s.sendall(b"a6 SELECT INBOX\r\n")
    reply(f, b"a6")
    s.sendall(b"a7 FETCH 1:4294967295 (FLAGS)\r\n")
    check(reply(f, b"a7").startswith(b"a7 "), "huge sequence set")
    s.sendall(b"a8 UID FETCH 1:4294967295 (UID)\r\n")
    check(reply(f, b"a8").startswith(b"a8 OK"), "huge UID set")
    s.sendall(b"a9 CREATE \"bad\x01name\"\r\n")
    check(reply(f, b"a9")[:5] in (b"a9 NO", b"a9 BA"), "control characters in a name")
    s.sendall(b"c1 CREATE {4+}\r\n\xff\xfe\x80x\r\n")
    check(reply(f, b"c1")[:5] in (b"c1 NO", b"c1 BA"), "invalid UTF-8 in a mailbox name")
    s.sendall(b"b1 CREATE \"&Jjo\"\r\n")
    check(reply(f, b"b1")[:5] in (b"b1 NO", b"b1 BA"), "broken modified UTF-7")
    s.sendall(b"b2 SEARCH " + b"NOT " * 5000 + b"ALL\r\n")
    check(reply(f, b"b2").startswith(b"b2 "), "deep nesting")
    s.sendall(b"b3 APPEND INBOX {999999999}\r\n")
    line = reply(f, b"b3")
    check(line.startswith(b"b3 BAD") or line.startswith(b"b3 NO"), f"APPEND over APPENDLIMIT: {line}")
    s.sendall(b"b4 NOOP\r\n")
    check(reply(f, b"b4").startswith(b"b4 OK"), "session still serves after the bad commands")
    # The server closes as soon as the line passes its limit, possibly before the client has
    # sent it all: a BYE or a closed connection are both the expected outcome.
    rest = b""
    try:
        s.sendall(b"x" * 200_000 + b"\r\n")
        rest = f.read()
    except (OSError, ssl.SSLError):
        rest = b"* BYE (connection closed by the server)"
    check(b"BYE" in rest, f"overlong line: {rest[:100]}")
    s.close()
    ok("hostile: unknown/out-of-state commands, literal and APPEND limits, wrong password, huge sets, "
       "bad names (control characters, invalid UTF-8, broken UTF-7), deep nesting, overlong line closes with BYE")

    # Password guessing is throttled (shared with POP3).
    blocked = False
    for i in range(40):
        s, f = raw()
        s.sendall(f"g{i} LOGIN {ALICE} guess{i}\r\n".encode())
        line = reply(f, f"g{i}".encode())
        s.close()
        if b"UNAVAILABLE" in line:
            blocked = True
            break
    check(blocked, "password guessing was never throttled")
    ok(f"password guessing throttled after {i} failures")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"deliver": deliver, "commands": commands, "concurrent": concurrent, "hostile": hostile}[cmd](*args)
