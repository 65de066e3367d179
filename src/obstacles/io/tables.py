"""Reading the text tables people edit or pass around (label files, predictions): every problem
named with the file and its own line number, so it can be found in an editor."""

from __future__ import annotations

import csv
import io
from pathlib import Path

UTF8_HINT = "save it as UTF-8 (a spreadsheet's 'CSV UTF-8' format)"


class TableError(ValueError):
    """A table that cannot be used; the message starts with `<file>:<line>:`."""


def read_utf8(path: str | Path) -> str:
    """The file's text (a UTF-8 byte-order mark dropped), or TableError naming the first line that
    is not UTF-8 (a file saved as cp1252 or Latin-1, say)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TableError(
            f"{path}:{line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8 text; {UTF8_HINT}"
        ) from None


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """(physical line, fields) of each CSV record, blank lines skipped; a record spanning several
    lines (a quoted newline) is numbered by its first line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, line = [], 1
    for fields in reader:
        if fields:
            rows.append((line, fields))
        line = reader.line_num + 1
    return rows


def data_line(text: str, record: int) -> int:
    """The physical line of data record `record` (0-based, the header not counted)."""
    return csv_rows(text)[record + 1][0]
