"""The reading driver: input files -> raw records -> a DuckDB view a format module can map.

It owns everything that is the same for every format: finding the files (folder, ``-``,
``.gz``), telling JSON Lines / JSON array / single object / CSV / Parquet apart, splitting
lines without a Python loop per line (numpy over the bytes, zero-copy into Arrow), and
quarantining records that are not UTF-8, not JSON, not an object or larger than 1 MiB.
What is left is registered as a view with the columns ``_file, _line, _raw, rec``
(docs/INTERNALS.md "Source formats"); the view also carries ``_text`` (TRUE when every
value came as text, i.e. CSV) for formats that want to know.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from idwatch.schema import EVENT_SCHEMA

MAX_RECORD_BYTES = 1 << 20  #: records larger than this are quarantined, never parsed
#: Parquet rows are processed in batches of this many rows.
PARQUET_BATCH_ROWS = int(os.environ.get("IDWATCH_PARQUET_BATCH_ROWS", 500_000))
#: JSON Lines are processed in chunks of about this size (bounded memory; env for tuning / tests).
CHUNK_BYTES = int(os.environ.get("IDWATCH_CHUNK_BYTES", 128 << 20))
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"

#: Canonical columns whose CSV text is converted to a JSON number / boolean when it is one.
_CSV_INT_COLUMNS = [f.name for f in EVENT_SCHEMA if pa.types.is_integer(f.type)]
_CSV_BOOL_COLUMNS = [f.name for f in EVENT_SCHEMA if pa.types.is_boolean(f.type)]


class SourceError(RuntimeError):
    """An input cannot be read at all (missing path, unreadable file): the ingest stops."""


@dataclass
class InputFile:
    """One input: a path on disk or ``-`` (stdin, already read into memory)."""

    name: str
    path: Path | None = None
    data: bytes | None = None


@dataclass
class Chunk:
    """Records of one input ready for a format: the view name and what was rejected on the way."""

    file: str
    view: str
    records: int  # rows in the view (valid JSON objects)
    rejected: int  # records quarantined by the driver (counted in ``records`` of the summary)
    quarantine: pa.Table = field(default_factory=lambda: QUARANTINE_SCHEMA.empty_table())
    sources: list[str] = field(default_factory=list)  # tables / registrations behind the view
    #: JSON Lines not checked yet (``_line``, ``_bytes``): no view, nothing counted until
    #: :meth:`Reader.settle`, so a format with a typed fast path can take the lines it parses.
    lines: pa.Table | None = None
    #: A Parquet batch not turned into records yet (its columns + ``_row``), until :meth:`Reader.settle`.
    batch: pa.Table | None = None

    @property
    def pending(self) -> bool:
        return self.lines is not None or self.batch is not None


QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
    ]
)


# --------------------------------------------------------------------------- finding inputs
#: Files a folder contributes (plain or ``.gz``); a README or manifest beside the logs is not data.
DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".csv", ".tsv", ".parquet")


def is_data_file(path: Path) -> bool:
    return path.name.lower().removesuffix(".gz").endswith(DATA_SUFFIXES)


def expand_paths(paths: list[str]) -> list[InputFile]:
    """Resolve ``PATH...`` into inputs: files as given, folders recursively.

    In a folder: data files only (:data:`DATA_SUFFIXES`), sorted, no dotfiles.
    """
    inputs: list[InputFile] = []
    for raw in paths:
        if raw == "-":
            inputs.append(InputFile("-", data=sys.stdin.buffer.read()))
            continue
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                hidden = any(part.startswith(".") for part in rel.parts)
                if child.is_file() and not hidden and is_data_file(child):
                    inputs.append(InputFile(str(child), path=child))
        elif path.is_file():
            inputs.append(InputFile(str(path), path=path))
        elif path.exists():
            raise SourceError(f"{raw}: not a regular file or folder")
        else:
            raise SourceError(f"{raw}: no such file or folder")
    return inputs


def _head(inp: InputFile, n: int = 4096) -> bytes:
    if inp.data is not None:
        head = inp.data[:n]
    else:
        assert inp.path is not None
        try:
            with open(inp.path, "rb") as fh:
                head = fh.read(n)
        except OSError as exc:
            raise SourceError(f"{inp.name}: {exc.strerror or exc}") from exc
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.GzipFile(
                fileobj=io.BytesIO(inp.data) if inp.data is not None else open(inp.path, "rb")
            ) as gz:  # noqa: SIM115
                head = gz.read(n)
        except (OSError, EOFError):
            head = b""
    return head


def container_kind(inp: InputFile) -> str:
    """``parquet``, ``csv``, ``json`` (array / single object / JSON Lines, told apart later)."""
    head = _head(inp)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    name = inp.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".json", ".jsonl", ".ndjson", ".log", ".txt")):
        return "json"
    first = head.removeprefix(BOM).lstrip()[:1]
    if first in (b"{", b"[") or not first:
        return "json"
    return "csv"


def open_stream(inp: InputFile) -> io.BufferedIOBase:
    """A binary stream of the input's bytes, gunzipped when it starts with the gzip magic."""
    raw: io.BufferedIOBase
    if inp.data is not None:
        raw = io.BytesIO(inp.data)
    else:
        assert inp.path is not None
        try:
            raw = open(inp.path, "rb")  # noqa: SIM115 - returned to the caller
        except OSError as exc:
            raise SourceError(f"{inp.name}: {exc.strerror or exc}") from exc
    magic = raw.read(2)
    raw.seek(0)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def local_copy(inp: InputFile, tmpdir: Path) -> Path:
    """A plain (not gzipped) file on disk with the input's bytes, for readers that need a path."""
    if inp.path is not None and not _is_gzip(inp):
        return inp.path
    target = tmpdir / f"input-{uuid.uuid4().hex}"
    with open_stream(inp) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _is_gzip(inp: InputFile) -> bool:
    if inp.data is not None:
        return inp.data.startswith(GZIP_MAGIC)
    assert inp.path is not None
    with open(inp.path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


# --------------------------------------------------------------------------- JSON text
def _read_chunks(stream: io.BufferedIOBase, size: int | None = None) -> Iterator[memoryview]:
    """Whole lines in chunks of about ``size`` bytes (the last one may lack its newline).

    Each chunk is read straight into a buffer (``readinto``: the bytes are copied once,
    from the kernel) and handed on as a view of it; only the partial last line is copied, to
    start the next buffer.
    """
    size = size or CHUNK_BYTES
    carry = b""
    while True:
        # from Arrow's pool, not ``np.empty``: the pool hands a freed chunk's memory to the next
        # one, where a fresh 128 MiB mapping costs the kernel ~0.1 s to fault in (not zero-filled:
        # readinto fills it)
        buf = np.frombuffer(pa.allocate_buffer(len(carry) + size), dtype=np.uint8)
        view = memoryview(buf)
        view[: len(carry)] = carry
        filled = len(carry)
        while filled < len(buf):
            n = stream.readinto(view[filled:])
            if not n:
                break
            filled += n
        if filled == len(carry):  # end of input
            break
        cut = _last_newline(buf, len(carry), filled)  # the carry itself holds none
        if cut < 0:  # one line longer than the chunk: keep reading
            carry = bytes(view[:filled])
            continue
        carry = bytes(view[cut + 1 : filled])
        yield view[: cut + 1]
    if carry:
        yield memoryview(carry)


def _last_newline(buf: np.ndarray, lo: int, hi: int) -> int:
    """Index of the last ``\\n`` in ``buf[lo:hi]``, or -1; searched backwards in growing windows."""
    end, step = hi, 1 << 16
    while end > lo:
        start = max(lo, end - step)
        hits = np.flatnonzero(buf[start:end] == 10)
        if len(hits):
            return start + int(hits[-1])
        end, step = start, step * 4
    return -1


_END = object()


def read_ahead(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each produced in a background thread while the caller works on the previous one.

    Reading and splitting the next chunk (file I/O and numpy, which release the GIL) then
    overlaps the parsing and storing of this one. At most one item is produced ahead; errors
    of the producer surface here; a caller that stops early waits for the item in progress.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="idwatch-read") as pool:
        pending = pool.submit(next, items, _END)
        while True:
            item = pending.result()
            if item is _END:
                return
            pending = pool.submit(next, items, _END)
            yield item


_CONTENT_BYTE = np.ones(256, dtype=np.uint8)  #: 0 for JSON / CSV whitespace, 1 for anything else
_CONTENT_BYTE[[9, 10, 12, 13, 32]] = 0


def split_lines(data: bytes | memoryview, first_line: int) -> pa.Table:
    """Cut ``data`` at newlines into ``_line`` (1-based) and ``_bytes``, blank lines dropped.

    numpy finds the newlines and the lines that hold nothing but whitespace; the bytes are not
    copied (Arrow offsets into ``data``). Each element keeps its trailing ``\\n`` (Arrow
    elements are contiguous); SQL strips it.
    """
    return _split(data, first_line)[0]


#: Bytes searched for newlines at a time: the comparison's scratch stays in cache, and a
#: chunk does not allocate (and the kernel zero) a boolean array as large as itself.
_NEWLINE_BLOCK = 1 << 20


def _newlines(buf: np.ndarray) -> np.ndarray:
    """Positions of the ``\\n`` bytes in ``buf`` (ascending), found block by block."""
    if len(buf) <= _NEWLINE_BLOCK:
        return np.flatnonzero(buf == 10)
    scratch = np.empty(_NEWLINE_BLOCK, dtype=bool)
    found = []
    for start in range(0, len(buf), _NEWLINE_BLOCK):
        block = buf[start : start + _NEWLINE_BLOCK]
        hits = np.equal(block, 10, out=scratch[: len(block)])
        found.append(np.flatnonzero(hits) + start)
    return np.concatenate(found)


def _split(data: bytes | memoryview, first_line: int) -> tuple[pa.Table, int]:
    """:func:`split_lines` and the number of newlines in ``data`` (where the next chunk's lines start)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = _newlines(buf) + 1
    newlines = len(ends)
    if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    n = len(offsets) - 1
    arr = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    lines = pa.array(np.arange(first_line + 1, first_line + n + 1, dtype=np.int64))
    table = pa.table({"_line": lines, "_bytes": arr})
    if n == 0:
        return table, newlines
    starts = offsets[:-1]
    candidates = np.flatnonzero(_CONTENT_BYTE[buf[starts]] == 0)  # lines starting with whitespace
    if len(candidates) == 0:
        return table, newlines
    if len(candidates) < 10_000:
        blank = [i for i in candidates if not bytes(data[starts[i] : offsets[i + 1]]).strip()]
    else:
        content = np.add.reduceat(_CONTENT_BYTE[buf], starts, dtype=np.int64)
        blank = np.flatnonzero(content == 0)
    if len(blank) == 0:
        return table, newlines
    keep = np.ones(n, dtype=bool)
    keep[np.asarray(blank, dtype=np.int64)] = False
    return table.filter(pa.array(keep)), newlines


def utf8_split(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the array as UTF-8 strings with invalid elements nulled, indices of those elements).

    Arrow validates a whole array at once; when that fails, halves are validated until the
    bad elements are found: a few vectorized casts per bad record, never a loop per record.
    """
    try:
        return arr.cast(pa.large_string()), np.empty(0, dtype=np.int64)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    bad: list[int] = []

    def walk(lo: int, hi: int) -> None:
        if hi - lo == 1:
            bad.append(lo)
            return
        mid = (lo + hi) // 2
        for a, b in ((lo, mid), (mid, hi)):
            try:
                arr.slice(a, b - a).cast(pa.large_string())
            except (pa.ArrowInvalid, UnicodeDecodeError):
                walk(a, b)

    walk(0, len(arr))
    bad_idx = np.array(bad, dtype=np.int64)
    keep = np.ones(len(arr), dtype=bool)
    keep[bad_idx] = False
    mask = pa.array(~keep)
    cleaned = pa.compute.if_else(mask, pa.scalar(None, pa.large_binary()), arr)
    return cleaned.cast(pa.large_string()), bad_idx


#: The condition a record must meet to reach a format (size, valid JSON, an object).
_GOOD_RECORD = (
    "strlen(txt) <= {max_bytes} AND json_valid(txt) "
    "AND (starts_with(txt, '{{') OR starts_with(ltrim(txt), '{{'))"
)

#: Why a record that is not good is rejected.
_REJECT_REASON = """
  CASE
    WHEN strlen(txt) > {max_bytes} THEN 'record larger than 1 MiB'
    WHEN NOT json_valid(txt) THEN 'not valid JSON'
    ELSE 'not a JSON object'
  END
"""


def _csv_header(data: bytes, delim: str) -> list[str]:
    """Column names from the first line of a CSV file (BOM stripped)."""
    first = data.removeprefix(BOM).split(b"\n", 1)[0].rstrip(b"\r")
    if not first.strip():
        return []
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"CSV header is not valid UTF-8: {exc}") from exc
    return [c.strip() for c in next(csv.reader([text], delimiter=delim))]


