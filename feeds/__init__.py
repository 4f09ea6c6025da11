"""feedletter's feed half: read article records, select per topic, write feeds.

Stages, one module each: ``records`` (parse one file into an ``Article``),
``corpus`` (load a folder, collect rejections), ``topics`` (topic definitions and
membership), ``collector`` (the pure per-topic selection), ``feedwriter`` (Atom and
RSS bytes), ``site`` (index page and OPML), ``output`` (atomic writing), and
``build`` (the pipeline that ties them together).

This package must never import ``newsletter``: the digest depends on feeds, not
the other way round.
"""

__version__ = "0.1.0"
