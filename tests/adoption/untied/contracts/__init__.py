"""What the project's modules tell each other: events and query ports."""
