"""File reading shared by the file-based sources: Arrow readers, and precise errors.

Reading is vectorised: pyarrow's CSV and JSON readers parse whole blocks into Arrow columns,
with no Python object per row. Only when a reader fails do these helpers scan the file line by
line (the error path), to name the first bad line in one sentence.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import io
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import pyarrow as pa
import pyarrow.compute as pc

from recaug_core import DataError, shown, special_file_kind

LineOf = Callable[[int], int]
COMPRESSIONS = (".gz", ".bz2")
# pyarrow reads text in blocks, and a row must fit in one block: start at 16 MiB, and retry
# with a block large enough for the longest line, up to this size.
BLOCK_SIZE = 1 << 24
MAX_BLOCK_SIZE = 1 << 30
# A delimiter that never appears in text files, to read whole lines as one column.
_NO_DELIMITER = "\x1f"


# -- paths -------------------------------------------------------------------------------------


def logical_suffix(path: Path) -> str:
    """The extension that names the format, under any compression: ``x.jsonl.gz`` -> ``.jsonl``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing ``.gz`` and ``.bz2``.

    A FIFO or a device is refused before it is opened: opening a FIFO blocks until someone
    writes to it, and /dev/zero never ends.
    """
    refuse_special(path)
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if suffix == ".bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    return open(path, "rb")


def check_file(path: Path) -> None:
    """A clear error for a path that is missing, a folder, special (a FIFO, a device), or empty."""
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    refuse_special(path)
    if path.stat().st_size == 0:
        raise DataError("file is empty", file=str(path))


def refuse_special(path: Path) -> None:
    kind = special_file_kind(path)
    if kind is not None:
        raise DataError(f"is {kind}, not a regular file", file=str(path))


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn the low-level errors of reading ``path`` into one-sentence DataErrors."""
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(
            f"compressed file is truncated or corrupt ({first_line(exc)})", file=str(path)
        ) from None
    except UnicodeDecodeError:
        raise DataError("text is not valid UTF-8", file=str(path)) from None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise DataError(f"cannot read this file ({first_line(exc)})", file=str(path)) from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line without its terminator), for error paths only.

    Lines end at ``\n``, ``\r\n`` or a lone ``\r``, as for Arrow's readers, so that an old
    Mac file (CR only) is numbered as its reader sees it.
    """
    number = 0
    with reading(path), open_binary(path) as handle:
        for raw in _universal_lines(handle):
            number += 1
            yield number, raw.rstrip(b"\r\n")


def _universal_lines(handle: IO[bytes]) -> Iterator[bytes]:
    pending: list[bytes] = []  # the start of a line that has not ended yet
    while chunk := handle.read(1 << 20):
        if b"\n" not in chunk and b"\r" not in chunk:
            pending.append(chunk)  # a long line: gather its parts, join once
            continue
        lines = (b"".join(pending) + chunk).splitlines(keepends=True)
        last = lines[-1]
        # a line without its end, or a \r whose \n may start the next chunk, waits
        pending = [lines.pop()] if last.endswith(b"\r") or not last.endswith(b"\n") else []
        yield from lines
    if pending:
        yield b"".join(pending)


def row_line_mapper(path: Path, first_row_line: int, *, blank: Callable[[bytes], bool]) -> LineOf:
    """Row number -> file line, skipping lines the reader skips (called on error paths only)."""

    def line_of(row: int) -> int:
        seen = -1
        for number, raw in iter_lines(path):
            if number < first_row_line or blank(raw):
                continue
            seen += 1
            if seen == row:
                return number
        return row + first_row_line

    return line_of


def _is_empty(raw: bytes) -> bool:
    return raw == b""


def is_whitespace(raw: bytes) -> bool:
    return raw.strip() == b""


def _longest_line(path: Path) -> tuple[int, int]:
    """(length, line number) of the longest line."""
    longest, where = 0, 1
    for number, raw in iter_lines(path):
        if len(raw) > longest:
            longest, where = len(raw), number
    return longest, where


def block_size_for(path: Path) -> int:
    longest, line = _longest_line(path)
    needed = 1 << max(24, (2 * longest + 1024).bit_length())
    if needed > MAX_BLOCK_SIZE:
        raise DataError(
            f"line is {longest:,} bytes long, more than the {MAX_BLOCK_SIZE >> 20} MiB a row "
            "may take",
            file=str(path),
            line=line,
        )
    return needed


def straddles(exc: BaseException) -> bool:
    return "straddl" in str(exc)


# -- delimited text ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delimited:
    """How a delimited text file is laid out."""

    delimiter: str = ","
    header: bool = True
    names: Sequence[str] | None = None  # column names when there is no header
    quoting: bool = True
    encoding: str = "utf-8"
    # Columns read with a fixed type (ids as text, so "007" stays "007"); the rest are inferred.
    types: Mapping[str, pa.DataType] = field(default_factory=dict)
    # Called with the header's names to choose more fixed types (e.g. every column named *id).
    types_for: Callable[[list[str]], Mapping[str, pa.DataType]] | None = None


def read_delimited(path: Path, layout: Delimited) -> tuple[pa.Table, LineOf]:
    """Read a delimited file into a table, and a function from row number to file line."""
    import pyarrow.csv as pcsv

    check_file(path)
    names = read_header(path, layout) if layout.header else list(layout.names or [])
    types = dict(layout.types)
    if layout.types_for is not None:
        types.update(layout.types_for(names))
    types = {name: kind for name, kind in types.items() if name in names}
    parse = pcsv.ParseOptions(
        delimiter=layout.delimiter,
        quote_char='"' if layout.quoting else False,
        newlines_in_values=False,
    )
    # Only an empty field is missing: "NaN" or "NA" must not silently become "no rating".
    convert = pcsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False)

    def read(block_size: int, convert: pcsv.ConvertOptions) -> pa.Table:
        options = pcsv.ReadOptions(
            column_names=None if layout.header else names,
            autogenerate_column_names=not layout.header and not names,
            block_size=block_size,
            encoding=layout.encoding,
        )
        with reading(path):
            return pcsv.read_csv(
                path, read_options=options, parse_options=parse, convert_options=convert
            )

    block_size = BLOCK_SIZE

    def attempt(convert: pcsv.ConvertOptions) -> pa.Table:
        nonlocal block_size
        try:
            return read(block_size, convert)
        except DataError as error:
            if not straddles(error):
                raise
        block_size = block_size_for(path)
        return read(block_size, convert)

    try:
        table = attempt(convert)
    except DataError as error:
        line, reason = locate_delimited_problem(path, layout, len(names))
        if line is not None:
            raise DataError(reason, file=str(path), line=line) from None
        if "conversion error" not in str(error):
            raise
        # A column typed from its first rows failed later on: read every column as text
        # and let validation name the first value that is not a number.
        table = attempt(
            pcsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=[""],
                strings_can_be_null=True,
            )
        )
    if any(pa.types.is_binary(f.type) for f in table.schema):
        # pyarrow keeps undecodable text as bytes; name the line instead of carrying bytes on
        line, reason = locate_delimited_problem(path, layout, len(names))
        raise DataError(reason or "text is not valid UTF-8", file=str(path), line=line)
    if table.num_rows == 0:
        raise DataError("no data rows", file=str(path))
    first_row_line = 2 if layout.header else 1
    line_of = row_line_mapper(path, first_row_line, blank=_is_empty)
    integers = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    if integers and _holds_hexadecimal(path):
        # Arrow's integer inference reads 0x10 as 16: read those columns again as text
        as_text = {**types, **dict.fromkeys(integers, pa.string())}
        text = attempt(
            pcsv.ConvertOptions(column_types=as_text, null_values=[""], strings_can_be_null=False)
        )
        for name in integers:
            hexadecimal = pc.match_substring_regex(text.column(name), r"^\s*[+-]?0[xX]")
            if pc.any(hexadecimal).as_py():
                row = first_true(hexadecimal)
                value = text.column(name)[row].as_py()
                raise DataError(
                    f"value {shown(value)} is not a decimal number",
                    file=str(path),
                    line=line_of(row),
                    column=name,
                )
    return table, line_of


def _holds_hexadecimal(path: Path) -> bool:
    """Whether ``0x`` or ``0X`` occurs anywhere in the file (a fast byte search)."""
    last = b""  # the byte before this chunk: "0" there and "x" here is a match too
    with reading(path), open_binary(path) as handle:
        while chunk := handle.read(1 << 24):
            if b"0x" in chunk or b"0X" in chunk or last + chunk[:1] in (b"0x", b"0X"):
                return True
            last = chunk[-1:]
    return False


def read_header(path: Path, layout: Delimited) -> list[str]:
    """The header's column names; duplicates and undecodable headers are errors."""
    with reading(path), open_binary(path) as handle:
        first = next(_universal_lines(handle), b"")
    try:
        encoding = "utf-8-sig" if layout.encoding.lower() in ("utf-8", "utf8") else layout.encoding
        text = first.decode(encoding).rstrip("\r\n")
    except (UnicodeDecodeError, LookupError):
        raise DataError(
            f"header is not valid {layout.encoding} text", file=str(path), line=1
        ) from None
    if not text.strip():
        raise DataError("the first line (the header) is blank", file=str(path), line=1)
    try:
        names = _split_fields(text, layout)
    except ValueError as exc:
        raise DataError(
            f"cannot split the header into fields ({exc})", file=str(path), line=1
        ) from None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"column '{name}' appears twice in the header", file=str(path), line=1)
        seen.add(name)
    return names


