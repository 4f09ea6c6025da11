"""``python -m newsletter`` runs the feedletter CLI."""

from .cli import main

main()
