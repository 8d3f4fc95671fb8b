"""Privacy-export uploads, imported in a background thread while the page shows progress.

The import is `weekly_wrapped.imports.import_export`, as `wrapped import` runs it;
this module only keeps each upload's progress for the page to poll. Progress
lives in this process: a restart loses the bar, never the plays (the import job
record resumes them on the next upload of the same file).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine

from weekly_wrapped.config import Settings
from weekly_wrapped.errors import WrappedError
from weekly_wrapped.private_files import private_folder
from weekly_wrapped.sources.export_files import ArchiveLimits, ExportFile

log = logging.getLogger(__name__)

State = Literal["running", "done", "failed"]


@dataclass
class Upload:
    """One upload's import, as the progress bar shows it."""

    upload_id: str
    user_key: int
    filename: str
    state: State = "running"
    total_bytes: int = 0
    bytes_read: int = 0
    files: int = 0
    file_number: int = 0
    rows: int = 0
    plays_added: int | None = None
    duplicates: int | None = None
    message: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def found(self, files: Sequence[ExportFile]) -> None:
        with self._lock:
            self.files, self.total_bytes = len(files), sum(f.size for f in files)

    def started(self, file: ExportFile) -> None:
        with self._lock:
            self.file_number += 1

    def advanced(self, bytes_read: int, rows: int) -> None:
        with self._lock:
            self.bytes_read += bytes_read
            self.rows += rows

    def to_json(self) -> dict[str, Any]:
        """What the page polls: state, percent done, rows, and the outcome at the end."""
        with self._lock:
            share = self.bytes_read / self.total_bytes if self.total_bytes else 0.0
            percent = 100 if self.state != "running" else min(99, int(share * 100))
            return {
                "id": self.upload_id,
                "filename": self.filename,
                "state": self.state,
                "percent": percent,
                "files": self.files,
                "file_number": self.file_number,
                "rows": self.rows,
                "plays_added": self.plays_added,
                "duplicates": self.duplicates,
                "message": self.message,
            }


class Uploads:
    """Every upload of this process, by id; each user sees only their own."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def new_folder(self, user_key: int) -> Path:
        """A fresh folder for one upload, private to the server's user; gone after the import."""
        folder = self.settings.data_dir / "uploads" / str(user_key) / secrets.token_hex(8)
        private_folder(folder)
        return folder

    def start(self, user_key: int, saved: Path, filename: str) -> Upload:
        """Import `saved` for the user in a background thread; it is deleted afterwards."""
        upload = Upload(secrets.token_urlsafe(12), user_key, filename)
        with self._lock:
            self._uploads[upload.upload_id] = upload
        worker = threading.Thread(
            target=self._run, args=(upload, saved), name=f"import-{upload.upload_id}", daemon=True
        )
        worker.start()
        return upload

    def get(self, user_key: int, upload_id: str) -> Upload | None:
        """The upload, only when it is this user's."""
        with self._lock:
            upload = self._uploads.get(upload_id)
        return upload if upload is not None and upload.user_key == user_key else None

    def latest(self, user_key: int) -> Upload | None:
        with self._lock:
            mine = [u for u in self._uploads.values() if u.user_key == user_key]
        return mine[-1] if mine else None

    def _run(self, upload: Upload, saved: Path) -> None:
        from weekly_wrapped import imports
        from weekly_wrapped.bus.factory import open_bus

        settings = self.settings
        try:
            summary = imports.import_export(
                self.engine,
                upload.user_key,
                [saved],
                batch_size=settings.batch_size,
                commit_rows=settings.import_commit_rows,
                max_future_skew=timedelta(seconds=settings.max_future_skew_s),
                progress=upload,
                archive_limits=ArchiveLimits(
                    settings.import_max_archive_bytes, settings.import_max_archive_entries
                ),
                bus=open_bus(self.engine, settings),
            )
            failed = [f.error for f in summary.failed if f.error]
            upload.plays_added, upload.duplicates = summary.plays_added, summary.duplicates
            upload.message = "; ".join(failed) or None
            upload.state = "failed" if failed and not summary.imported else "done"
        except WrappedError as exc:
            upload.message, upload.state = str(exc), "failed"
        except Exception as exc:  # a bug must still end the bar, not leave it spinning
            log.exception("import of upload %s", upload.upload_id)
            upload.message, upload.state = f"unexpected {type(exc).__name__}", "failed"
        finally:
            shutil.rmtree(saved.parent, ignore_errors=True)
