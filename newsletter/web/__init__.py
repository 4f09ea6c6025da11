"""``feedletter serve``: the site over HTTP and the reader-facing endpoints.

``app`` is the Starlette application (the output folder, the preview's live
reload, the routes); ``endpoints`` answers the reader pages (sign-up, confirm,
preferences, unsubscribe), translating HTTP to ``audience`` calls and nothing
more; ``ratelimit`` counts requests per client and per reader; ``guard`` bounds
what one process accepts from the network.

Who may import it: ``cli``. It imports ``audience``, ``mail``, ``state``,
``config``, ``errors`` and ``feeds.rendering`` (the page templates).
"""
