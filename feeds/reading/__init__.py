"""Reading: article records and topic definitions into values, bad input reported.

``records`` parses one record (Markdown with YAML front matter, through
``yamlfast``) into an ``Article`` or a ``RecordError``; ``excerpts`` and
``boilerplate`` take crawled junk out of the summaries; ``signature`` computes
what the story rules compare, once, at parse time; ``corpus`` reads a folder
(in parallel when large: ``parsing``) and keeps going past bad records; ``cache`` keeps
parsed records between builds, each as the row ``rows`` makes of it, in the
tables ``cacheschema`` lays out;
``topics`` loads topic definitions and decides which topics an article names.

Who may import it: ``selection``, ``config``, ``rendering``, ``build`` and the
newsletter. It imports only ``feeds.model``, ``errors``, ``text`` and ``urls``.
"""
