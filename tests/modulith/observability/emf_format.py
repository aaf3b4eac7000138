"""Checks a line against CloudWatch's embedded metric format: the schema written from its
specification (schemas/emf.schema.json), and the rules a schema cannot state."""

import json
import time
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "emf.schema.json").read_text())
# The specification's limits: a document is at most 1 MB; a metric has at most 100 values;
# CloudWatch takes timestamps up to two weeks old and two hours ahead.
MAX_BYTES = 1024 * 1024
MAX_VALUES = 100
PAST_SECONDS = 14 * 24 * 3600
FUTURE_SECONDS = 2 * 3600


def emf_document(line: str) -> dict[str, Any]:
    """The document on `line`, or AssertionError naming the rule it breaks."""
    assert len(line.encode()) <= MAX_BYTES, "an EMF document is at most 1 MB"
    document: dict[str, Any] = json.loads(line)
    jsonschema.validate(document, SCHEMA)
    timestamp = document["_aws"]["Timestamp"] / 1000
    assert time.time() - PAST_SECONDS <= timestamp <= time.time() + FUTURE_SECONDS
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                assert isinstance(document.get(key), str), f"dimension {key} is not a string member"
        for metric in directive["Metrics"]:
            value = document.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= MAX_VALUES, metric["Name"]
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), (
                f"metric {metric['Name']} has no number as its member"
            )
    return document


def metrics_in(document: dict[str, Any]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every metric the document defines, by name and dimensions (as Prometheus names a
    sample by name and labels)."""
    found = {}
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            labels = frozenset((key, document[key]) for key in dimension_set)
            for metric in directive["Metrics"]:
                found[(metric["Name"], labels)] = document[metric["Name"]]
    return found
