"""One digest issue: the same selection as the feeds, planned, rendered, filed.

``plan`` decides what goes in (pure: periods, sections, scores); ``render``
makes the HTML and text parts (Jinja2, premailer) and the web copy; ``message``
turns them into one reader's MIME message; ``archive`` holds the issue's files,
private and public, and the archive index and feed; ``pipeline`` ties them
together (``make_issue``, ``write_issue``, which period is due).

Who may import it: ``sending``, ``runtime``, ``cli``. It imports ``feeds``,
``newsletter.config``, ``errors`` and ``mail``.
"""
