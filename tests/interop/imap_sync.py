#!/usr/bin/env python3
"""Helpers for tests/interop/imap_sync.sh (mbsync, mutt and fetchmail against Mailstead's IMAP).

Usage:
  imap_sync.py deliver  DATA SMTP_PORT ADDRESS COUNT TAG     # COUNT messages by smtplib
  imap_sync.py append   DATA IMAPS_PORT ADDRESS MAILBOX COUNT TAG [FLAGS]   # COUNT IMAP APPENDs
  imap_sync.py server-edit DATA IMAPS_PORT ADDRESS          # flag/unflag/delete/append server-side
  imap_sync.py maildir-edit MAILDIR                         # the same on mbsync's Maildir side
  imap_sync.py compare  DATA IMAPS_PORT ADDRESS MAILDIR     # both sides agree exactly; prints the count
  imap_sync.py expect-after-sync DATA IMAPS_PORT ADDRESS    # each edit went the right way
  imap_sync.py state    DATA IMAPS_PORT ADDRESS MAILBOX     # prints "count seen flagged deleted"
  imap_sync.py expect-mutt DATA IMAPS_PORT ADDRESS          # the outcome of the mutt session

Every message carries a unique Message-ID; the two sides are matched by it and compared on
flags and exact bytes. Two differences are mbsync's own and allowed: the Maildir holds LF line
ends where IMAP has CRLF, and each message mbsync copies (either way) gains an `X-TUID:` header
field, its marker for finding the copy again after an interrupted sync. The server side is read through
IMAP (imaplib over IMAPS), the way a client sees it, not from the store.
"""
import imaplib
import os
import re
import smtplib
import ssl
import sys

# Maildir info flags (the ":2," suffix) and the IMAP system flags mbsync maps them to.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


# The scripts run from the repository root or from here: find verdict.py beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verdict import check, fail, ok  # noqa: E402


def password(address):
    return f"password-of-{address}"


def login(data, port, address):
    ctx = ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem"))
    m = imaplib.IMAP4_SSL("localhost", int(port), ssl_context=ctx, timeout=30)
    m.login(address, password(address))
    return m


def message(tag, i, address, extra=""):
    """A small message whose body varies in length and has a long line and a blank line."""
    filler = " ".join(f"word{tag}{i}x{k}" for k in range(i % 17 * 5))
    return (
        f"From: Sender {i} <sender{i}@remote.test>\r\nTo: {address}\r\n"
        f"Subject: {tag} message {i}\r\nMessage-ID: <{tag}-{i}@remote.test>\r\n"
        f"Date: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\r\n{extra}\r\n"
        f"Body of {tag} {i}.\r\n\r\n{filler}\r\n"
    ).encode()


def deliver(data, smtp_port, address, count, tag):
    s = smtplib.SMTP("127.0.0.1", int(smtp_port), timeout=30)
    for i in range(1, int(count) + 1):
        s.sendmail(f"sender{i}@remote.test", [address], message(tag, i, address))
    s.quit()
    ok(f"delivered {count} '{tag}' messages to {address} by SMTP")


def append(data, port, address, mailbox, count, tag, flags=None):
    m = login(data, port, address)
    for i in range(1, int(count) + 1):
        typ, dat = m.append(mailbox, flags, None, message(tag, i, address, "X-Appended: yes\r\n"))
        check(typ == "OK" and b"APPENDUID" in dat[0], f"APPEND to {mailbox}: {typ} {dat}")
    m.logout()
    ok(f"appended {count} '{tag}' messages to {address} {mailbox} by IMAP (flags {flags})")


def server_messages(m, mailbox):
    """{message-id: (flags, bytes)} of a mailbox, read with UID FETCH (BODY.PEEK[] FLAGS)."""
    typ, dat = m.select(f'"{mailbox}"', readonly=True)
    check(typ == "OK", f"SELECT {mailbox}: {dat}")
    out = {}
    if int(dat[0]) == 0:
        return out
    typ, dat = m.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE BODY.PEEK[])")
    check(typ == "OK", f"UID FETCH {mailbox}: {dat}")
    for item in dat:
        if not isinstance(item, tuple):
            continue
        meta, body = item[0].decode(), item[1]
        flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split())
        size = int(re.search(r"RFC822\.SIZE (\d+)", meta).group(1))
        check(size == len(body), f"{mailbox}: RFC822.SIZE {size} but BODY[] has {len(body)} bytes: {meta}")
        mid = message_id(body)
        check(mid not in out, f"{mailbox}: Message-ID {mid} twice on the server")
        out[mid] = (flags - {"\\Recent"}, body)
    return out


def server_mailboxes(m):
    typ, dat = m.list('""', "*")
    check(typ == "OK", f"LIST: {dat}")
    names = []
    for line in dat:
        name = line.decode().rsplit(" ", 1)[1].strip('"')
        if "\\Noselect" not in line.decode() and "\\NonExistent" not in line.decode():
            names.append(name)
    return names