def _csv_record_lines(data: bytes, rejected: set[int], good: int) -> pa.Array:
    """1-based line where each good CSV row starts (vectorized with numpy).

    A line starts a record when the quotes before it are balanced and it is not blank; the
    rejected records' lines are removed. When the count does not match what DuckDB parsed
    (exotic quoting), the row ordinal + 1 is used instead.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends + 1))
    starts = starts[starts < len(buf)] if len(buf) else starts[:0]
    quotes = np.concatenate(([0], np.cumsum(buf == 34)))
    balanced = quotes[starts] % 2 == 0
    line_end = np.append(ends, len(buf))[: len(starts)]
    length = line_end - starts
    nonblank = ~((length == 0) | ((length == 1) & (buf[np.minimum(starts, len(buf) - 1)] == 13)))
    numbers = np.flatnonzero(balanced & nonblank) + 1
    numbers = numbers[1:]  # the header
    if rejected:
        numbers = numbers[~np.isin(numbers, np.fromiter(rejected, dtype=np.int64))]
    if len(numbers) != good:
        numbers = np.arange(2, good + 2)
    return pa.array(numbers.astype(np.int64))


def _bom_strip(data: bytes | memoryview, first_line: int) -> bytes | memoryview:
    return data[len(BOM) :] if first_line == 0 and bytes(data[: len(BOM)]) == BOM else data


class Reader:
    """Produces :class:`Chunk` views in one DuckDB connection, one input at a time."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tmpdir: Path) -> None:
        self.con = con
        self.tmpdir = tmpdir
        self._n = 0

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def chunks(self, inp: InputFile) -> Iterator[Chunk]:
        kind = container_kind(inp)
        if kind == "parquet":
            yield from self._parquet(inp)
        elif kind == "csv":
            yield self._csv(inp)
        else:
            yield from self._json(inp)

    # ---- JSON: lines, array or single object
    def _json(self, inp: InputFile) -> Iterator[Chunk]:
        try:
            if self._looks_like_document(inp):
                with open_stream(inp) as stream:
                    whole = self._document(inp.name, stream.read().removeprefix(BOM))
                if whole is not None:
                    yield whole
                    return
            with open_stream(inp) as stream:
                yield from read_ahead(self._line_chunks(inp.name, stream))
        except (OSError, EOFError) as exc:
            raise SourceError(f"{inp.name}: {exc}") from exc

    def _looks_like_document(self, inp: InputFile) -> bool:
        """True for a JSON array or an object spread over lines (its first line is not JSON)."""
        with open_stream(inp) as stream:
            first = b""
            while not first.strip():
                line = stream.readline(MAX_RECORD_BYTES + 2)
                if not line:
                    return False
                first = line.removeprefix(BOM) if not first else line
        start = first.lstrip()[:1]
        if start == b"[":
            return True
        if start != b"{":
            return False
        probe = self.con.execute("SELECT json_valid(try(decode(?)))", [first.strip()]).fetchall()
        if not (probe and probe[0][0]):
            return True
        return self._envelope_key(first.strip()) is not None  # a one-line API page

    def _document(self, file: str, doc: bytes) -> Chunk | None:
        """Records of a whole JSON document (array elements, or the one object); None if not JSON."""
        name = self._name("doc")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_src AS SELECT ?::BLOB AS _bytes", [doc])
        kind = self.con.execute(
            f"SELECT CASE WHEN try(decode(_bytes)) IS NULL THEN 'utf8' "
            f"WHEN NOT json_valid(decode(_bytes)) THEN 'json' "
            f"ELSE json_type(decode(_bytes)) END FROM {name}_src"
        ).fetchall()[0][0]
        if kind not in ("ARRAY", "OBJECT"):
            self.con.execute(f"DROP TABLE {name}_src")
            return None
        envelope = self._envelope_key(doc) if kind == "OBJECT" else None
        if envelope:
            kind = "ARRAY"
        if kind == "ARRAY":
            self.con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {name}_lines AS
                SELECT CAST(i AS BIGINT) AS _line, encode(CAST(e AS VARCHAR)) AS _bytes
                FROM (SELECT unnest(l) AS e, unnest(range(1::BIGINT, len(l)::BIGINT + 1)) AS i
                      FROM (SELECT json_extract(decode(_bytes), '{envelope or "$"}[*]') AS l
                            FROM {name}_src))"""
            )
        else:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name}_lines AS "
                f"SELECT 1::BIGINT AS _line, _bytes FROM {name}_src"
            )
        lines = self.con.sql(f"SELECT _line, _bytes FROM {name}_lines ORDER BY _line").to_arrow_table()
        self.con.execute(f"DROP TABLE {name}_lines")
        self.con.execute(f"DROP TABLE {name}_src")
        return self._finish(
            file, lines.cast(pa.schema([("_line", pa.int64()), ("_bytes", pa.large_binary())]))
        )

    #: Keys under which vendor API pages return their records: Microsoft Graph ``value``, Azure
    #: Event Hub / diagnostic ``records``, Google Reports API ``items`` (added by the connectors).
    ENVELOPE_KEYS = ("value", "records", "items")

    def _envelope_key(self, doc: bytes) -> str | None:
        """``$.<key>`` when a JSON object is an API page wrapping an array of record objects."""
        for key in self.ENVELOPE_KEYS:
            hit = self.con.execute(
                f"SELECT json_type(t, '$.{key}') = 'ARRAY' AND json_type(t, '$.{key}[0]') = 'OBJECT' "
                f"FROM (SELECT try(decode(?::BLOB)) AS t) WHERE json_valid(t)",
                [doc],
            ).fetchall()
            if hit and hit[0][0]:
                return f"$.{key}"
        return None

    @staticmethod
    def _line_chunks(file: str, stream: io.BufferedIOBase) -> Iterator[Chunk]:
        """Pending chunks of JSON Lines: split into lines, the per-record checks wait for :meth:`settle`.

        Touches no DuckDB connection, so it can run ahead in another thread (:func:`read_ahead`).
        """
        first_line = 0
        for data in _read_chunks(stream):
            lines, newlines = _split(_bom_strip(data, first_line), first_line)
            yield Chunk(file, "", 0, 0, lines=lines)
            first_line += newlines

    def settle(self, chunk: Chunk, lines: pa.Table | None = None) -> Chunk:
        """Run the driver's checks on a pending chunk's lines (or on ``lines``, a subset of them).

        Returns the chunk with its view and quarantine; a chunk that is not pending is returned as is.
        """
        if chunk.batch is not None:
            return self._parquet_view(chunk.file, chunk.batch)
        if chunk.lines is None:
            return chunk
        return self._finish(chunk.file, chunk.lines if lines is None else lines)

    def _finish(self, file: str, lines: pa.Table) -> Chunk:
        """Register the good records of ``lines (_line, _bytes)`` as a view; quarantine the rest.

        Nothing is materialized: the view reads the Arrow buffers in place, so the text of a
        record is copied only when it is finally written to the store. Each record is checked
        (``json_valid``) once: the rejected lines are found first and left out of the Arrow
        table behind the view, which then needs no check of its own.
        """
        name = self._name("rec")
        text, bad = utf8_split(lines.column("_bytes"))
        text = pa.compute.utf8_rtrim(text, characters="\r\n")  # Arrow kernel: no SQL string copies
        arrow = pa.table({"_line": lines.column("_line"), "txt": text})
        self.con.register(f"{name}_arrow", arrow)
        good_sql = _GOOD_RECORD.format(max_bytes=MAX_RECORD_BYTES)
        fname = _sql_str(file)
        rejected = self.con.sql(
            f"""SELECT {fname}::VARCHAR AS file, _line AS line,
                   {_REJECT_REASON.format(max_bytes=MAX_RECORD_BYTES)} AS reason, txt AS raw
            FROM {name}_arrow WHERE txt IS NOT NULL AND NOT ({good_sql})"""
        ).to_arrow_table()
        if rejected.num_rows:
            rejected_lines = pa.compute.is_in(arrow.column("_line"), value_set=rejected.column("line"))
            self.con.register(f"{name}_arrow", arrow.filter(pa.compute.invert(rejected_lines)))
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT {fname}::VARCHAR AS _file, _line, txt AS _raw, txt AS rec, FALSE AS _text
            FROM {name}_arrow WHERE txt IS NOT NULL"""
        )
        parts = [rejected.cast(QUARANTINE_SCHEMA)]
        if len(bad):
            raw_bad = lines.column("_bytes").take(pa.array(bad)).to_pylist()
            parts.append(
                pa.table(
                    {
                        "file": pa.array([file] * len(bad), pa.string()),
                        "line": lines.column("_line").take(pa.array(bad)),
                        "reason": pa.array(["not valid UTF-8"] * len(bad), pa.string()),
                        "raw": pa.array(
                            [b.rstrip(b"\r\n").decode("utf-8", "backslashreplace") for b in raw_bad],
                            pa.string(),
                        ),
                    },
                    schema=QUARANTINE_SCHEMA,
                )
            )
        quarantine = pa.concat_tables(parts).sort_by("line")
        good = lines.num_rows - quarantine.num_rows
        return Chunk(file, name, good, quarantine.num_rows, quarantine, [f"{name}_arrow"])

    # ---- CSV
    def _csv(self, inp: InputFile) -> Chunk:
        """CSV with a header row; every value text, empty cells null, bad rows quarantined.

        DuckDB parses (RFC 4180 quoting, strict column counts) and reports bad rows with their
        line; the line of each good row is recovered with numpy from where records start.
        """
        name = self._name("csv")
        with open_stream(inp) as stream:
            data = stream.read().removeprefix(BOM).replace(b"\r\n", b"\n")
        path = self.tmpdir / f"{name}.csv"  # normalized copy: one kind of line end, no BOM
        path.write_bytes(data)
        delim = "\t" if inp.name.lower().removesuffix(".gz").endswith(".tsv") else ","
        header = _csv_header(data, delim)
        if not header:
            return Chunk(inp.name, self._empty_view(name, inp.name), 0, 0)
        if len(set(header)) != len(header):
            raise SourceError(f"{inp.name}: CSV header repeats a column name: {header}")
        columns = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in header) + "}"
        # the row order is the line order: left on (the setting is global to the database, and
        # the ingest reads the next chunk in another thread on the same database)
        self.con.execute("SET preserve_insertion_order = true")
        try:
            self.con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {name}_t AS
                SELECT * FROM read_csv({_sql_str(str(path))}, header = true, auto_detect = false,
                    columns = {columns}, delim = {_sql_str(delim)}, quote = '"', escape = '"',
                    new_line = '\\n', strict_mode = true, store_rejects = true, rejects_scan = '{name}_scan',
                    rejects_table = '{name}_rej')"""
            )
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name}_n AS "
                f"SELECT row_number() OVER () AS _ord, * FROM {name}_t"
            )
        except duckdb.Error as exc:
            raise SourceError(f"{inp.name}: cannot read as CSV: {exc}") from exc
        rejects = self.con.execute(
            f"""SELECT CAST(line AS BIGINT), any_value(error_type), any_value(error_message)
            FROM {name}_rej GROUP BY line ORDER BY line"""
        ).fetchall()
        good = self.con.execute(f"SELECT count(*) FROM {name}_n").fetchall()[0][0]
        lines = _csv_record_lines(data, {r[0] for r in rejects}, good)
        self.con.register(
            f"{name}_lines", pa.table({"_ord": pa.array(np.arange(1, good + 1)), "_line": lines})
        )
        parts = []
        for col in header:
            val = f"nullif({_sql_ident(col)}, '')"
            if col in _CSV_INT_COLUMNS:
                expr = (
                    f"CASE WHEN regexp_full_match({val}, '-?[0-9]{{1,18}}') THEN to_json({val}::BIGINT) "
                    f"ELSE to_json({val}) END"
                )
            elif col in _CSV_BOOL_COLUMNS:
                expr = (
                    f"CASE WHEN lower({val}) IN ('true', 'false') THEN to_json(lower({val}) = 'true') "
                    f"ELSE to_json({val}) END"
                )
            else:
                expr = f"to_json({val})"
            parts.append(f"{_sql_str(col)}, {expr}")
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name}_j AS
            SELECT l._line, json_object({", ".join(parts)}) AS rec
            FROM {name}_n n JOIN {name}_lines l USING (_ord)"""
        )
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT {_sql_str(inp.name)}::VARCHAR AS _file, _line, rec::VARCHAR AS _raw, rec, TRUE AS _text
            FROM {name}_j"""
        )
        raw_lines = data.split(b"\n")
        quarantine = pa.table(
            {
                "file": pa.array([inp.name] * len(rejects), pa.string()),
                "line": pa.array([r[0] for r in rejects], pa.int64()),
                "reason": pa.array([f"bad CSV row: {r[1].lower()}: {r[2]}" for r in rejects], pa.string()),
                "raw": pa.array(
                    [
                        raw_lines[r[0] - 1].rstrip(b"\r").decode("utf-8", "backslashreplace")
                        if 0 < r[0] <= len(raw_lines)
                        else ""
                        for r in rejects
                    ],
                    pa.string(),
                ),
            },
            schema=QUARANTINE_SCHEMA,
        )
        sources = [f"{name}_t", f"{name}_n", f"{name}_lines", f"{name}_rej", f"{name}_scan"]
        return Chunk(inp.name, name, int(good), quarantine.num_rows, quarantine, sources)

    def _empty_view(self, name: str, file: str) -> str:
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT {_sql_str(file)}::VARCHAR AS _file, 0::BIGINT AS _line, ''::VARCHAR AS _raw,
                   '{{}}'::JSON AS rec, TRUE AS _text WHERE false"""
        )
        return name

    # ---- Parquet
    def _parquet(self, inp: InputFile) -> Iterator[Chunk]:
        """Parquet in batches of rows (bounded memory), each a pending chunk holding the Arrow batch.

        ``_row`` is the 1-based row number in the file. :meth:`settle` turns a batch into
        JSON object records; a format that maps typed columns directly skips that.
        """
        import pyarrow.parquet as pq

        path = local_copy(inp, self.tmpdir)
        try:
            pfile = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{inp.name}: cannot read as Parquet: {exc}") from exc
        offset = 0
        for batch in pfile.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            table = table.append_column("_row", pa.array(np.arange(offset + 1, offset + batch.num_rows + 1)))
            offset += batch.num_rows
            yield Chunk(inp.name, "", 0, 0, batch=table)

    def _parquet_view(self, file: str, table: pa.Table) -> Chunk:
        """A Parquet batch as a view of JSON object records; timestamps become RFC 3339 UTC."""
        name = self._name("pq")
        self.con.register(f"{name}_arrow", table)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name}_j AS
            SELECT _row AS _line, {row_json_sql(table.schema)} AS rec FROM {name}_arrow"""
        )
        self.con.unregister(f"{name}_arrow")
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT {_sql_str(file)}::VARCHAR AS _file, _line, rec AS _raw, rec, FALSE AS _text
            FROM {name}_j"""
        )
        return Chunk(file, name, table.num_rows, 0)

    def drop(self, chunk: Chunk) -> None:
        """Free what a chunk holds once it is stored (a file of JSON Lines can be large)."""
        if not chunk.view:  # never registered (a fast path took all of it)
            return
        self.con.execute(f"DROP VIEW IF EXISTS {chunk.view}")
        for suffix in ("_c", "_j", "_t"):
            self.con.execute(f"DROP TABLE IF EXISTS {chunk.view}{suffix}")
        for name in chunk.sources:
            with contextlib.suppress(duckdb.Error):
                self.con.unregister(name)
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"DROP TABLE IF EXISTS {name}")


