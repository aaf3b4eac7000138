"""The bus's tables, a copy in every module database (outbox events, their deliveries, inbox
records), and the statements the bus makes on them for every event."""
