#!/usr/bin/env python3
"""Prints the messages of one mailbox of an account straight from the store (read-only), for
interop checks; with --queue instead of an address, the messages in the outbound queue, each
after a line "queue ID held=0|1".
Usage: mailbox.py DATA_DIR ADDRESS [MAILBOX (default INBOX)] | mailbox.py DATA_DIR --queue"""
import os
import sqlite3
import sys

data, address = sys.argv[1], sys.argv[2].lower()
mailbox = sys.argv[3] if len(sys.argv) > 3 else "INBOX"
db = sqlite3.connect(f"file:{os.path.join(data, 'mailstead.db')}?mode=ro", uri=True)
if address == "--queue":
    rows = db.execute(
        """SELECT 'queue ' || q.id || ' held=' || q.held, b.hash, b.data FROM queue q
           JOIN blobs b ON b.hash = q.blob ORDER BY q.id"""
    ).fetchall()
else:
    rows = db.execute(
        """SELECT NULL, b.hash, b.data FROM messages m
           JOIN mailboxes x ON m.mailbox = x.id JOIN accounts a ON x.account = a.id
           JOIN blobs b ON b.hash = m.blob
           WHERE a.lookup = ? AND x.name = ? ORDER BY m.uid""",
        (address, mailbox),
    ).fetchall()
for title, digest, body in rows:
    if title:
        sys.stdout.write(title + "\n")
    if body is None:
        with open(os.path.join(data, "blobs", digest[:2], digest), "rb") as f:
            body = f.read()
    sys.stdout.write(body.decode("utf-8", "replace"))
    sys.stdout.write("=====\n")
