"""Reading JSON lines with Arrow, safely.

Arrow's JSON reader parses whole blocks in parallel, with no Python object per row, but it
kills the process (a segmentation fault, no message) on some input: a first line holding
``null``, or a value nested thousands of levels deep. So the bytes reach it through
``CheckedLines``, which lets a block through only once its lines are known to be safe: each
non-blank line starts an object, and none is nested more than ``MAX_DEPTH`` levels. The check
is vectorised (numpy over each block); only the rare line that starts otherwise, or holds
many brackets, is looked at one by one. The first unsafe line stops the reading, and the
error path names it.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections import deque
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa

from recaug_core import DataError
from recaug_sources.readers import (
    BLOCK_SIZE,
    LineOf,
    block_size_for,
    check_file,
    is_whitespace,
    iter_lines,
    open_binary,
    reading,
    row_line_mapper,
    straddles,
)

# Deeper values are refused: Arrow crashes somewhere past 10,000 levels; real data has a few.
MAX_DEPTH = 256
_CHUNK = 1 << 22
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class UnsafeLine(Exception):
    """Raised by CheckedLines, from inside Arrow's reader, at the first unsafe line."""


class CheckedLines(io.RawIOBase):
    """A binary stream of ``handle``'s bytes that stops before the first unsafe line."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._ready: deque[bytes] = deque()  # checked bytes, not yet handed out
        self._ready_size = 0
        self._pending: list[bytes] = []  # the start of a line that has not ended yet
        self._ended = False
        self.unsafe = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        while (size is None or size < 0 or self._ready_size < size) and not self._ended:
            self._fill()
        wanted = self._ready_size if size is None or size < 0 else min(size, self._ready_size)
        parts = []
        while wanted > 0:
            piece = self._ready.popleft()
            if len(piece) > wanted:
                piece, rest = piece[:wanted], piece[wanted:]
                self._ready.appendleft(rest)
            parts.append(piece)
            wanted -= len(piece)
            self._ready_size -= len(piece)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _fill(self) -> None:
        chunk = self._handle.read(_CHUNK)
        if not chunk:
            self._ended = True
            data = b"".join(self._pending)
            self._pending = []
        else:
            cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
            if cut == 0:  # inside a long line: gather its parts, check it once it ends
                self._pending.append(chunk)
                return
            data = b"".join([*self._pending, chunk[:cut]])
            self._pending = [chunk[cut:]]
        if data and not lines_are_safe(data):
            self.unsafe = True
            raise UnsafeLine
        self._ready.append(data)
        self._ready_size += len(data)


def lines_are_safe(data: bytes) -> bool:
    """Whether every line of ``data`` is blank or an object at most ``MAX_DEPTH`` deep."""
    buf = np.frombuffer(data, np.uint8)
    newline = buf == ord("\n")
    if b"\r" in data:
        newline |= buf == ord("\r")
    ends = np.flatnonzero(newline)
    starts = np.r_[0, ends + 1]
    starts = starts[starts < len(buf)]
    starts = starts[~newline[starts]]  # lines with something on them
    if len(starts) == 0:
        return True
    # A line may hold no more brackets than this without being looked at: it cannot nest deeper.
    opens = np.flatnonzero(_openers(buf))
    brackets = np.diff(np.searchsorted(opens, np.r_[starts, len(buf)]))
    doubtful = starts[(buf[starts] != ord("{")) | (brackets > MAX_DEPTH)]
    stops = np.r_[ends, len(buf)][np.searchsorted(ends, doubtful)]
    return all(unsafe_reason(data[a:b]) is None for a, b in zip(doubtful, stops))


def _openers(buf: np.ndarray) -> np.ndarray:
    return (buf == ord("[")) | (buf == ord("{"))  # (np.isin is 40 times slower here)


def unsafe_reason(raw: bytes) -> str | None:
    """Why Arrow's reader must not see the line ``raw`` (None: it may)."""
    body = raw.strip(b" \t\r\n")
    if not body:
        return None
    if body[:1] != b"{":
        return "not a JSON object"
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and json_depth(body) > MAX_DEPTH:
        return f"JSON nested more than {MAX_DEPTH} levels deep"
    return None


def json_depth(raw: bytes) -> int:
    """How deep brackets nest in ``raw``, outside strings (counted in pieces: a line may be
    hundreds of megabytes long)."""
    text = _STRINGS.sub(b'""', raw)
    depth = deepest = 0
    for start in range(0, len(text), _CHUNK):
        piece = np.frombuffer(text, np.uint8, count=min(_CHUNK, len(text) - start), offset=start)
        steps = _openers(piece).astype(np.int32) - ((piece == ord("]")) | (piece == ord("}")))
        levels = depth + np.cumsum(steps)
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


