"""Review before send (``newsletter.review``): editors see each issue first.

When the schedule renders an issue, ``workflow.start_review`` puts it under
review and mails each editor a review copy (``copy``): the real issue, marked,
with signed links (``links``) to approve it, skip this week, or drop a story.
``workflow.act`` applies those actions (from ``serve``'s review page or
``feedletter issue``), logging who and when in the state database; dropping a
story renders the issue again without it. ``workflow.release`` sends what is
due. The decisions themselves are pure and live in ``issue.marks``; the gate
that refuses an unreleased issue is in ``sending.delivery``, so no send path
bypasses it.

Imported by ``runtime`` (the jobs), ``web`` (the review page) and ``cli``.
"""
