#!/usr/bin/env python3
"""Python smtplib as a mail client on Mailstead's submission ports: STARTTLS + AUTH on 587,
implicit TLS on 465, plaintext AUTH on loopback in --dev, wrong passwords, MAIL before AUTH,
the sender rule on MAIL FROM and on the From header, an alias as sender, and the message that
is saved for the DKIM checks. Usage: submission_clients.py DATA_DIR PORT_587 PORT_465 PASSWORD OUT"""
import os
import smtplib
import ssl
import sys
from email.utils import formatdate, make_msgid

sys.path.insert(0, os.path.dirname(__file__))
from verdict import check, ok  # noqa: E402

data, port, ports, password, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=os.path.join(data, "tls", "cert.pem"))
ALICE = "alice@example.test"


def letter(subject, sender=ALICE, to="bob@example.test, carol@remote.test", dated=True):
    head = f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
    if dated:
        head += f"Date: {formatdate()}\r\nMessage-ID: {make_msgid(domain='example.test')}\r\n"
    return (head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + f"Hello Bob and Carol,\r\nthis is {subject}.\r\n").encode()


# 587: STARTTLS, certificate verified, then AUTH PLAIN; one local and one remote recipient.
with smtplib.SMTP("localhost", port, local_hostname="laptop.example.test", timeout=30) as s:
    s.ehlo()
    check(s.has_extn("starttls"), "587 offers STARTTLS")
    # --dev: plaintext AUTH is allowed on loopback, like IMAP and POP3.
    check(s.has_extn("auth"), "587 in --dev offers AUTH on loopback before TLS")
    code, text = s.mail(ALICE)
    check(code == 530 and text.startswith(b"5.7.0"), f"MAIL before AUTH: {code} {text!r}")
    s.rset()
    s.starttls(context=ctx)
    s.ehlo()
    check("PLAIN" in s.esmtp_features.get("auth", "") and "LOGIN" in s.esmtp_features.get("auth", ""),
          f"AUTH PLAIN LOGIN after STARTTLS: {s.esmtp_features.get('auth')}")
    try:
        s.login(ALICE, "wrong-password")
        check(False, "a wrong password is refused")
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, f"wrong password: {e.smtp_code} {e.smtp_error!r}")
    ok("587: MAIL before AUTH gets 530 5.7.0, a wrong password 535")
    s.login(ALICE, password)
    msg = letter("smtplib 587")
    refused = s.sendmail(ALICE, ["bob@example.test", "carol@remote.test"], msg)
    check(refused == {}, f"587 submission accepted: {refused}")
    ok("587: STARTTLS, AUTH and a message to a local and a remote recipient")

    # The sender rule.
    code, text = s.mail("bob@example.test")
    check(code == 553 and text.startswith(b"5.7.1"), f"MAIL FROM another account: {code} {text!r}")
    s.rset()
    try:
        s.sendmail(ALICE, ["bob@example.test"], letter("forged", sender="bob@example.test", to="bob@example.test"))
        check(False, "a From header of another account is refused")
    except smtplib.SMTPDataError as e:
        check(e.smtp_code == 550 and b"5.7.1" in e.smtp_error, f"forged From: {e.smtp_code} {e.smtp_error!r}")
    s.rset()
    refused = s.sendmail("sales@example.test", ["bob@example.test"],
                         letter("as an alias", sender="sales@example.test", to="bob@example.test"))
    check(refused == {}, "an alias of the account may be the sender")
    ok("587: another account's address refused (553 MAIL, 550 From header); an alias accepted")

# 465: implicit TLS, AUTH LOGIN; a message without Date and Message-ID, kept for the DKIM checks.
with smtplib.SMTP_SSL("localhost", ports, local_hostname="laptop.example.test", context=ctx, timeout=30) as s:
    s.ehlo()
    check(not s.has_extn("starttls"), "465 offers no STARTTLS")
    check(s.sock.version() in ("TLSv1.3", "TLSv1.2"), f"465 TLS {s.sock.version()}")
    s.login(ALICE, password, initial_response_ok=False)
    msg = letter("smtplib 465", dated=False)
    s.sendmail(ALICE, ["bob@example.test", "carol@remote.test"], msg)
    with open(out, "wb") as f:
        f.write(msg)
    ok("465: implicit TLS, AUTH LOGIN, a message without Date and Message-ID")