def untuid(body):
    """The message without the X-TUID header field mbsync adds to each message it copies."""
    head, sep, rest = body.partition(b"\r\n\r\n")
    return re.sub(rb"(^|\r\n)X-TUID: [^\r]*", rb"", head) + sep + rest


def message_id(body):
    found = re.search(rb"^Message-ID: *(<[^>]+>)", body, re.M | re.I)
    check(found is not None, f"a message without Message-ID: {body[:200]!r}")
    return found.group(1).decode()


def maildir_folders(root):
    """{mailbox name: folder path}: INBOX plus every folder mbsync made (SubFolders Verbatim)."""
    out = {}
    for dirpath, dirnames, _ in os.walk(root):
        if {"cur", "new", "tmp"} <= set(dirnames):
            name = os.path.relpath(dirpath, root)
            out[name] = dirpath
    return out


def maildir_messages(folder):
    """{message-id: (flags, bytes, path)} of one Maildir folder."""
    out = {}
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(folder, sub)):
            path = os.path.join(folder, sub, f)
            with open(path, "rb") as fh:
                body = fh.read()
            info = f.split(":2,", 1)[1] if ":2," in f else ""
            flags = {MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS}
            mid = message_id(body)
            check(mid not in out, f"{folder}: Message-ID {mid} twice in the Maildir")
            out[mid] = (flags, body, path)
    return out


