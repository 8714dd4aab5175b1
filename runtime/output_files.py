"""Writing output files: artifacts, reports, plots, converted programs.

Every write goes to a regular file (or to standard output, `-`, where a
format allows it), atomically (a temporary file in the same folder, then a
rename, so readers see the old file or the whole new one), with the
permissions the umask gives a new file, and every OS failure (missing folder,
permission, read-only file system, no space, /proc, /sys) becomes an
OutputError naming the path. A device node or FIFO is refused, never renamed
over: `-o /dev/full` must not replace the device.
"""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from superpose.errors import OutputError

STDOUT = "-"  # the path that means standard output, where a format allows it
NEW_FILE_MODE = 0o666  # what open() asks for a new file; the umask takes its bits away


def check_output(path: str | os.PathLike, flag: str = "output", suffix: str | None = None,
                 allow_stdout: bool = False) -> None:
    """OutputError now, before any long work, when `path` cannot be written as
    a regular file (or does not end in `suffix`). The folder is probed by
    creating and removing a temporary file: os.access says yes to root even
    where the file system refuses (/proc, /sys, read-only mounts)."""
    text = os.fspath(path)
    if text == STDOUT:
        if not allow_stdout:
            raise OutputError(f"{flag} -: this output cannot go to standard output; name a file")
        return
    target = _regular_target(text, flag)
    if suffix is not None and target.suffix.lower() != suffix:
        raise OutputError(f"{flag} {text}: the file name must end in {suffix}")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise OutputError(f"{flag} {text}: cannot write in '{target.parent}': {error.strerror}") from None


def write_atomically(path: str | os.PathLike, data: bytes, flag: str = "output") -> None:
    """Write `data` to `path` (or to standard output for `-`), atomically,
    with the umask's permissions; OutputError on any OS failure, leaving the
    old file, if any, as it was and no temporary file behind."""
    text = os.fspath(path)
    if text == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = _regular_target(text, flag)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, NEW_FILE_MODE & ~_umask())  # mkstemp creates 0600 whatever the umask
        os.replace(tmp, target)
    except OSError as error:
        raise OutputError(f"{flag} {text}: cannot write: {error.strerror or error}") from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def _regular_target(text: str, flag: str) -> Path:
    """The file `text` names, through symbolic links, if it is a regular file
    or does not exist yet in an existing folder; OutputError otherwise."""
    if not text:
        raise OutputError(f"{flag}: the file name is empty")
    if text.endswith(("/", os.sep)):
        raise OutputError(f"{flag} {text}: names a folder; give a file name")
    target = Path(os.path.realpath(text))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise OutputError(f"{flag} {text}: no such directory '{Path(text).parent}'") from None
        return target
    except OSError as error:
        raise OutputError(f"{flag} {text}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise OutputError(f"{flag} {text}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise OutputError(f"{flag} {text}: not a regular file (a device, FIFO or socket); "
                          "outputs are only written to regular files")
    return target


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
