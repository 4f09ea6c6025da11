"""Rendering: a selection into bytes (pure functions; nothing is written here).

``feed`` renders Atom 1.0 and RSS 2.0 with feedgen; ``jsonfeed`` JSON Feed 1.1;
``archives`` RFC 5005 archive documents; ``pages`` the index and topic pages and
the OPML list through the one Jinja environment of ``templating``; ``layout``
says where each output lives (paths under ``output/``, public URLs).

Who may import it: ``build`` and the newsletter (the digest and the reader pages
use ``templating`` and ``pages``). It imports ``model``, ``config``, ``urls``,
``reading`` (topics) and ``selection`` (the selection's types).
"""
