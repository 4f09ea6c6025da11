"""Sending: an issue to every active reader, exactly once, however runs overlap.

``delivery`` plans a run (who, which variant) and sends it over one or more
SMTP connections, recording every outcome; ``claims`` keeps several senders
from mailing one reader twice; ``testsend`` mails an issue to a few addresses
outside the send log.

Who may import it: ``runtime`` and ``cli``. It imports ``issue``, ``audience``,
``mail``, ``state``, ``config``, ``errors`` and ``feeds``.
"""
