"""Query ports across the network: signed internal HTTP calls to the providing service."""
