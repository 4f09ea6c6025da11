"""Publishing: putting generated files in place, and telling the world.

``output`` writes a tree of files into ``output/`` atomically, byte-stable (an
unchanged file is not touched), with a manifest per owner and a guard against
unpublishing most of a site by mistake; ``websub`` pings the hubs about the
feeds a build changed and retries pings that failed.

Who may import it: ``build`` and the newsletter (the digest's files, its pings).
It imports only ``feeds.config`` and ``errors``.
"""
