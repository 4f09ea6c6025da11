"""The ``feedletter`` process ends as the command asked, without Python's teardown
(``newsletter.__main__.leave``): exit handlers run, streams are flushed, the code
is kept, and it falls back to the ordinary exit when skipping it is not safe."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import ROOT


def _python(code: str, tmp_path: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONUNBUFFERED", None)  # buffered streams, as a terminal-less cron run has
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )  # fmt: skip


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_the_command_s_code_output_and_exit_handlers_survive(tmp_path: Path) -> None:
    code, out, err = _finish(
        _python(
            """
            import atexit, logging, sys
            from pathlib import Path
            atexit.register(lambda: Path("handler-ran").write_text("yes"))
            # still in the buffer when the process ends (click flushes what it echoes)
            atexit.register(lambda: print("unflushed", end=""))
            sys.argv = ["feedletter", "--version"]
            from newsletter.__main__ import run
            run()
            print("never: run() ends the process")
            """,
            tmp_path,
        )
    )
    assert (code, err) == (0, "")
    assert out == "feedletter, version 0.1.0\nunflushed"
    assert (tmp_path / "handler-ran").read_text() == "yes"


def test_an_error_keeps_its_exit_code_and_message(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "newsletter", "send", "--config", "missing.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert process.returncode == 1
    assert process.stdout == ""
    assert process.stderr == "error: --config: missing.yaml does not exist; pass --config PATH\n"


def test_a_running_thread_is_waited_for_as_python_would(tmp_path: Path) -> None:
    """With another thread still running, the process takes Python's ordinary exit,
    which waits for it: the thread finishes its work after the command returned."""
    process = _python(
        """
        import sys, threading
        from pathlib import Path
        def late():
            sys.stdin.readline()  # until the test says so, after the command's output
            Path("thread-finished").write_text("yes")
        threading.Thread(target=late).start()
        sys.argv = ["feedletter", "--version"]
        from newsletter.__main__ import run
        run()
        """,
        tmp_path,
    )
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline() == "feedletter, version 0.1.0\n"
    process.stdin.write("go\n")
    process.stdin.flush()
    code, _, err = _finish(process)
    assert (code, err) == (0, "")
    assert (tmp_path / "thread-finished").read_text() == "yes"


def test_an_exit_with_a_message_takes_the_ordinary_way(tmp_path: Path) -> None:
    code, out, err = _finish(
        _python(
            """
            from newsletter.__main__ import leave
            leave(SystemExit("a message, not a code"))
            print("returned")
            leave(SystemExit(3))
            print("never")
            """,
            tmp_path,
        )
    )
    assert (code, out, err) == (3, "returned\n", "")