def _split_fields(text: str, layout: Delimited) -> list[str]:
    """One line's fields, as the Arrow reader splits them; ValueError if the line is not
    well-formed delimited text."""
    if not layout.quoting:
        return text.split(layout.delimiter)
    with _no_field_size_limit():
        try:
            return next(csv.reader(io.StringIO(text), delimiter=layout.delimiter), [])
        except csv.Error as exc:
            raise ValueError(str(exc)) from None


@contextlib.contextmanager
def _no_field_size_limit() -> Iterator[None]:
    # Arrow reads fields of any size (up to a block); the csv module stops at 131,072 bytes.
    before = csv.field_size_limit()
    csv.field_size_limit(MAX_BLOCK_SIZE)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def locate_delimited_problem(path: Path, layout: Delimited, width: int) -> tuple[int | None, str]:
    """The first line that cannot be decoded or has the wrong number of fields."""
    shown = {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "'|'"}.get(
        layout.delimiter, repr(layout.delimiter)
    )
    for number, raw in iter_lines(path):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else layout.encoding)
        except UnicodeDecodeError:
            return number, "text is not valid UTF-8 (pass -s encoding=latin-1 for older files)"
        if not text:
            continue
        if number == 1 and layout.header:
            continue
        if layout.quoting and text.count('"') % 2:
            return number, 'a quoted value (") is not closed on this line'
        try:
            fields = _split_fields(text, layout)
        except ValueError as exc:
            return number, f"cannot split this line into fields ({exc})"
        if width and len(fields) != width:
            return number, f"expected {width} fields separated by {shown}, found {len(fields)}"
    return None, ""


