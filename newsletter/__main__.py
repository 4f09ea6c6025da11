"""``python -m newsletter`` runs the feedletter CLI.

A ``build`` that finds nothing changed since an identical run is answered first,
before the CLI is imported (``newsletter.replay``).
"""

import sys


def run() -> None:
    """The ``feedletter`` command (console script and ``python -m newsletter``)."""
    if sys.argv[1:2] == ["build"]:  # only a build is replayed: other commands skip the import
        from newsletter.replay import replay

        code = replay(sys.argv[1:])
        if code is not None:
            sys.stdout.flush()
            sys.exit(code)
    from newsletter.cli import main

    main()


if __name__ == "__main__":  # worker processes (forkserver) import this module again
    run()
