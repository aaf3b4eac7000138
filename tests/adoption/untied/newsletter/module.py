"""Newsletter's manifest: it subscribes new users, and answers who reads what."""

from contracts.accounts import UserRegistered
from contracts.newsletter import NewsletterQueries, Subscribed
from modulith import Module

manifest = Module(
    name="newsletter",
    app="newsletter",
    database="default",
    publishes=(Subscribed,),
    handles={UserRegistered: "newsletter.handlers.on_user_registered"},
    provides={NewsletterQueries: "newsletter.queries.NewsletterQueriesImpl"},
)
