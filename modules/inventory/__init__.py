"""Inventory: the catalogue, stock levels and reservations."""
