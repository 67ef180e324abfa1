"""Atomic file writing: a finished temporary file takes its final name in one step.

``tempfile.mkstemp`` makes files readable by their owner only; a preset, WAV or
model the user asked for should get the usual permissions (0666 less the umask).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError, SynthError

_UMASK = os.umask(0)  # read once, at import (the main thread): os.umask can only be read by setting it
os.umask(_UMASK)


def publish(tmp: str | Path, path: str | Path) -> None:
    """Give ``tmp`` the usual permissions and rename it to ``path`` (atomic on one file system)."""
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path: str | Path, failures: tuple[type[BaseException], ...] = (OSError,),
                kept: str = "any previous file there is unchanged", label: str = "",
                hint: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; when the block ends without error it takes
    ``path``'s name. Whatever happens the temporary file is gone afterwards and the old file is
    intact; an exception of the kinds in ``failures`` (a full disk, a read-only folder) becomes
    one :class:`SynthError` naming ``path`` (``label`` goes before it, ``kept`` after)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    except OSError as exc:
        raise SynthError(f"cannot write {label}{path} ({exc.strerror})", hint=hint) from None
    os.close(fd)
    try:
        yield Path(tmp)
        publish(tmp, path)
    except failures as exc:
        raise SynthError(f"cannot write {label}{path} ({_reason(exc)}); {kept}", hint=hint) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place; a full
    disk or read-only folder is one :class:`SynthError` naming ``path``, the old file intact."""
    with atomic_file(path) as tmp, open(tmp, "w") as handle:
        handle.write(text)


def read_document(path: Path, what: str, language: str, loads: Callable[[str], Any],
                  decode_error: type[Exception]) -> Any:
    """Read and parse a TOML or JSON file; any fault becomes one :class:`ConfigError` sentence."""
    try:
        return loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder, not a file") from None
    except (decode_error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid {language} ({exc})") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return text.splitlines()[0][:160] if text else type(exc).__name__
