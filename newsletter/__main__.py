"""``python -m newsletter`` runs the feedletter CLI."""

from newsletter.cli import main

if __name__ == "__main__":  # worker processes (forkserver) import this module again
    main()
