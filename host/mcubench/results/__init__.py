"""Results people can use: the record schema, run history, comparisons and reports.

    validate(record)                 # UserError naming the bad fields
    history.add_result(record)       # store it (SQLite, results/history.sqlite)
    compare.compare(a, b)            # deltas per figure and per op; --fail-if thresholds
    report.write_report(records, out_dir)   # Markdown + self-contained HTML with plots

See docs/results-schema.md and docs/reports.md.
"""

from __future__ import annotations

from mcubench.results.schema import SCHEMA_ID, load_schema, validate, validation_errors

__all__ = ["SCHEMA_ID", "load_schema", "validate", "validation_errors"]
