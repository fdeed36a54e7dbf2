"""Read the user's text files (.env, litellm_config.yml) with errors that give the real cause.

A directory where the file should be, a binary file, or text that is not UTF-8 would
otherwise surface as an unexpected error (IsADirectoryError, UnicodeDecodeError). The
message names the file and where it goes wrong (a line number and byte offset), never its
content: .env holds secrets. A UTF-8 byte order mark (editors on Windows write one) is
accepted and dropped, as compose does.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def read_text_file(path: Path, *, fix: str) -> str:
    """The text of `path`; ConfigError naming the cause, with `fix` where the cause is the
    path itself."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a directory, not a file",
            fix=f"Remove or rename that directory. {fix}",
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}", fix=fix) from None
    if b"\x00" in data:
        raise ConfigError(
            f"{path} is a binary file, not text",
            fix=f"Restore it from a backup or the repository. {fix}",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{path} is not UTF-8 text: line {line} has an invalid byte (offset {error.start})",
            fix="Save the file as UTF-8 (your editor's encoding setting), then run again.",
        ) from None
