#!/usr/bin/env python3
"""Checks every dependency's licence against the allow list in deny.toml.

A package passes when its SPDX expression can be satisfied with allowed licences: for
`A OR B` one side must be allowed, for `A AND B` both. Exits 1 naming each offender.
"""
import json
import re
import subprocess
import sys
import tomllib

with open("deny.toml", "rb") as f:
    allowed = set(tomllib.load(f)["licenses"]["allow"])

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--locked"]))
workspace = set(meta["workspace_members"])


def tokens(expr):
    return re.findall(r"\(|\)|[A-Za-z0-9.+-]+(?: WITH [A-Za-z0-9.+-]+)?", expr.replace("/", " OR "))


def parse(toks):
    # expr := term (OR term)* ; term := atom (AND atom)* ; atom := ID | ( expr )
    def atom(i):
        if toks[i] == "(":
            v, i = expr(i + 1)
            return v, i + 1
        return toks[i] in allowed, i + 1

    def term(i):
        v, i = atom(i)
        while i < len(toks) and toks[i] == "AND":
            w, i = atom(i + 1)
            v = v and w
        return v, i

    def expr(i):
        v, i = term(i)
        while i < len(toks) and toks[i] == "OR":
            w, i = term(i + 1)
            v = v or w
        return v, i

    return expr(0)[0]


bad = []
for pkg in meta["packages"]:
    if pkg["id"] in workspace:
        continue
    lic = pkg.get("license")
    if not lic or not parse(tokens(lic)):
        bad.append(f'{pkg["name"]} {pkg["version"]}: {lic or "no licence field"}')
if bad:
    print("dependencies with licences outside deny.toml's allow list:")
    print("\n".join("  " + b for b in sorted(set(bad))))
    sys.exit(1)
print(f"licences ok: {len(meta['packages']) - len(workspace)} dependencies, all allowed")
