"""Running feedletter: the site build, on a schedule or on every change.

``jobs`` are the scheduled jobs (the feed build, the digest send);
``scheduler`` runs them with APScheduler; ``watch``
rebuilds when an input changes; ``locks`` keeps processes from colliding;
``scaffold`` lays out a new project (``feedletter init``).

Who may import it: ``cli``. It imports every other part of the newsletter but
``web`` and ``cli``.
"""
