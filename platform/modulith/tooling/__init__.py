"""What the management commands build on, above the running framework: the scaffold of a new
module, deployment files, extraction plans and the rolling flip, adoption by an existing
project (`adoption`), and the schemas of a project's events."""
