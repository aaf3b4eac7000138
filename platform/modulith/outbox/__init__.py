"""The transactional outbox: events stored with the publisher's writes, delivered after commit."""
