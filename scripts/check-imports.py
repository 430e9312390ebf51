#!/usr/bin/env python3
"""Checks that every import of a project module is declared and used.

A Swift module can import any module that is built before it, so an import that Package.swift
does not declare compiles through transitive visibility and hides a layering mistake (issue
16: Backup imported HTTP without saying so). This check reads the package description
(`swift package dump-package`, or a JSON file given with --package-json) and every .swift file
of every target, and reports:

- undeclared: a file imports a module of this package (or a C system-library target) that its
  target does not list as a dependency;
- unused: a file imports a Swift module of this package but names none of the symbols that
  module declares (public or open declarations, the members of public extensions and
  protocols, and enum cases; with `@testable import`, internal declarations too).

The usage test is textual, so it errs on the side of "used": a module counts as used when any
of its declared names appears as a word in the importing file. It never compiles anything.

Exit status: 0 clean, 1 findings (one line each on stdout), 64 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

IMPORT_RE = re.compile(
    r"^\s*((?:@testable\s+|@_implementationOnly\s+|@preconcurrency\s+|internal\s+|public\s+|"
    r"package\s+|private\s+|fileprivate\s+)*)import\s+"
    r"(?:(?:struct|class|enum|protocol|typealias|func|let|var)\s+)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)
DECL_KEYWORDS = r"(?:func|struct|class|enum|protocol|typealias|let|var|actor|case|associatedtype)"
MODIFIERS = (
    r"(?:(?:final|static|class|mutating|nonmutating|nonisolated|override|indirect|convenience|"
    r"required|lazy|dynamic|optional|weak|unowned|consuming|borrowing|distributed|"
    r"@[A-Za-z_][A-Za-z0-9_]*(?:\([^)]*\))?)\s+)*"
)
PUBLIC_DECL_RE = re.compile(
    r"\b(?:public|open)\s+" + MODIFIERS + r"(?:private\(set\)\s+|internal\(set\)\s+)?"
    + MODIFIERS + DECL_KEYWORDS + r"\s+`?([A-Za-z_][A-Za-z0-9_]*)"
)
ANY_DECL_RE = re.compile(r"\b" + DECL_KEYWORDS + r"\s+`?([A-Za-z_][A-Za-z0-9_]*)")
# Operators declared public: `public static func == (…)` and friends.
PUBLIC_OPERATOR_RE = re.compile(r"\b(?:public|open)\s+" + MODIFIERS + r"func\s+([^\sA-Za-z_(]+)")
CASE_LIST_RE = re.compile(r"^\s*(?:indirect\s+)?case\s+([^=:\n{]+)", re.MULTILINE)
PUBLIC_CONTAINER_RE = re.compile(r"\b(?:public|open)\s+" + MODIFIERS + r"(?:extension|protocol|enum)\b")
WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
STRING_RE = re.compile(r'"""(?:.|\n)*?"""|"(?:\\.|[^"\\\n])*"')


def strip_comments(text: str) -> str:
    return COMMENT_RE.sub(" ", text)


def words_outside_strings(text: str) -> set[str]:
    # Interpolations inside strings can name symbols; keep them by only dropping literal parts.
    def keep_interpolations(match: re.Match[str]) -> str:
        return " ".join(re.findall(r"\\\(([^)]*)\)", match.group(0)))

    return set(WORD_RE.findall(STRING_RE.sub(keep_interpolations, text)))


def block_spans(text: str, start: int) -> str:
    """The text of the brace block that opens at or after `start`."""
    open_at = text.find("{", start)
    if open_at < 0:
        return ""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at : i + 1]
    return text[open_at:]


def declared_names(files: list[str], include_internal: bool) -> set[str]:
    names: set[str] = set()
    for path in files:
        text = strip_comments(read(path))
        if include_internal:
            names.update(ANY_DECL_RE.findall(text))
        names.update(PUBLIC_DECL_RE.findall(text))
        names.update(PUBLIC_OPERATOR_RE.findall(text))
        # Members of public extensions, protocols and enums are public without the keyword.
        for match in PUBLIC_CONTAINER_RE.finditer(text):
            body = block_spans(text, match.end())
            names.update(ANY_DECL_RE.findall(body))
            for case_list in CASE_LIST_RE.findall(body):
                for item in case_list.split(","):
                    word = WORD_RE.match(item.strip().lstrip("`"))
                    if word:
                        names.add(word.group(0))
    # Declaration keywords that the regexes can catch as names in odd syntax.
    return names - {"let", "var", "func", "case", "init", "self", "Self"}


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def swift_files(directory: str) -> list[str]:
    found = []
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".swift"):
                found.append(os.path.join(base, name))
    return found


def dependency_name(dep: dict) -> str:
    for key in ("byName", "target", "product"):
        if key in dep and dep[key]:
            return dep[key][0]
    return ""


def target_directory(root: str, target: dict) -> str:
    if target.get("path"):
        return os.path.join(root, target["path"])
    base = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(root, base, target["name"])


def check(root: str, package: dict) -> list[str]:
    targets = {t["name"]: t for t in package["targets"]}
    system = {name for name, t in targets.items() if t["type"] == "system"}
    swift_targets = {name for name, t in targets.items() if t["type"] != "system"}
    files_of = {
        name: swift_files(target_directory(root, t)) for name, t in targets.items() if name in swift_targets
    }
    # A regular target without Swift sources is C (CSystem): its imports are checked for being
    # declared, not for use, like a system library's.
    system |= {name for name in swift_targets if not files_of[name]}
    public_names: dict[str, set[str]] = {}
    internal_names: dict[str, set[str]] = {}
    findings = []
    for name in sorted(swift_targets):
        declared = {dependency_name(d) for d in targets[name].get("dependencies", [])}
        for path in files_of[name]:
            text = strip_comments(read(path))
            used_words = None
            for match in IMPORT_RE.finditer(text):
                attributes, module = match.group(1), match.group(2)
                if module not in targets or module == name:
                    continue
                line = text.count("\n", 0, match.start()) + 1
                where = f"{os.path.relpath(path, root)}:{line}"
                if module not in declared:
                    findings.append(
                        f"{where}: undeclared import of {module}: add it to the dependencies of "
                        f"target {name} in Package.swift, or remove the import"
                    )
                    continue
                if module in system:
                    continue
                testable = "@testable" in attributes
                cache = internal_names if testable else public_names
                if module not in cache:
                    cache[module] = declared_names(files_of[module], include_internal=testable)
                if used_words is None:
                    body = IMPORT_RE.sub(" ", text)
                    used_words = words_outside_strings(body)
                if not (cache[module] & used_words):
                    findings.append(f"{where}: unused import of {module}: nothing it declares is named here")
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="package root (default: .)")
    parser.add_argument("--package-json", help="output of `swift package dump-package` to use")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    try:
        if args.package_json:
            package = json.loads(read(args.package_json))
        else:
            out = subprocess.run(
                ["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True
            ).stdout
            package = json.loads(out)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as error:
        print(f"check-imports: cannot read the package description: {error}", file=sys.stderr)
        return 64
    findings = check(root, package)
    for finding in findings:
        print(finding)
    if findings:
        print(f"check-imports: {len(findings)} import problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
