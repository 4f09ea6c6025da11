"""The operator's report: what the newsletter is doing, from the state database,
the issue archive and the published feeds.

``figures`` gathers the numbers (readers over time, sign-ups, sends, bounce and
complaint rates, clicks, feed sizes) into plain values and JSON; ``page`` draws
them as one self-contained HTML page with static SVG charts. Who may import it:
``web`` (the report behind Basic auth) and ``cli`` (``feedletter report``). It
imports the config, the state and the issue archive.
"""
