"""Selection: which records are one story, and which stories each feed shows.

``stories`` groups the copies of one story (by URL, by title, and by what the
records say: ``similarity``); ``collector`` is the pure per-topic selection that
the feeds and the digest share, and ``showing`` how each chosen story is shown
(its best copy, excerpt and related list). No I/O anywhere in this package.

Who may import it: ``config``, ``rendering``, ``build`` and the newsletter. It
imports only ``feeds.model``, ``urls`` and ``reading`` (topic definitions,
signatures).
"""