def read_jsonl(path: Path, schema: pa.Schema | None = None) -> tuple[pa.Table, LineOf]:
    """Read JSON lines (optionally compressed), streamed in Arrow batches.

    With ``schema`` only those fields are parsed into columns (others are skipped, which keeps
    review text out of memory); without it every field's type is inferred.
    """
    import pyarrow.json as pj

    check_file(path)
    parse = (
        pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        if schema is not None
        else pj.ParseOptions()
    )

    def read(block_size: int) -> pa.Table:
        options = pj.ReadOptions(block_size=block_size)
        with reading(path), open_binary(path) as handle:
            stream = CheckedLines(handle)
            try:
                if schema is None:
                    # whole-file inference: a field that is null early and text later is fine
                    return pj.read_json(stream, read_options=options, parse_options=parse)
                reader = pj.open_json(stream, read_options=options, parse_options=parse)
                return pa.Table.from_batches(list(reader), schema=reader.schema)
            except UnsafeLine:
                pass
            except (pa.ArrowInvalid, OSError):
                if not stream.unsafe:  # Arrow may wrap the stream's exception in its own
                    raise
        line, reason = locate_jsonl_problem(path, schema)
        raise DataError(
            reason or "a line is not a JSON object or is nested too deeply",
            file=str(path),
            line=line,
        )

    try:
        try:
            table = read(BLOCK_SIZE)
        except DataError as error:
            if not straddles(error):
                raise
            table = read(block_size_for(path))
    except DataError as error:
        if error.line is not None:
            raise
        line, reason = locate_jsonl_problem(path, schema)
        if line is not None:
            raise DataError(reason, file=str(path), line=line) from None
        raise DataError(error.reason, file=str(path)) from None
    try:
        table.schema.names  # noqa: B018  (pyarrow accepts field names that are not UTF-8)
        table.validate(full=True)  # nor does it check the text of values
    except (UnicodeDecodeError, pa.ArrowInvalid):
        line, reason = locate_jsonl_problem(path, schema)
        raise DataError(reason or "text is not valid UTF-8", file=str(path), line=line) from None
    if table.num_rows == 0:
        raise DataError("no data rows", file=str(path))
    return table, row_line_mapper(path, 1, blank=is_whitespace)


def locate_jsonl_problem(path: Path, schema: pa.Schema | None) -> tuple[int | None, str]:
    """The first line that is not a JSON object, or whose field has the wrong kind."""
    expected = {f.name: _arrow_kind(f.type) for f in schema} if schema is not None else {}
    kinds: dict[str, str] = {}
    for number, raw in iter_lines(path):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return number, "text is not valid UTF-8"
        if not text.strip():
            continue
        unsafe = unsafe_reason(raw)
        if unsafe is not None and unsafe != "not a JSON object":
            return number, unsafe
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return number, f"not valid JSON ({exc.msg})"
        except RecursionError:
            return number, "JSON nested too deeply"
        if not isinstance(value, dict):
            return number, f"expected a JSON object, got {_json_kind(value)}"
        if not _encodable(value):
            return number, "a \\u escape is half of a surrogate pair, not a character"
        for key, field_value in value.items():
            if field_value is None:
                continue
            kind = _json_kind(field_value)
            if schema is not None:
                if key in expected and kind not in expected[key]:
                    return number, f"field '{key}' is {kind}, expected {expected[key][0]}"
                continue
            if kinds.setdefault(key, kind) != kind:
                return number, f"field '{key}' is {kind} here but {kinds[key]} before"
            if kind == "number" and isinstance(field_value, float) and field_value != field_value:
                return number, f"field '{key}' is NaN"
    return None, ""


def _encodable(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _arrow_kind(kind: pa.DataType) -> tuple[str, ...]:
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        return ("number",)
    if pa.types.is_boolean(kind):
        return ("boolean",)
    if pa.types.is_list(kind):
        return ("list",)
    if pa.types.is_struct(kind):
        return ("object",)
    return ("text",)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, dict) else "null"


def first_json_object(path: Path) -> dict[str, object] | None:
    """The first non-blank line of a JSON-lines file as an object, or None (never raises)."""
    try:
        with open_binary(path) as handle:
            for _ in range(1000):
                raw = handle.readline(1 << 22)
                if not raw:
                    return None
                if raw.strip():
                    value = json.loads(raw)
                    return value if isinstance(value, dict) else None
    except (OSError, EOFError, ValueError, zlib.error, RecursionError, DataError):
        return None
    return None
