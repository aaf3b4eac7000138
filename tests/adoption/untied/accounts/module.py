"""Accounts' manifest: it publishes UserRegistered, and notes each subscription."""

from contracts.accounts import UserRegistered
from contracts.newsletter import Subscribed
from modulith import Module

manifest = Module(
    name="accounts",
    app="accounts",
    database="default",
    publishes=(UserRegistered,),
    handles={Subscribed: "accounts.handlers.on_subscribed"},
)
