"""The errors/ line of a rejected input line or of a damaged file.

Each names where the input was (source, byte offset, line number), why it was
rejected, and the line itself (a binary drawing's bytes in hex), so a user can
find and fix it.
"""

from __future__ import annotations

import orjson

from pipeline import bin_reader, lines
from pipeline.lines import Line, Record

DAMAGED_FILE = "damaged_file"  # the reason of a file that breaks off
ERROR_LINE_CHARS = 2000


def error_record(line: Line | Record, reason: str, detail: str, **extra) -> bytes:
    """One ndjson line for DIR/errors/: enough to find and fix the input line."""
    return orjson.dumps(
        {
            "source": line.source,
            "offset": line.offset,
            "line_number": line.line_number,
            "reason": reason,
            "detail": detail[:500],
            "line": _shown(line),
            **extra,
        }
    )


def _shown(line: Line | Record) -> str:
    """An input line as text for errors/: a binary drawing's bytes in hex."""
    if bin_reader.is_binary(line.source):
        return line.data[: ERROR_LINE_CHARS // 2].hex()
    return line.data[:ERROR_LINE_CHARS].decode("utf-8", "replace")


def damage_record(damage: lines.Damage) -> bytes:
    """The errors/ line of a damaged file: where it broke, and its unfinished line."""
    at_break = Line(damage.path, damage.offset, damage.line_number, damage.partial_line)
    detail = (
        f"{damage.reason} after {damage.lines_read} complete lines: {damage.detail}"
    )
    return error_record(at_break, DAMAGED_FILE, detail, lines_read=damage.lines_read)