def row_json_sql(schema: pa.Schema) -> str:
    """SQL for a Parquet row as the text of a JSON object (``raw``); timestamps as RFC 3339 UTC."""
    fields = []
    for fld in schema:
        if fld.name == "_row":
            continue
        q = _sql_ident(fld.name)
        if pa.types.is_timestamp(fld.type) or pa.types.is_date(fld.type):
            expr = f"strftime({q}::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%S.%fZ')"
        else:
            expr = q
        fields.append(f"{q} := {expr}")
    return f"to_json(struct_pack({', '.join(fields)}))::VARCHAR" if fields else "'{}'"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def new_tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="idwatch-ingest-"))


#: Where short-lived files that are read back at once go when there is room: memory, not disk.
MEMORY_TMP = Path(os.environ.get("IDWATCH_MEMORY_TMP", "/dev/shm"))


def new_block_dir() -> Path:
    """A folder for files written and read back at once (the typed parser's blocks).

    In memory (``/dev/shm``) when it has room for a few chunks: the bytes then never reach the
    disk (about 7% of a JSON Lines ingest's time); else an ordinary temporary folder.
    """
    prefix = f"idwatch-blocks-{os.getpid()}-"
    with contextlib.suppress(OSError):
        _sweep_blocks(MEMORY_TMP)
        stat = os.statvfs(MEMORY_TMP)
        if os.access(MEMORY_TMP, os.W_OK) and stat.f_bavail * stat.f_frsize >= 4 * CHUNK_BYTES:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=MEMORY_TMP))
    return Path(tempfile.mkdtemp(prefix=prefix))


def _sweep_blocks(folder: Path) -> None:
    """Remove the block folders of killed ingests (their process is gone): nothing else frees that memory."""
    for old in folder.glob("idwatch-blocks-*-*"):
        pid = old.name.split("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


def remove_tmpdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = [
    "MAX_RECORD_BYTES",
    "QUARANTINE_SCHEMA",
    "Chunk",
    "InputFile",
    "Reader",
    "SourceError",
    "container_kind",
    "expand_paths",
    "new_tmpdir",
    "remove_tmpdir",
    "row_json_sql",
    "split_lines",
]
