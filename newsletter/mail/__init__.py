"""Mail: what every message we send shares, whatever it carries.

``smtp`` is the transport (one reusable connection, one message with retries);
``addresses`` the one rule for a reader's address and for header-safe values;
``returnpath`` the keyed Message-ID and VERP envelope sender that let returned
mail prove it is ours.

Who may import it: ``issue``, ``audience``, ``sending``, ``web``, ``runtime``,
``cli``. It imports only ``newsletter.config`` and ``errors``.
"""
