"""feedletter's newsletter half: the digest, its readers, delivery, and the CLI.

One subpackage per job, each importing only those below it
(``tests/test_architecture.py`` holds them to it):

- ``state``: the database (SQLite or PostgreSQL): the one owner of the SQL.
- ``mail``: SMTP, addresses, the headers and keyed references of what we send.
- ``issue``: one digest issue: plan, render, the MIME message, the archive.
- ``audience``: subscribers and their status machine, tokens, sign-up mail,
  returned mail, CSV import and export.
- ``sending``: delivering an issue to every reader once; test sends.
- ``web``: ``feedletter serve``: the site, the reader pages, limits.
- ``runtime``: the one site build (feeds, digest, pings), jobs, the scheduler,
  the watcher, locks, ``init``.
- ``cli``: the ``feedletter`` command, one module per command group.

``config`` (every setting, validated once), ``addresses`` (the one rule for a mail
address), ``errors`` and ``replay`` (an unchanged ``build`` answered before the
rest is imported) sit beside them. It
builds on ``feeds`` (records, topics, the collector's selection) and never
re-implements any of it.
"""
