"""A new dataset replaces the old one in --output only once it is complete.

A run writes every file under OUTPUT/.incoming/. Its last step
(`pipeline.job.finalize`) calls `swap_in`: the old `_SUCCESS` goes, the
staged files move into place, old files not part of the new dataset are
deleted, and finalize writes the classes file, stats.json and `_SUCCESS`
last. A run that fails, is killed or is a dry run leaves an old dataset as it
was; the next run removes what it left (`remove_stale`). A kill during the
swap itself (seconds) leaves no `_SUCCESS`. One run at a time per --output.
Moves go through Beam's FileSystems: a rename locally, copy and delete on GCS.
"""

from __future__ import annotations

import logging
import posixpath

from apache_beam.io.filesystems import FileSystems

from drawing import features as F
from pipeline import sources

log = logging.getLogger("pipeline")


def folder(output: str) -> str:
    """Where a run into `output` writes before the swap."""
    return posixpath.join(output, F.STAGING_DIR)


def _files(root: str) -> list[str]:
    """Every file under `root` (hidden ones too), relative to it, sorted.

    GCS folder markers (empty objects named `dir/`, made by the Cloud Console
    or TensorFlow) are left out: they hold no data, and FileSystems.delete of
    a name ending in "/" would delete everything under it.
    """
    found = sources.match("--output", root, [posixpath.join(root, "**")])[0]
    prefix = root.rstrip("/") + "/"
    relative = (m.path.removeprefix(prefix) for m in found.metadata_list)
    return sorted(p for p in relative if p and not p.endswith("/"))


def _top(relative: str) -> str:
    return relative.split("/", 1)[0]


def _temporary(relative: str) -> bool:
    """Temp files of the run's writers (tf.Transform's hidden temp folder, a
    Beam temp folder left by a failed cleanup): never moved in, deleted with
    the staging folder."""
    return _top(relative).startswith((".", "beam-temp-"))


def existing(output: str) -> list[str]:
    """The dataset's files in `output` (not the staging folder's), relative."""
    return [p for p in _files(output) if _top(p) != F.STAGING_DIR]


def _has_dirs(path: str) -> bool:
    return FileSystems.get_filesystem(path).has_dirs()


def _remove_tree(root: str) -> None:
    """Deletes the folder `root` and everything under it."""
    if not _has_dirs(root):
        FileSystems.delete([root + "/"])  # on GCS: every object under the prefix
    elif FileSystems.exists(root):
        FileSystems.delete([root])  # recursive, empty folders included


def remove_stale(output: str) -> None:
    """Removes a staging folder that a run which did not finish left behind."""
    stale = _files(folder(output))
    if stale:
        log.warning(
            "removing %s: %d file(s) left by a run that did not finish",
            folder(output),
            len(stale),
        )
    _remove_tree(folder(output))


def swap_in(output: str) -> list[str]:
    """Replaces the dataset in `output` with the staged one; returns its files.

    The caller writes the classes file, stats.json and `_SUCCESS` afterwards.
    """
    staged = folder(output)
    new = [p for p in _files(staged) if not _temporary(p)]
    old = existing(output)
    if F.SUCCESS_FILE in old:
        # From here until finalize writes it again, the output is unfinished.
        FileSystems.delete([posixpath.join(output, F.SUCCESS_FILE)])
    if _has_dirs(output):
        # Whole top-level entries: a folder's empty subfolders move with it
        # (tf.Transform's SavedModel has one).
        moved = sorted({_top(p) for p in new})
        for name in moved:
            if FileSystems.exists(posixpath.join(output, name)):
                FileSystems.delete([posixpath.join(output, name)])
        stale = sorted({_top(p) for p in old} - set(moved) - {F.SUCCESS_FILE})
    else:
        moved = new
        stale = sorted(set(old) - set(new) - {F.SUCCESS_FILE})
    FileSystems.rename(
        [posixpath.join(staged, p) for p in moved],
        [posixpath.join(output, p) for p in moved],
    )
    if stale:
        FileSystems.delete([posixpath.join(output, p) for p in stale])
    _remove_tree(staged)
    log.info(
        "%s: %d new files moved in, %d old files not part of them deleted",
        output,
        len(new),
        len(set(old) - set(new) - {F.SUCCESS_FILE}),
    )
    return new


def keep_errors(output: str) -> str:
    """After a failed run: where its errors/ stay, and its stats.json goes.

    Into `output` when it holds no dataset; beside an old dataset (under
    --overwrite), they stay in the staging folder, so the old one stays as
    it was. Either way no `_SUCCESS` is written.
    """
    staged = folder(output)
    if existing(output):
        return staged
    if _has_dirs(output):  # the folder moves whole
        names = [F.ERRORS_DIR] if FileSystems.exists(f"{staged}/{F.ERRORS_DIR}") else []
    else:
        names = [p for p in _files(staged) if _top(p) == F.ERRORS_DIR]
    FileSystems.rename(
        [posixpath.join(staged, p) for p in names],
        [posixpath.join(output, p) for p in names],
    )
    _remove_tree(staged)
    return output
