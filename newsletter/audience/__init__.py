"""The audience: who gets the digest, and every way that changes.

``status`` is the status machine (a transition table) and the bounce decisions,
pure; ``lifecycle`` is the one place that changes a subscriber (sign-up, confirm,
preferences, unsubscribe, bounces, forget), applying those decisions;
``subscriber`` is the value it hands out; ``tokens`` signs the links in mail; ``notices``
sends the mail a sign-up asks for; ``bounces`` reads returned mail and decides
what it proves; ``csvfiles`` imports and exports the list.

Who may import it: ``sending``, ``web``, ``runtime``, ``cli``. It imports
``newsletter.state``, ``mail``, ``config``, ``errors`` and ``feeds.rendering``
(the notice templates).
"""
