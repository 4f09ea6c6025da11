"""feedletter's newsletter half: the digest email, delivery, scheduling and the CLI.

It builds on ``feeds`` (records, topics, the collector's selection) and never
re-implements any of it.
"""
