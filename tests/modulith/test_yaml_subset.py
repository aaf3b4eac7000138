"""The deployment files' YAML writer: what it writes reads back as what it was given."""

from typing import Any

import yaml

from modulith.tooling.deployment.yaml_subset import to_yaml


def test_nested_mappings_and_lists_of_mappings_read_back_unchanged() -> None:
    document: dict[str, Any] = {
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "args": ["web"],
                    "env": [{"name": "DJANGO_DEBUG", "value": "0"}],
                    "ports": [{"containerPort": 8000}],
                },
                {"name": "sidecar", "resources": {}},
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
            "none": [],
        }
    }

    assert yaml.safe_load("\n".join(to_yaml(document))) == document


def test_strings_that_yaml_would_read_as_something_else_stay_strings() -> None:
    document = {
        "values": ["0", "443", "on", "no", "null", "${IMAGE}", "/health/ready", '[{"HTTP": 80}]'],
        "true": True,
        "count": 2,
    }

    assert yaml.safe_load("\n".join(to_yaml(document))) == document