def read_lines_split(
    path: Path, separator: str, names: Sequence[str], *, encoding: str = "utf-8"
) -> tuple[pa.Table, LineOf]:
    """Read a file whose fields are separated by a multi-character ``separator`` (``::``).

    Lines are read as one Arrow column and split in one vectorised pass.
    """
    import pyarrow.csv as pcsv

    check_file(path)

    def read(block_size: int) -> pa.Table:
        with reading(path):
            return pcsv.read_csv(
                path,
                read_options=pcsv.ReadOptions(
                    column_names=["line"], block_size=block_size, encoding=encoding
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=_NO_DELIMITER, quote_char=False, newlines_in_values=False
                ),
                convert_options=pcsv.ConvertOptions(column_types={"line": pa.string()}),
            )

    try:
        lines = read(BLOCK_SIZE)
    except DataError as error:
        if straddles(error):
            lines = read(block_size_for(path))
        else:
            for number, raw in iter_lines(path):
                try:
                    raw.decode(encoding)
                except UnicodeDecodeError:
                    raise DataError(
                        "text is not valid UTF-8", file=str(path), line=number
                    ) from None
                if _NO_DELIMITER.encode() in raw:
                    raise DataError(
                        "line holds a control character (\\x1f)", file=str(path), line=number
                    ) from None
            raise
    line_of = row_line_mapper(path, 1, blank=_is_empty)
    if lines.num_rows == 0:
        raise DataError("no data rows", file=str(path))
    parts = pc.split_pattern(lines.column("line"), separator)
    counts = pc.list_value_length(parts)
    wrong = pc.not_equal(counts, len(names))
    if pc.any(wrong).as_py():
        row = first_true(wrong)
        raise DataError(
            f"expected {len(names)} fields separated by '{separator}', found {counts[row].as_py()}",
            file=str(path),
            line=line_of(row),
        )
    columns = [pc.list_element(parts, i) for i in range(len(names))]
    return pa.table(columns, names=list(names)), line_of


def first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    """Index of the first true value of a boolean column that has one."""
    import numpy as np

    values = mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array) else mask.to_numpy()
    return int(np.flatnonzero(np.asarray(values, dtype=bool))[0])


def detect_encoding(path: Path) -> str:
    """``utf-8`` when the file decodes as UTF-8, else ``latin-1`` (older MovieLens files)."""
    import codecs

    utf8 = codecs.getincrementaldecoder("utf-8")()
    with reading(path), open_binary(path) as handle:
        try:
            while chunk := handle.read(1 << 20):
                utf8.decode(chunk)
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"
