"""feedletter's feed half: read article records, select per topic, write feeds.

One subpackage per stage of the build, each importing only the stages before it
(``tests/test_architecture.py`` holds them to it):

- ``reading``: records, topics and the parse cache into ``Article`` values.
- ``selection``: stories and the collector's per-topic selection (pure).
- ``rendering``: the selection as Atom, RSS, JSON Feed, archives, pages, OPML.
- ``publishing``: writing ``output/`` atomically, and telling WebSub hubs.
- ``build``: the pipeline that runs the stages, and skips them when nothing changed.

Beside them, the vocabulary every stage shares: ``model`` (the data types),
``config`` (the settings, validated once), ``errors`` (one exception per
condition), ``text`` and ``urls``.

This package must never import ``newsletter``: the digest depends on the feeds,
not the other way round.
"""

__version__ = "0.1.0"
