#!/usr/bin/env python3
"""Prints the messages of one mailbox of an account straight from the store (read-only), for
interop checks; with --queue instead of an address, the messages in the outbound queue, each
after a line "queue ID held=0|1".
Usage: mailbox.py DATA_DIR ADDRESS [MAILBOX (default INBOX)] | mailbox.py DATA_DIR --queue"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from store_bytes import COLUMNS, body  # noqa: E402

data, address = sys.argv[1], sys.argv[2].lower()
mailbox = sys.argv[3] if len(sys.argv) > 3 else "INBOX"
db = sqlite3.connect(f"file:{os.path.join(data, 'mailstead.db')}?mode=ro", uri=True)
if address == "--queue":
    rows = db.execute(
        f"""SELECT 'queue ' || q.id || ' held=' || q.held, {COLUMNS} FROM queue q
           JOIN blobs b ON b.hash = q.blob ORDER BY q.id"""
    ).fetchall()
else:
    rows = db.execute(
        f"""SELECT NULL, {COLUMNS} FROM messages m
           JOIN mailboxes x ON m.mailbox = x.id JOIN accounts a ON x.account = a.id
           JOIN blobs b ON b.hash = m.blob
           WHERE a.lookup = ? AND x.name = ? ORDER BY m.uid""",
        (address, mailbox),
    ).fetchall()
for title, *location in rows:
    if title:
        sys.stdout.write(title + "\n")
    sys.stdout.write(body(data, *location).decode("utf-8", "replace"))
    sys.stdout.write("=====\n")
