"""Tests that drive the system Chromium through the running application."""
