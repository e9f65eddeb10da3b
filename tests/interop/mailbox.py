#!/usr/bin/env python3
"""Prints the messages of one mailbox of an account straight from the store (read-only), for
interop checks. Usage: mailbox.py DATA_DIR ADDRESS [MAILBOX (default INBOX)]"""
import os
import sqlite3
import sys

data, address = sys.argv[1], sys.argv[2].lower()
mailbox = sys.argv[3] if len(sys.argv) > 3 else "INBOX"
db = sqlite3.connect(f"file:{os.path.join(data, 'mailstead.db')}?mode=ro", uri=True)
rows = db.execute(
    """SELECT b.hash, b.data FROM messages m
       JOIN mailboxes x ON m.mailbox = x.id JOIN accounts a ON x.account = a.id
       JOIN blobs b ON b.hash = m.blob
       WHERE a.lookup = ? AND x.name = ? ORDER BY m.uid""",
    (address, mailbox),
).fetchall()
for digest, body in rows:
    if body is None:
        with open(os.path.join(data, "blobs", digest[:2], digest), "rb") as f:
            body = f.read()
    sys.stdout.write(body.decode("utf-8", "replace"))
    sys.stdout.write("=====\n")
