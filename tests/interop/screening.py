#!/usr/bin/env python3
"""Port 25 screening with smtplib against the unbound test zone of screening.sh: SPF, DKIM
(signed by dkimpy's dkimsign), DMARC pass/fail/reject/quarantine, the forwarder exception, a
DNS blocklist hit from 127.0.0.2, a URI blocklist hit, and forged trust headers.
Usage: screening.py DATA_DIR SMTP_PORT DKIM_KEY"""
import os
import smtplib
import subprocess
import sys
import time
from email.utils import formatdate, make_msgid

sys.path.insert(0, os.path.dirname(__file__))
from verdict import check, ok  # noqa: E402

data, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
here = os.path.dirname(__file__)


def message(domain, subject, body="Hello Alice, see you on Friday.\r\n", extra=""):
    return (
        f"From: News <news@{domain}>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
        f"Date: {formatdate()}\r\nMessage-ID: {make_msgid(domain=domain)}\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def sign(raw, domain):
    out = subprocess.run(["dkimsign", "sel", domain, key], input=raw, capture_output=True, check=True)
    return out.stdout


def send(raw, sender, source="127.0.0.1"):
    """Sends; returns (code, text) of the reply to the end of data."""
    with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=30) as s:
        s.ehlo("client.remote.test")
        s.mail(sender)
        s.rcpt("alice@example.test")
        code, text = s.data(raw)
        return code, text.decode()


def mailbox(name):
    out = subprocess.run(
        ["python3", os.path.join(here, "mailbox.py"), data, "alice@example.test", name],
        capture_output=True, text=True, check=True,
    ).stdout
    return [m for m in out.split("=====\n") if m.strip()]


def find(name, subject):
    for _ in range(50):
        for m in mailbox(name):
            if f"Subject: {subject}\n" in m.replace("\r\n", "\n"):
                return m
        time.sleep(0.1)
    return None


def header_block(m):
    return m.replace("\r\n", "\n").split("\n\n", 1)[0]


# 1. SPF pass + DKIM pass, aligned: DMARC pass, INBOX.
code, text = send(sign(message("pass.test", "signed and sent from its network"), "pass.test"), "news@pass.test")
check(code == 250, f"pass.test: {code} {text}")
m = find("INBOX", "signed and sent from its network")
check(m is not None, "pass.test message not in INBOX")
h = header_block(m)
for part in ["Authentication-Results: mx.example.test", "spf=pass", "dkim=pass", "header.i=@pass.test", "dmarc=pass"]:
    check(part in h, f"{part!r} missing in:\n{h}")
check("X-Spam-Status: No" in h, f"no X-Spam-Status: No in:\n{h}")
ok("SPF and DKIM pass, DMARC pass: INBOX with Authentication-Results")

# 2. SPF fails but the aligned DKIM signature passes: DMARC pass.
code, text = send(sign(message("dkimonly.test", "dkim carries it"), "dkimonly.test"), "news@dkimonly.test")
check(code == 250, f"dkimonly.test: {code} {text}")
h = header_block(find("INBOX", "dkim carries it") or "")
check("spf=fail" in h and "dkim=pass" in h and "dmarc=pass" in h, f"dkimonly:\n{h}")
ok("SPF fail, DKIM pass: DMARC pass, delivered")

# 3. A forged sender of a p=reject domain.
try:
    code, text = send(message("forged.test", "forged"), "news@forged.test")
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error.decode()
check(code == 550 and "5.7.1" in text and "DMARC policy of forged.test" in text, f"forged.test: {code} {text}")
ok("DMARC p=reject failure refused with 550 5.7.1")

# 4. A signature broken in transit (body changed after signing), SPF fail: refused.
signed = sign(message("dkimonly.test", "tampered"), "dkimonly.test").replace(b"Friday", b"Monday")
try:
    code, text = send(signed, "news@dkimonly.test")
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error.decode()
check(code == 550 and "5.7.1" in text, f"tampered: {code} {text}")
ok("DKIM body hash mismatch + SPF fail: refused")

