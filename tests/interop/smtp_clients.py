#!/usr/bin/env python3
"""Python smtplib against Mailstead's port 25: plain, STARTTLS with certificate verification,
refusals, pipelined and hostile raw dialogs. Usage: smtp_clients.py DATA_DIR SMTP_PORT"""
import os
import smtplib
import socket
import ssl
import sys

data, port = sys.argv[1], int(sys.argv[2])
failures = []


def check(cond, what):
    print(("ok - " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


msg = "From: py@remote.test\r\nTo: alice@example.test\r\nSubject: smtplib {}\r\nMessage-ID: <{}@remote.test>\r\n\r\nbody\r\n"

# Plain.
with smtplib.SMTP("127.0.0.1", port, local_hostname="py.remote.test") as s:
    code, _ = s.ehlo()
    check(code == 250 and s.has_extn("pipelining") and s.has_extn("chunking") and s.has_extn("starttls"), "EHLO lists PIPELINING, CHUNKING, STARTTLS")
    refused = s.sendmail("py@remote.test", ["alice@example.test"], msg.format("plain", "plain"))
    check(refused == {}, "plain delivery accepted")

# STARTTLS, verifying our self-signed certificate for localhost.
ctx = ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem"))
with smtplib.SMTP("localhost", port, local_hostname="py.remote.test") as s:
    s.starttls(context=ctx)
    code, resp = s.ehlo()
    check(b"STARTTLS" not in resp, "no STARTTLS offered after TLS")
    check(s.sock.version() in ("TLSv1.3", "TLSv1.2"), f"TLS version {s.sock.version()}")
    s.sendmail("py@remote.test", ["bob@example.test"], msg.format("tls", "tls"))
    check(True, "STARTTLS delivery accepted")

# Refusals.
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo("py.remote.test")
    s.mail("py@remote.test")
    code, text = s.rcpt("nobody@example.test")
    check(code == 550 and text.startswith(b"5.1.1"), f"unknown user: {code} {text!r}")
    code, text = s.rcpt("victim@elsewhere.test")
    check(code == 554 and text.startswith(b"5.7.1"), f"relay denied: {code} {text!r}")
    code, text = s.rcpt("alice+tag@example.test")
    check(code == 250, "plus-address accepted")
    code, text = s.data(msg.format("mixed", "mixed").encode())
    check(code == 250 and b"queued as" in text, f"DATA after partial refusal: {code} {text!r}")


def raw(lines, read_until=None):
    """Sends bytes on a fresh connection, returns everything the server says until it closes
    or `read_until` is seen."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    out = b""
    out += sock.recv(4096)
    sock.sendall(lines)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
            if read_until and read_until in out:
                break
    except socket.timeout:
        pass
    sock.close()
    return out.decode("latin-1")


# Pipelining in one packet.
out = raw(b"EHLO pipe\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: pipe\r\n\r\nx\r\n.\r\nQUIT\r\n", b"221")
codes = [l[:3] for l in out.split("\r\n") if len(l) > 3 and l[3] == " "]
check(codes == ["220", "250", "250", "250", "354", "250", "221"], f"pipelined replies in order: {codes}")

# NUL byte in the message.
out = raw(b"EHLO nul\r\nMAIL FROM:<n@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: nul\r\n\r\na\x00b\r\n.\r\nQUIT\r\n", b"221")
check("554 5.6.0" in out, "NUL in DATA refused with 554 5.6.0")

# Bare LF line ends are normalised and bare-LF dot does not end DATA (SMTP smuggling).
out = raw(b"EHLO lf\r\nMAIL FROM:<l@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: bare-lf\n\nline\n.\nRCPT TO:<evil@x>\n\r\n.\r\nQUIT\r\n", b"221")
check("250 2.0.0" in out and "evil" not in out.split("354")[1].split("250 2.0.0")[0], "bare LF normalised, no smuggling")

# Loop: too many Received headers.
looped = b"".join(b"Received: from a by b; Thu, 1 Jan 1970 00:00:00 +0000\r\n" for _ in range(120))
out = raw(b"EHLO loop\r\nMAIL FROM:<l@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n" + looped + b"\r\nx\r\n.\r\nQUIT\r\n", b"221")
check("554 5.4.6" in out, "mail loop refused with 554 5.4.6")

# A 2 MB line is refused without dropping the server.
out = raw(b"EHLO big\r\nNOOP " + b"x" * 2_000_000 + b"\r\nQUIT\r\n", b"221")
check("500 5.5.2" in out and "221" in out, "oversized command line refused, session continues")

# Too many errors closes the session.
out = raw(b"".join(b"BOGUS\r\n" for _ in range(20)))
check("421 4.7.0" in out, "too many errors -> 421 and close")

sys.exit(1 if failures else 0)
