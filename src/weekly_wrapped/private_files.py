"""Local state is private to the user who runs Weekly Wrapped: folders 0700, files 0600.

The data folder holds listening history, tokens and email addresses, so what we
create there nobody else may read, whatever the umask. Folders and files that
already exist keep their mode: where they live, and who may read them, is the
user's choice.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> None:
    """Create `path` and any missing parents, each readable by this user only."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it first: theirs is private too
        os.chmod(folder, FOLDER_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty and readable by this user only, unless it exists."""
    private_folder(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.fchmod(descriptor, FILE_MODE)
    os.close(descriptor)
