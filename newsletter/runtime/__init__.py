"""Running feedletter: the site build, on a schedule or on every change.

``sitebuild`` is the one workflow "build the feeds → render the due digest →
ping the hubs" that ``feedletter build``, ``serve --watch`` and the scheduler
share, and the same loading and validation without writing (``check``);
``migrate`` is the one step that brings an older project up to date; ``jobs``
are the scheduled jobs (the site build, the digest send, the purge of sign-ups
never confirmed);
``scheduler`` runs them with APScheduler; ``watch``
rebuilds when an input changes; ``locks`` keeps processes from colliding;
``scaffold`` lays out a new project (``feedletter init``).

Who may import it: ``cli``. It imports every other part of the newsletter but
``web`` and ``cli``.
"""
