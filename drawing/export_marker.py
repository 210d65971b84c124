"""Whether an exported model is complete: the marker its export writes last.

`trainer.export` writes the SavedModel beside its target and renames it into
place once complete (locally); on gs://, where renaming a folder is not
atomic, it writes in place and this marker last. Either way, a folder without
the marker is an export that was interrupted (or no export at all), and
`serving.serve`, `serving.predict` and `serving.deploy` refuse it. No
TensorFlow here: callers pass their own `exists` (tf.io.gfile's, say).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

MARKER = "assets.extra/export_complete"  # relative to the export folder
INCOMPLETE_SUFFIX = ".incomplete"  # the folder a local export is written in


class IncompleteExport(OSError):
    """The folder holds no complete exported model."""


def marker_path(export_dir: str) -> str:
    return posixpath.join(export_dir.rstrip("/"), MARKER)


def check_complete(export_dir: str, exists: Callable[[str], bool], flag: str) -> None:
    """Raises IncompleteExport, one line naming `flag`, what is wrong and what
    to do, unless `export_dir` holds a complete export. Only a folder that an
    export was written in gets the advice to finish it; a path that does not
    exist is most often a typo."""
    if exists(marker_path(export_dir)):
        return
    finish = "run the trainer.task command that exports to it again (it finishes "
    finish += "an interrupted export)"
    partial = export_dir.rstrip("/") + INCOMPLETE_SUFFIX
    if exists(posixpath.join(export_dir, "saved_model.pb")):
        what = f"holds an incomplete export (no {MARKER}: it was interrupted)"
        what += f": {finish}, or name a complete one"
    elif exists(export_dir):
        what = "is not an exported model (no saved_model.pb): name the folder "
        what += "that trainer.task exported to (its --export_dir)"
    elif exists(partial):
        what = f"does not exist, but {partial} holds its interrupted export: "
        what += finish
    else:
        what = "does not exist: check the path (trainer.task exports to its "
        what += "--export_dir, MODEL_DIR/export by default)"
    raise IncompleteExport(f"{flag} {export_dir} {what}")
