"""Mail: what every message we send shares, whatever it carries.

``smtp`` is the transport (one reusable connection, one message with retries);
``returnpath`` the keyed Message-ID and VERP envelope sender that let returned
mail prove it is ours. (What an address is, is ``newsletter.addresses``: the
config checks its addresses by the same rule.)

Who may import it: ``issue``, ``audience``, ``sending``, ``web``, ``runtime``,
``cli``. It imports only ``newsletter.config`` and ``errors``.
"""
