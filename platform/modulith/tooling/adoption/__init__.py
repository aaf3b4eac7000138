"""Adopting modulith in an existing project: what ties a module to the shared database
(`ties`), moving its data to a database of its own (`datamove`), and the import boundaries
with their baseline (`boundaries`)."""
