"""Shared by the Python interop scripts: how a check reports (TAP-like `ok - ...` lines, and
`FAIL: ...` with a non-zero exit at the first mismatch)."""
import sys


def ok(what):
    print(f"ok - {what}")


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)
