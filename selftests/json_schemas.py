#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The JSON Schemas of Documentation/schemas/, for the tests.

    json_schemas.py validate NAME [FILE]   FILE (default stdin) is one document
    json_schemas.py lines NAME [FILE]      each non-empty line is one document
    json_schemas.py batch LIST             each line of LIST is 'NAME FILE' or
                                           'NAME FILE lines': all of them, in
                                           one start of Python; each problem
                                           on a line that starts with FILE
    json_schemas.py check                  every schema is a valid draft 2020-12
                                           schema whose $refs resolve, is used by
                                           selftests/test_schemas.sh, and the
                                           documentation's examples match theirs

NAME is a schema's file name without .schema.json (status, info, ...).  The
schemas refer to each other by relative file name (common.schema.json#/...),
resolved against the file that holds the reference, as for a schema read
from disk.  Works with Debian 12's python3-jsonschema (4.10, RefResolver)
and with later ones (4.18 and on, the referencing library).  Exits 1 with
the errors on stdout when a document does not match.
"""

import json
import os
import re
import sys

import jsonschema
from jsonschema import Draft202012Validator

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(TOP, "Documentation", "schemas")
SUFFIX = ".schema.json"
# The selftest that must use every schema.
SELFTEST = os.path.join(TOP, "selftests", "test_schemas.sh")
# Documentation examples: the JSON of the literal lines that follow a
# marker, and the schema it must match.
EXAMPLES = [
    ("Documentation/uapi.rst", "``ASM_IOC_GET_TELEMETRY_JSON``\nwrites::", "status"),
    ("Documentation/uapi.rst", "``ASM_IOC_GET_AGENT_INFO_JSON`` writes::", "info"),
    ("Documentation/admin-guide.rst", "$ asmctl monitor --json --type exit", "monitor"),
    ("Documentation/gateway.rst", "Response document::", "llm"),
]


def load_all():
    """Every schema, by file name."""
    return {
        f: json.load(open(os.path.join(SCHEMAS, f), encoding="utf-8"))
        for f in sorted(os.listdir(SCHEMAS))
        if f.endswith(SUFFIX)
    }


def validator(store, name):
    """A validator of schema NAME that resolves references within STORE."""
    uri = name + SUFFIX
    schema = store[uri]
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:
        # jsonschema before 4.18.
        resolver = jsonschema.RefResolver(uri, schema, store=store)
        return Draft202012Validator(schema, resolver=resolver)
    registry = Registry().with_resources(
        (f, Resource.from_contents(s, default_specification=DRAFT202012))
        for f, s in store.items()
    )
    # A schema without $id has the base URI it is registered under only
    # through a reference: refer to the schema itself.
    return Draft202012Validator({"$ref": uri}, registry=registry)


def errors(v, doc, indent=""):
    """The errors of DOC, as lines; those of each alternative where none of
    a oneOf or anyOf matched."""
    out = []
    for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        out += error_lines(e, "")
    return out


def error_lines(e, indent):
    path = "/".join(str(p) for p in e.absolute_path) or "(document)"
    if not e.context:
        return [f"{indent}{path}: {e.message[:300]}"]
    out = [f"{indent}{path}: no alternative of its {e.validator} matches:"]
    for sub in sorted(e.context, key=lambda s: list(s.relative_schema_path)):
        out += error_lines(sub, indent + f"  [{sub.relative_schema_path[0]}] ")
    return out


def validate(name, text, lines, store=None, label=None):
    """Checks TEXT, a NAME document (or one a line); prints each problem on
    a line of its own that starts with LABEL; returns how many documents
    do not match."""
    store = store or load_all()
    label = label or name
    if name + SUFFIX not in store:
        print(f"{label}: no schema {name}{SUFFIX} in {SCHEMAS}")
        return 1
    v = validator(store, name)
    docs = [l for l in text.splitlines() if l.strip()] if lines else [text]
    if not docs:
        print(f"{label}: no document")
        return 1
    bad = 0
    for i, doc in enumerate(docs, 1):
        where = f"{label} line {i}" if lines else label
        try:
            parsed = json.loads(doc)
        except ValueError as e:
            print(f"{where}: not JSON: {e}")
            bad += 1
            continue
        errs = errors(v, parsed)
        if errs:
            bad += 1
            print(f"{where}: does not match {name}{SUFFIX}:")
            for e in errs:
                print(f"{where}:   {e}")
            print(f"{where}:   the document: {json.dumps(parsed)[:2000]}")
    return bad


def refs(node):
    """Every $ref in NODE."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def example(path, marker):
    """The JSON of the indented lines that follow MARKER in PATH."""
    text = open(os.path.join(TOP, path), encoding="utf-8").read()
    at = text.find(marker)
    if at < 0:
        raise ValueError(f"{path}: no '{marker}'")
    block = []
    for line in text[at + len(marker):].split("\n")[1:]:
        if not line.strip():
            if block:
                break
            continue
        if not line.startswith(" "):
            break
        block.append(line)
    return json.loads("\n".join(block))


def check():
    store = load_all()
    problems = []
    used = open(SELFTEST, encoding="utf-8").read()
    for f, schema in store.items():
        name = f[: -len(SUFFIX)]
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problems.append(f"{f}: not a valid draft 2020-12 schema: {e.message}")
            continue
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problems.append(f"{f}: $schema is not draft 2020-12")
        v = validator(store, name)
        for ref in sorted(set(refs(schema))):
            target = ref if ref.split("#")[0] else f + ref
            try:
                v.evolve(schema={"$ref": target}).is_valid(None)
            except Exception as e:  # An unresolvable reference, in any version.
                problems.append(f"{f}: $ref {ref} does not resolve: {str(e)[:200]}")
        # common holds definitions only; the others are documents, and a
        # test validates each (schema_is or schema_lines NAME in the
        # selftest).
        if name != "common" and not re.search(rf"\bschema_(is|lines) {re.escape(name)}(\s|$)", used, re.M):
            problems.append(f"{f}: no test in {os.path.relpath(SELFTEST, TOP)} uses it")
    for path, marker, name in EXAMPLES:
        try:
            doc = example(path, marker)
        except ValueError as e:
            problems.append(f"{path}: the example after '{marker}': {e}")
            continue
        for e in errors(validator(store, name), doc):
            problems.append(f"{path}: the example after '{marker}' does not match {name}: {e}")
    for p in problems:
        print(p)
    print(f"{len(store)} schemas, {len(EXAMPLES)} documentation examples: "
          f"{'OK' if not problems else str(len(problems)) + ' problems'}")
    return 1 if problems else 0


def main(argv):
    if argv[1:2] == ["check"] and len(argv) == 2:
        return check()
    if len(argv) == 3 and argv[1] == "batch":
        store = load_all()
        bad = n = 0
        for line in open(argv[2], encoding="utf-8"):
            name, path, *mode = line.split()
            text = open(path, encoding="utf-8").read()
            bad += validate(name, text, mode == ["lines"], store, path)
            n += 1
        print(f"checked {n} documents, {bad} do not match")
        return 1 if bad else 0
    if len(argv) in (3, 4) and argv[1] in ("validate", "lines"):
        text = open(argv[3], encoding="utf-8").read() if len(argv) == 4 else sys.stdin.read()
        return 1 if validate(argv[2], text, argv[1] == "lines") else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
