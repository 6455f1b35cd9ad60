#!/usr/bin/env python3
"""Check stack files against schema/stack.schema.json.

Usage: python3 schema/validate.py [FILE...]
Without arguments, checks every stack file under examples/stacks/ (the
supporting files in examples/stacks/files/ are skipped).
Needs: pip install jsonschema pyyaml

YAML is read with YAML 1.2 booleans (only true/false), like the docker CLI 28
(yaml.v3) and editors do: PyYAML's default would turn `yes`/`on` into booleans.
The schema checks files as written, before ${VAR} substitution.
"""

import json
import pathlib
import re
import sys

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "stack.schema.json"


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader whose implicit booleans are YAML 1.2's true/false only."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def default_files():
    base = ROOT / "examples" / "stacks"
    return sorted(p for p in base.rglob("*.yml") if "files" not in p.relative_to(base).parts)


def main(argv):
    files = [pathlib.Path(a) for a in argv] or default_files()
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    failed = 0
    for path in files:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            failed += 1
            print(f"FAIL {path}")
            for err in errors:
                # For oneOf/anyOf failures, show the most relevant alternative's error.
                leaf = jsonschema.exceptions.best_match(err.context) if err.context else err
                print(f"  {err.json_path}: {leaf.message}")
        else:
            print(f"ok   {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
