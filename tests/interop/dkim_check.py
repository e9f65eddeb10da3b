#!/usr/bin/python3
"""Verifies every DKIM-Signature of messages with dkimpy (Debian's python3-dkim), asking the
test's own DNS server instead of the system resolver. Exits non-zero unless every signature of
every message verifies. Usage: dkim_check.py DNS_PORT MESSAGE_FILE..."""
import sys

import dkim
import dns.resolver

port, files = int(sys.argv[1]), sys.argv[2:]
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = port


def txt(name, timeout=5):
    answer = resolver.resolve(name.decode(), "TXT", lifetime=timeout)
    return b"".join(answer[0].strings)


for path in files:
    with open(path, "rb") as f:
        message = f.read()
    d = dkim.DKIM(message)
    count = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
    if count < 2:
        print(f"FAIL: {path}: {count} DKIM signatures, expected Ed25519 and RSA", file=sys.stderr)
        sys.exit(1)
    verified = []
    for idx in range(count):
        if not d.verify(idx=idx, dnsfunc=txt):
            print(f"FAIL: {path}: signature {idx + 1} of {count} does not verify", file=sys.stderr)
            sys.exit(1)
        fields = d.signature_fields
        verified.append(f"{fields[b'a'].decode()} (s={fields[b's'].decode()})")
    print(f"ok - dkimpy verifies {' and '.join(verified)} of {path.rsplit('/', 1)[-1]}")
