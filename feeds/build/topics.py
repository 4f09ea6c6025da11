"""A project's topics: the topic files merged with the topics in config.

Apart from ``project`` so that what needs only the topics (a send, which files
its readers' topic choices) loads none of the record reading.
"""

from __future__ import annotations

from feeds.config import FeedSettings
from feeds.errors import ConfigError
from feeds.reading.topics import TopicSet, load_topic_files, merge_topics


def load_topics(settings: FeedSettings) -> TopicSet:
    """The topic files merged with the topics in config.

    A ``content.topics`` that is not a folder is an error (a typo there would take
    every topic feed down); ``null`` means the config defines every topic."""
    folder = settings.content.topics
    if folder is not None and not folder.is_dir():
        raise ConfigError(
            "content.topics",
            f"{folder} is not a folder of topic files: fix the path, or set "
            "content.topics: null when the config's topics are all there is",
            settings.source,
        )
    from_files = load_topic_files(folder) if folder is not None else []
    definitions = [t.definition() for t in settings.topics]
    return merge_topics(from_files, definitions, str(settings.source or "config"))
