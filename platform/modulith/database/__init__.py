"""The database layer: database URLs as Django's entries (`urls`), the router that sends each
module's models to its database (`router`), and the bus's tables in every module database with
the statements made on them (`store`). Its parts sit at different layers, so this package
imports none of them."""
