"""``python -m newsletter`` runs the feedletter CLI.

A ``build`` that finds nothing changed since an identical run is answered first,
before the CLI is imported (``newsletter.replay``).

The command owns its process, so it tunes the garbage collector before the first
import (``feeds.tune_gc``; a build pauses it to the end, ``feeds.pause_gc``) and,
once the command has finished, leaves without tearing the interpreter down
(``leave``).
"""

import sys


def run() -> None:
    """The ``feedletter`` command (console script and ``python -m newsletter``)."""
    from feeds import pause_gc, tune_gc

    tune_gc()  # before the imports: they allocate most of a short command's objects
    try:
        if sys.argv[1:2] == ["build"]:  # only a build is replayed: others skip the import
            # a build is one batch to the end of its process: its collector stays
            # paused, as a parse worker's does (re-enabled after the build, the next
            # allocation walked every object the build had made: 60 ms at 100,000)
            pause_gc()
            from newsletter.replay import replay

            code = replay(sys.argv[1:])
            if code is not None:
                sys.exit(code)
        from newsletter.cli import main

        main()
    except SystemExit as exc:
        leave(exc)
        raise
    leave(SystemExit(0))


def leave(request: SystemExit) -> None:
    """End the process as ``request`` asks, without the interpreter's teardown.

    After the command has returned, Python would still free every module and
    object one by one (68 ms of a 0.43 s ``send``, measured: SQLAlchemy's and
    pydantic's classes) before the kernel frees the whole process anyway. So the
    exit handlers run (logging's flush, multiprocessing's and ``weakref.finalize``
    clean-ups, the state database's connections closed), the standard streams are
    flushed, and the process ends with the code the command chose. It returns, for
    the ordinary exit, when that is not safe to skip: another thread still runs
    (Python would wait for it), the exit carries a message instead of a code, a
    stream cannot be flushed (a closed pipe), or Python runs in development mode
    (``-X dev``, whose teardown reports unclosed files)."""
    import os
    import threading

    code = request.code
    if code is None:
        code = 0
    if not isinstance(code, int) or threading.active_count() > 1 or sys.flags.dev_mode:
        return
    import atexit

    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


if __name__ == "__main__":  # worker processes (forkserver) import this module again
    run()