def compare(data, port, address, root):
    m = login(data, port, address)
    local = maildir_folders(root)
    remote = server_mailboxes(m)
    total = 0
    for name in sorted(set(local) | set(remote)):
        check(name in remote, f"Maildir folder {name} has no mailbox on the server: {remote}")
        srv = server_messages(m, name)
        if name not in local:
            check(not srv, f"server mailbox {name} has {len(srv)} messages but no Maildir folder")
            continue
        loc = maildir_messages(local[name])
        check(set(srv) == set(loc),
              f"{name}: only on server {sorted(set(srv) - set(loc))[:5]}, only in Maildir {sorted(set(loc) - set(srv))[:5]}")
        for mid, (flags, body) in srv.items():
            lflags, lbody, path = loc[mid]
            check(flags == lflags, f"{name} {mid}: server flags {sorted(flags)}, Maildir {sorted(lflags)} ({path})")
            check(untuid(body) == untuid(lbody.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")),
                  f"{name} {mid}: bytes differ: server {len(body)}, Maildir {len(lbody)} ({path})")
            check(b"\r\n" not in lbody or lbody.count(b"\r\n") == lbody.count(b"\n"), f"{path}: mixed line ends")
        total += len(srv)
    m.logout()
    print(f"{total}")


def state(data, port, address, mailbox):
    m = login(data, port, address)
    msgs = server_messages(m, mailbox)
    m.logout()
    seen = sum(1 for f, _ in msgs.values() if "\\Seen" in f)
    flagged = sum(1 for f, _ in msgs.values() if "\\Flagged" in f)
    deleted = sum(1 for f, _ in msgs.values() if "\\Deleted" in f)
    print(f"{len(msgs)} {seen} {flagged} {deleted}")


def server_edit(data, port, address):
    """On the server: flags changed on INBOX messages 1-30, 10 expunged, 1 new appended."""
    m = login(data, port, address)
    typ, dat = m.select("INBOX")
    check(typ == "OK", f"SELECT: {dat}")
    typ, dat = m.uid("SEARCH", "HEADER", "Subject", '"smtp message"')
    uids = dat[0].split()
    # smtp-N messages have UIDs in delivery order; address them by their Message-ID number.
    by_n = {}
    typ, dat = m.uid("FETCH", b",".join(uids), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for item in dat:
        if isinstance(item, tuple):
            uid = re.search(rb"UID (\d+)", item[0]).group(1)
            n = int(re.search(rb"<smtp-(\d+)@", item[1]).group(1))
            by_n[n] = uid
    sel = lambda ns: b",".join(by_n[n] for n in ns)
    check(m.uid("STORE", sel(range(1, 11)), "+FLAGS", "(\\Seen)")[0] == "OK", "STORE +Seen")
    check(m.uid("STORE", sel(range(11, 21)), "+FLAGS", "(\\Flagged \\Answered)")[0] == "OK", "STORE +Flagged")
    check(m.uid("STORE", sel(range(291, 301)), "+FLAGS", "(\\Deleted)")[0] == "OK", "STORE +Deleted")
    typ, dat = m.expunge()
    check(typ == "OK" and len([d for d in dat if d]) == 10, f"EXPUNGE of 10: {dat}")
    check(m.append("INBOX", "(\\Flagged)", None, message("srvnew", 1, address))[0] == "OK", "APPEND")
    m.logout()
    ok("server side: +Seen on smtp 1-10, +Flagged +Answered on 11-20, expunged 291-300, appended 1")


def maildir_edit(root):
    """In the Maildir: flags changed on smtp 21-40, 41-50 removed, 51-55 trashed (T), 1 new."""
    inbox = maildir_folders(root)["INBOX"]
    msgs = maildir_messages(inbox)
    num = lambda mid: int(re.match(r"<smtp-(\d+)@", mid).group(1)) if mid.startswith("<smtp-") else None

    def set_flags(path, letters):
        base = os.path.basename(path).split(":2,")[0]
        new = os.path.join(inbox, "cur", f"{base}:2,{''.join(sorted(letters))}")
        os.rename(path, new)

    for mid, (flags, _, path) in msgs.items():
        n = num(mid)
        letters = {k for k, v in MAILDIR_FLAGS.items() if v in flags}
        if n is not None and 21 <= n <= 40:
            set_flags(path, letters | {"F", "S"})
        elif n is not None and 41 <= n <= 50:
            os.unlink(path)
        elif n is not None and 51 <= n <= 55:
            set_flags(path, letters | {"T"})
    # A new message, as a local delivery agent or a mail client would write it.
    name = "1800000000.M1P1.localhost"
    with open(os.path.join(inbox, "tmp", name), "wb") as f:
        f.write(message("localnew", 1, "alice@example.test").replace(b"\r\n", b"\n"))
    os.rename(os.path.join(inbox, "tmp", name), os.path.join(inbox, "new", name))
    # A new folder with two messages: mbsync creates it on the server (Create Both).
    folder = os.path.join(root, "Projects")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for i in (1, 2):
        with open(os.path.join(folder, "cur", f"18000000{i}0.M{i}P1.localhost:2,S"), "wb") as f:
            f.write(message("project", i, "alice@example.test").replace(b"\r\n", b"\n"))
    ok("Maildir side: +Flagged +Seen on smtp 21-40, removed 41-50, trashed 51-55, 1 new, folder Projects with 2")


def expect_after_sync(data, port, address):
    """The specific outcome of both edits once synced, checked on the server."""
    m = login(data, port, address)
    inbox = server_messages(m, "INBOX")
    for n in range(1, 301):
        mid = f"<smtp-{n}@remote.test>"
        gone = 41 <= n <= 55 or 291 <= n <= 300
        check((mid in inbox) != gone, f"{mid}: {'still on' if gone else 'missing from'} the server")
        if gone:
            continue
        flags = inbox[mid][0]
        if n <= 10:
            check("\\Seen" in flags, f"{mid}: {flags}")
        elif n <= 20:
            check({"\\Flagged", "\\Answered"} <= flags, f"{mid}: {flags}")
        elif n <= 40:
            check({"\\Flagged", "\\Seen"} <= flags, f"{mid}: lacks the flags set in the Maildir: {flags}")
        else:
            check(not flags & {"\\Flagged", "\\Deleted"}, f"{mid}: unexpected {flags}")
    for mid in ("<localnew-1@remote.test>", "<srvnew-1@remote.test>"):
        check(mid in inbox, f"{mid} missing on the server")
    check("\\Flagged" in inbox["<srvnew-1@remote.test>"][0], "appended message lost \\Flagged")
    projects = server_messages(m, "Projects")
    check(len(projects) == 2 and all("\\Seen" in f for f, _ in projects.values()), f"Projects: {projects.keys()}")
    m.logout()
    ok("after the second sync: each flag change, deletion, trash and new message went the right way")


def expect_mutt(data, port, address):
    """mutt read message 1 (Seen), flagged message 2 and deleted message 3 (expunged at quit)."""
    m = login(data, port, address)
    inbox = server_messages(m, "INBOX")
    m.logout()
    check(len(inbox) == 4, f"INBOX has {len(inbox)} messages, expected 4: {sorted(inbox)}")
    check("<mutt-3@remote.test>" not in inbox, "message 3 was not expunged")
    check("\\Seen" in inbox["<mutt-1@remote.test>"][0], f"message 1 not \\Seen: {inbox['<mutt-1@remote.test>'][0]}")
    check("\\Flagged" in inbox["<mutt-2@remote.test>"][0], f"message 2 not \\Flagged: {inbox['<mutt-2@remote.test>'][0]}")
    check("\\Seen" not in inbox["<mutt-4@remote.test>"][0], "message 4 marked \\Seen without being read")
    ok("mutt's changes are on the server: 1 \\Seen, 2 \\Flagged, 3 expunged, 4 and 5 untouched")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "deliver": deliver,
        "append": append,
        "compare": compare,
        "state": state,
        "server-edit": server_edit,
        "maildir-edit": maildir_edit,
        "expect-after-sync": expect_after_sync,
        "expect-mutt": expect_mutt,
    }[cmd](*args)
