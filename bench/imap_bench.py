#!/usr/bin/env python3
"""The client side of bench/imap.sh: one plaintext IMAP client, the same for both servers.

Usage:
  imap_bench.py import HOST PORT USER PASS COUNT THREADS    # APPEND COUNT messages; prints msg/s
  imap_bench.py ops    HOST PORT USER PASS RUNS WORD        # SELECT, FETCH 1:* (FLAGS ENVELOPE),
                                                            # UID SEARCH BODY WORD; prints JSON
  imap_bench.py conns  HOST PORT USER PASS COUNT PID        # RSS/PSS of PID and its descendants
                                                            # before/after COUNT logged-in
                                                            # connections; prints JSON

A raw socket client (no imaplib): it sends one command and reads until the tagged reply, so
the time measured is the server's, not a Python parser's. The messages are generated from a
fixed seed: every run and both servers get the same 10,000 messages, and every 50th has WORD
("zanzibar") in its body, so the search has a known answer (COUNT / 50 hits).
"""
import json
import os
import random
import re
import socket
import statistics
import sys
import threading
import time

WORD = "zanzibar"
VOCAB = (
    "mail server message account delivery queue inbox folder meeting report project budget "
    "invoice release schedule review update question answer thanks regards please attached "
    "tomorrow yesterday morning evening weekend holiday office travel customer contract order"
).split()


def message(i):
    rnd = random.Random(i)
    words = lambda n: " ".join(rnd.choice(VOCAB) for _ in range(n))
    lines = []
    for _ in range(rnd.randint(5, 80)):
        lines.append(words(rnd.randint(6, 12)))
    if i % 50 == 0:
        lines.insert(rnd.randrange(len(lines)), f"see the {WORD} notes")
    cc = f"Cc: Carol {i % 7} <carol{i % 7}@example.org>\r\n" if i % 3 == 0 else ""
    reply = f"In-Reply-To: <bench-{i - 1}@example.org>\r\n" if i % 4 == 0 and i > 1 else ""
    return (
        f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\n"
        f"To: Bench User <bench@example.test>\r\n{cc}"
        f"Subject: {words(rnd.randint(2, 7))} #{i}\r\n"
        f"Date: {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][i % 7]}, {1 + i % 28} Oct 2026 "
        f"{i % 24:02d}:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n{reply}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "\r\n".join(lines)
        + "\r\n"
    ).encode()


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, int(port)), timeout=600)
        self.buf = bytearray()  # grows in place: a 3 MB FETCH response is not copied per read
        self.n = 0
        while b"\r\n" not in self.buf:  # the greeting
            self.recv()
        self.buf = bytearray()

    def recv(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise SystemExit(f"connection closed; last bytes {self.buf[-200:]!r}")
        self.buf += chunk

    def command(self, line, literal=None):
        """Sends a command (with a LITERAL+ literal if given); returns the whole response."""
        self.n += 1
        tag = f"B{self.n:05d} ".encode()
        if literal is None:
            self.sock.sendall(tag + line.encode() + b"\r\n")
        else:
            self.sock.sendall(tag + line.encode() + f" {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        # The tagged reply: at the start of the response or right after a CRLF. (A literal in
        # the response could hold the same bytes; these tags never appear in the messages.)
        searched = 0
        while True:
            at = 0 if self.buf.startswith(tag) else self.buf.find(b"\r\n" + tag, max(0, searched - 2))
            if at >= 0:
                end = self.buf.find(b"\r\n", at + 2)
                if end >= 0:
                    out = bytes(self.buf[: end + 2])
                    del self.buf[: end + 2]
                    status = out[out.rfind(tag) + len(tag) :]
                    if not status.startswith(b"OK"):
                        raise SystemExit(f"{line[:60]!r}: {status[:300]!r}")
                    return out
            searched = len(self.buf)
            self.recv()

    def login(self, user, password):
        self.command(f'LOGIN "{user}" "{password}"')
        return self


def connect(host, port, user, password):
    return Conn(host, port).login(user, password)


def do_import(host, port, user, password, count, threads):
    count, threads = int(count), int(threads)
    todo = list(range(1, count + 1))
    lock = threading.Lock()

    def worker():
        c = connect(host, port, user, password)
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop(0)
            c.command("APPEND INBOX ()", message(i))
        c.command("LOGOUT")
        c.sock.close()

    start = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"{count / (time.monotonic() - start):.0f}")


def timed(c, line):
    start = time.perf_counter()
    out = c.command(line)
    return time.perf_counter() - start, out


def ops(host, port, user, password, runs, word):
    c = connect(host, port, user, password)
    result = {"select": [], "fetch": [], "search": []}
    for _ in range(int(runs) + 1):  # the first run is reported separately as "cold"
        t, out = timed(c, "SELECT INBOX")
        exists = int(re.search(rb"\* (\d+) EXISTS", out).group(1))
        result["select"].append(t)
        t, out = timed(c, "FETCH 1:* (FLAGS ENVELOPE)")
        fetched = out.count(b" FETCH (")
        if fetched != exists:
            raise SystemExit(f"FETCH 1:* returned {fetched} of {exists}")
        result["fetch"].append(t)
        t, out = timed(c, f'UID SEARCH BODY "{word}"')
        hits = len(re.search(rb"\* SEARCH([ 0-9]*)", out).group(1).split())
        result["search"].append(t)
    out = {"exists": exists, "hits": hits, "fetch_bytes": len(out)}
    for k, v in result.items():
        out[k + "_cold"] = v[0]
        out[k] = statistics.median(v[1:])
    print(json.dumps(out))


def tree(root):
    """PID root and all its descendants."""
    children = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    out, todo = [], [int(root)]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory(root):
    """(RSS, PSS, process count, imap process count) of the tree, in KiB."""
    rss = pss = procs = imap = 0
    for p in tree(root):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                text = f.read()
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))
        pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
        procs += 1
        imap += comm == "imap"
    return rss, pss, procs, imap


def conns(host, port, user, password, count, pid):
    count = int(count)
    time.sleep(1)
    before = memory(pid)
    opened = []
    lock = threading.Lock()
    todo = list(range(count))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            c = connect(host, port, user, password)
            with lock:
                opened.append(c)

    start = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - start
    if len(opened) != count:
        raise SystemExit(f"opened {len(opened)} of {count}")
    time.sleep(2)
    # Every connection is still there and answers.
    for c in opened[:: max(1, count // 50)]:
        c.command("NOOP")
    after = memory(pid)
    for c in opened:
        c.sock.close()
    time.sleep(2)
    closed = memory(pid)
    print(json.dumps({
        "rss_closed": closed[0],
        "connect_login_s": elapsed,
        "rss_before": before[0], "rss_after": after[0],
        "pss_before": before[1], "pss_after": after[1],
        "procs_after": after[2], "imap_procs_after": after[3],
        "rss_per_conn": (after[0] - before[0]) / count,
        "pss_per_conn": (after[1] - before[1]) / count,
    }))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"import": do_import, "ops": ops, "conns": conns}[cmd](*args)
