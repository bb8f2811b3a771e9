#!/usr/bin/env python3
"""Checks Package.swift's module graph against the imports in the sources (issue 23).

Usage: tools/module_edges.py [--markdown]   (run from the repository root; needs `swift`)

Reads the resolved targets from `swift package describe --type json`, lists every target's
`import`s (`@testable import` included) in its folder, and reports
  - unused edges: a declared target dependency the target never imports (a C shim a Swift target
    links through another module's headers counts as used when any of its modules imports it);
  - undeclared imports: a project module imported without being declared (it builds only by
    accident of another edge).
Exits 1 when either list is not empty. `--markdown` prints the graph as docs/ARCHITECTURE.md's table.
"""
import json
import os
import re
import subprocess
import sys

IMPORT = re.compile(r"^\s*(?:@\w+\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:struct|class|enum|func|protocol)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def targets():
    out = subprocess.run(["swift", "package", "describe", "--type", "json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out[out.index("{"):])["targets"]


def imports(folder):
    found = set()
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".swift"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    found.update(IMPORT.findall(f.read()))
    return found


def main():
    all_targets = targets()
    names = {t["name"] for t in all_targets}
    module_names = {t.get("c99name", t["name"]): t["name"] for t in all_targets}
    swift_targets = [t for t in all_targets if t.get("module_type") == "SwiftTarget"]
    unused, undeclared, rows = [], [], []
    for t in sorted(swift_targets, key=lambda t: t["path"]):
        declared = set(t.get("target_dependencies", []))
        used = {module_names.get(m, m) for m in imports(t["path"])} & names
        for d in sorted(declared - used):
            unused.append(f"{t['name']} declares {d} and never imports it")
        for m in sorted(used - declared - {t["name"]}):
            undeclared.append(f"{t['name']} imports {m} without declaring it")
        rows.append((t["name"], t["type"], sorted(declared & used)))
    if "--markdown" in sys.argv:
        print("| module | kind | depends on (imports) |\n|---|---|---|")
        for name, kind, deps in rows:
            print(f"| {name} | {kind} | {', '.join(deps) or '-'} |")
        return
    for line in unused + undeclared:
        print(line)
    print(f"module_edges: {len(swift_targets)} Swift targets, {len(unused)} unused edges, {len(undeclared)} undeclared imports")
    sys.exit(1 if unused or undeclared else 0)


if __name__ == "__main__":
    main()
