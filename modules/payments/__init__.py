"""Payments: charging for orders through a (simulated) payment gateway."""
