"""Validates SARIF logs against the SARIF 2.1.0 JSON schema and reads them back with
sarif-tools, an independent consumer. Used by tests/sarif.rs.

usage: check.py SCHEMA LOG...

Prints one JSON object: per log, the schema errors (empty when valid) and what sarif-tools
read: tool names, result count and one record per result.
"""

import json
import sys

import jsonschema
from sarif import loader


def main():
    schema_path, logs = sys.argv[1], sys.argv[2:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    out = {"validator": validator_class.__name__, "logs": {}}
    for path in logs:
        with open(path, encoding="utf-8") as f:
            log = json.load(f)
        errors = sorted(
            f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(log)
        )
        sarif = loader.load_sarif_file(path)
        out["logs"][path] = {
            "schema_errors": errors,
            "tools": sorted(sarif.get_distinct_tool_names()),
            "result_count": sarif.get_result_count(),
            "records": sorted(
                [r["Location"], r["Line"], r["Code"], r["Severity"]]
                for r in sarif.get_records()
            ),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
