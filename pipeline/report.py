"""What a run tells its user: the summary, the warnings, and why it failed.

The line accounting of stats.json in words, for the terminal. A run that
writes no training record has failed (`failure`): it says why in one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from drawing import features as F


def _names(names: Sequence[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def warnings(stats: dict, output: str) -> list[str]:
    """What the user must know about the run's input and classes, in words."""
    out = []
    damaged = stats.get("damaged_files") or []
    if damaged:
        out.append(
            f"WARNING: {len(damaged)} damaged input file(s), read only up to the "
            f"damage; the rest of each is missing (see {output}/{F.ERRORS_DIR}/):"
        )
        out += [
            f"  {d['path']}: {d['reason']} after {d['lines_read']:,} complete "
            f"lines ({d['detail']})"
            for d in damaged
        ]
    empty_files = stats.get("empty_input_files") or []
    if empty_files:
        left_out = stats.get("left_out_classes") or []
        out.append(
            f"WARNING: {len(empty_files)} empty input file(s): {_names(empty_files)}"
            + (f"; class(es) left out: {_names(left_out)}" if left_out else "")
        )
    empty = stats.get("empty_classes") or {}
    consequence = {
        F.TRAIN: "the model can never learn them",
        F.EVAL: "their accuracy goes unmeasured",
    }
    for split_name in F.SPLITS:
        names = empty.get(split_name) or []
        if names and not stats["written"][split_name]:
            out.append(f"WARNING: the {split_name} split is empty")
        elif names:
            out.append(
                f"WARNING: {len(names)} class(es) with no {split_name} drawing; "
                f"{consequence[split_name]}: {_names(names)}"
            )
    return out


def summary(stats: dict, output: str) -> str:
    """The run's line accounting, for the terminal, and what went wrong."""
    rejected = sum(stats["rejected"].values())
    lines = [
        f"Wrote {output} in {stats.get('wall_seconds', '?')} s:",
        f"  lines read     {stats['lines_read']:>10,}",
        f"  train written  {stats['written'][F.TRAIN]:>10,}",
        f"  eval written   {stats['written'][F.EVAL]:>10,}",
        f"  dropped by cap {sum(stats['dropped_by_cap'].values()):>10,}",
        f"  filtered       {stats['filtered']:>10,}",
        f"  rejected       {rejected:>10,}"
        + (f"  (see {output}/{F.ERRORS_DIR}/)" if rejected else ""),
    ]
    lines += [f"    {reason}: {n:,}" for reason, n in stats["rejected"].items()]
    lines.append(f"  classes        {stats['classes']:>10,}")
    return "\n".join(lines + warnings(stats, output))


def failure(stats: dict, where: str) -> str | None:
    """Why a run that wrote no training record failed, in one line; None if it
    wrote one. `where` holds the run's errors/ and stats.json."""
    if stats["written"][F.TRAIN]:
        return None
    read = stats["lines_read"]
    damaged = len(stats.get("damaged_files") or [])
    if not read:
        why = "no drawing read" + (f" ({damaged} damaged file(s))" if damaged else "")
    else:
        parts = []
        rejected = sum(stats["rejected"].values())
        if rejected:
            top = sorted(stats["rejected"].items(), key=lambda kv: (-kv[1], kv[0]))
            reasons = ", ".join(f"{r}: {n:,}" for r, n in top[:3])
            parts.append(f"{rejected:,} rejected ({reasons})")
        if stats["filtered"]:
            parts.append(f"{stats['filtered']:,} filtered by --recognized_only")
        if sum(stats["dropped_by_cap"].values()):
            parts.append(f"{sum(stats['dropped_by_cap'].values()):,} dropped by cap")
        if stats["written"][F.EVAL]:
            parts.append(f"{stats['written'][F.EVAL]:,} went to eval")
        why = f"of {read:,} lines read, " + ", ".join(parts)
    return (
        f"no training record written: {why}; "
        f"see {where}/{F.ERRORS_DIR}/ and {where}/{F.STATS_FILE}"
    )