# 5. p=quarantine failure: delivered into Junk.
code, text = send(message("quar.test", "quarantined"), "news@quar.test")
check(code == 250, f"quar.test: {code} {text}")
m = find("Junk", "quarantined")
check(m is not None and "dmarc=fail" in header_block(m), f"quar.test not in Junk with dmarc=fail: {m}")
check(find("INBOX", "quarantined") is None, "quarantined message also in INBOX")
ok("DMARC p=quarantine failure filed into Junk")

# 6. A trusted forwarder relays mail of a p=reject domain it cannot authenticate.
code, text = send(message("forged.test", "via the list"), "bounces@lists.test")
check(code == 250, f"forwarded: {code} {text}")
m = find("INBOX", "via the list")
check(m is not None and "dmarc=fail" in header_block(m), f"forwarded message: {m}")
ok("trusted forwarder: DMARC failure accepted and recorded")

# 7. Forged trust headers are removed; others' results stay.
forged = (
    "Authentication-Results: mx.example.test; dmarc=pass header.from=pass.test\r\n"
    "X-Spam-Status: No, score=-50\r\nX-Spam-Score: -50\r\n"
    "Authentication-Results: upstream.example; arc=pass\r\n"
)
code, text = send(message("pass.test", "forged results", extra=forged), "news@pass.test")
check(code == 250, f"forged results: {code} {text}")
h = header_block(find("INBOX", "forged results") or "")
check(h.count("Authentication-Results: mx.example.test") == 1, f"ours once:\n{h}")
check("score=-50" not in h and "X-Spam-Score: -50" not in h, f"forged spam headers kept:\n{h}")
check("Authentication-Results: upstream.example; arc=pass" in h, f"upstream results lost:\n{h}")
ok("forged Authentication-Results and X-Spam-* removed")

# 8. From 127.0.0.2, the address every DNS blocklist lists for testing (RFC 5782 §5).
code, text = send(message("pass.test", "from a listed address"), "news@pass.test", source="127.0.0.2")
check(code == 250, f"listed: {code} {text}")
h = header_block(find("INBOX", "from a listed address") or find("Junk", "from a listed address") or "")
check("DNSBL_BL_TEST=2.0" in h, f"no DNSBL hit:\n{h}")
check("REFUSING_TEST" not in h, f"a refusing list counted as a listing:\n{h}")
ok("DNS blocklist hit for the client address (and a refusing list not counted)")

# 9. A link to a domain on the URI blocklist.
body = "Cheap offer: http://www.spammy-link.test/buy now\r\n"
code, text = send(message("pass.test", "listed link", body=body), "news@pass.test")
check(code == 250, f"uribl: {code} {text}")
h = header_block(find("INBOX", "listed link") or find("Junk", "listed link") or "")
check("URIBL_DBL_TEST=2.5" in h, f"no URIBL hit:\n{h}")
ok("URI blocklist hit for a linked domain")

# 10. Enough rules to reach the junk threshold: Junk with X-Spam-Status: Yes.
spam = (
    "From: \"security@bank.example\" <news@pass.test>\r\nTo: alice@example.test\r\n"
    "Subject: VERIFY YOUR ACCOUNT NOW!!!\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n"
    "<a href=\"http://192.0.2.66/login\">https://bank.example/login</a>\r\n"
).encode()
code, text = send(spam, "news@pass.test")
check(code == 250, f"spam: {code} {text}")
m = find("Junk", "VERIFY YOUR ACCOUNT NOW!!!")
check(m is not None, "spammy message not in Junk")
h = header_block(m)
check("X-Spam-Status: Yes" in h and "FROM_DISPLAY_SPOOF" in h and "URI_TEXT_MISMATCH" in h, f"spam:\n{h}")
ok("content rules over the junk threshold: filed into Junk")
