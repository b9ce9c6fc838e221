"""The one-line message of an expected failure, for the error boundary of a command line
(``tdsnn``, :mod:`tdsnn.bench`): a file that cannot be read or written, a full disk, a
bad value. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import errno

#: what to do about an OS error, by errno
_OS_ADVICE = {
    errno.EACCES: "check its permissions or choose another folder (--out, $TDSNN_RESULTS, "
                  "$TDSNN_ARTIFACTS)",
    errno.EPERM: "check its permissions or choose another folder",
    errno.EROFS: "the file system is read-only; choose another folder",
    errno.ENOSPC: "free some disk space and run again (finished steps are kept)",
    errno.EDQUOT: "free some disk space and run again (finished steps are kept)",
    errno.ENOTDIR: "a file stands where a folder is needed; move it or choose another path",
    errno.EISDIR: "a folder stands where a file is needed; move it or choose another path",
    errno.EEXIST: "move the existing file or choose another path",
    errno.ENOENT: "check the path",
}


def error_message(err: BaseException) -> str | None:
    """The one-line message of an expected failure, or None for anything else (a bug)."""
    if isinstance(err, OSError) and err.strerror and (err.filename or err.errno in _OS_ADVICE):
        where = f"{err.filename}: " if err.filename else ""
        advice = _OS_ADVICE.get(err.errno)
        return f"{where}{err.strerror.lower()}" + (f"; {advice}" if advice else "")
    if isinstance(err, (OSError, ValueError, RuntimeError)):
        return str(err) or type(err).__name__
    return None
