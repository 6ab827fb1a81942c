"""The typed fast path for JSON Lines: DuckDB's parallel ``read_json`` with the columns given.

Parsing each record once with the columns named is several times cheaper than extracting
paths from the text of every record. Each column is read as the type the format asks for:
``JSON`` (the value's own JSON text, so ``"123"`` and ``123`` stay apart) or ``VARCHAR`` (a
string's value unescaped; DuckDB would make ``'123'`` of a number, so the format's query marks
``_careful`` every row where that may have happened, and those rows go to the careful path).

The lines go to disk in blocks (``read_json`` reads files, in parallel across and within
them) and come back in order, one row per non-blank line: the Arrow row ``i`` is line ``i``,
which is how ``_line`` and ``_raw`` are attached without parsing anything twice. A block
``read_json`` refuses (a line that is not JSON, not an object, has a key twice ...) is halved
until the bad lines sit in small blocks; those blocks, lines larger than 1 MiB and lines
that are not UTF-8 are returned for the careful path (``Reader.settle``), which quarantines
exactly the bad ones with their reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.sources.base import MAX_RECORD_BYTES, utf8_split

#: Lines per block file (about 20-40 MB of typical events): several blocks per chunk keep
#: both cores busy and bound what one bad line costs.
BLOCK_LINES = int(os.environ.get("IDWATCH_TYPED_BLOCK_LINES", 65_536))
#: A failing block this small goes to the careful path instead of being halved again.
MIN_BLOCK_LINES = int(os.environ.get("IDWATCH_TYPED_MIN_BLOCK_LINES", 1_024))
#: Whole-statement retries (dropping the block DuckDB names) before blocks are read one by one.
STATEMENT_RETRIES = 3

_FILE_IN_ERROR = re.compile(r'in file "([^"]+)"')


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class TypedLines:
    """Reads pending JSON Lines with a fixed set of JSON-typed columns (one DuckDB connection)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        tmpdir: Path,
        columns: list[str] | dict[str, str],
        query: Callable[[str], str],
        careful_lines: str | None = None,
    ) -> None:
        """``columns``: names (read as ``JSON``) or name -> DuckDB type; ``query(source)``: the SQL
        to run over ``source``, a relation with those columns. A BOOLEAN ``_careful`` column in its
        result sends the rows where it is true to the careful path; so does ``careful_lines``, a
        regex (RE2) over the line's text, before anything is parsed: lines of a shape the
        typed columns cannot tell apart (keys differing only in case, envelopes).
        """
        self.con = con
        self.tmpdir = tmpdir
        types = columns if isinstance(columns, dict) else dict.fromkeys(columns, "JSON")
        spec = ", ".join(f"{_sql_str(c)}: {_sql_str(t)}" for c, t in types.items())
        self._columns = "{" + spec + "}"
        self._query = query
        self._careful_lines = careful_lines

    # ------------------------------------------------------------------ public
    def read(self, lines: pa.Table) -> tuple[pa.Table | None, pa.Table]:
        """(parsed rows + ``_line``, ``_raw`` in line order, or None; the lines left for the careful path).

        ``lines`` is a pending chunk's ``(_line, _bytes)`` table (blank lines already dropped).
        """
        column = lines.column("_bytes")  # one chunk (a split): no copy; else combined once
        raw_bytes = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        text, bad_utf8 = utf8_split(raw_bytes)
        text = pc.utf8_rtrim(text, characters="\r\n")
        ok = np.ones(len(raw_bytes), dtype=bool)
        ok[bad_utf8] = False
        lengths = pc.binary_length(text).fill_null(0).to_numpy(zero_copy_only=False)
        ok &= lengths <= MAX_RECORD_BYTES
        if self._careful_lines is not None:
            other = pc.match_substring_regex(text, self._careful_lines).fill_null(False)
            ok &= ~other.to_numpy(zero_copy_only=False)
        eligible = np.flatnonzero(ok)
        blocks = [eligible[i : i + BLOCK_LINES] for i in range(0, len(eligible), BLOCK_LINES)]
        parsed, careful = self._read_blocks(raw_bytes, blocks)
        parsed = [self._keep_sure(idx, table, careful) for idx, table in parsed]
        parsed = [(idx, table) for idx, table in parsed if len(idx)]
        rest = np.sort(np.concatenate([np.flatnonzero(~ok), *careful])).astype(np.int64)
        rest_lines = lines.take(pa.array(rest)) if len(rest) else lines.slice(0, 0)
        if not parsed:
            return None, rest_lines
        order = np.argsort([idx[0] for idx, _ in parsed], kind="stable")
        idx = np.concatenate([parsed[i][0] for i in order])
        table = pa.concat_tables([parsed[i][1] for i in order])
        if len(idx) == len(raw_bytes):  # every line parsed: no copy
            line_col, raw_col = lines.column("_line"), text
        else:
            take = pa.array(idx)
            line_col, raw_col = lines.column("_line").take(take), text.take(take)
        table = table.append_column("_line", line_col).append_column("_raw", raw_col)
        return table, rest_lines

    @staticmethod
    def _keep_sure(
        idx: np.ndarray, table: pa.Table, careful: list[np.ndarray]
    ) -> tuple[np.ndarray, pa.Table]:
        """A parsed block without its rows marked ``_careful`` (their lines join ``careful``)."""
        if "_careful" not in table.column_names:
            return idx, table
        doubt = table.column("_careful")
        table = table.drop_columns(["_careful"])
        if not pc.any(doubt).as_py():
            return idx, table
        mask = doubt.fill_null(False).to_numpy(zero_copy_only=False)
        careful.append(idx[mask])
        return idx[~mask], table.filter(pa.array(~mask))

    # ------------------------------------------------------------------ blocks
    def _read_blocks(
        self, raw: pa.Array, blocks: list[np.ndarray]
    ) -> tuple[list[tuple[np.ndarray, pa.Table]], list[np.ndarray]]:
        """Parse the blocks in one statement, dropping the ones DuckDB names; then one by one."""
        parsed: list[tuple[np.ndarray, pa.Table]] = []
        careful: list[np.ndarray] = []
        pending = [(idx, self._write(raw, idx)) for idx in blocks if len(idx)]
        try:
            for _ in range(STATEMENT_RETRIES):
                if not pending:
                    return parsed, careful
                table, failed = self._statement([p for _, p in pending])
                if table is not None and table.num_rows == sum(len(i) for i, _ in pending):
                    offset = 0
                    for idx, _ in pending:
                        parsed.append((idx, table.slice(offset, len(idx))))
                        offset += len(idx)
                    return parsed, careful
                culprit = [i for i, (_, path) in enumerate(pending) if failed is not None and path == failed]
                if not culprit:
                    break  # DuckDB named no block (or rows did not line up): go one by one
                idx, path = pending.pop(culprit[0])
                path.unlink(missing_ok=True)
                self._halve(raw, idx, parsed, careful)
            while pending:
                idx, path = pending.pop(0)
                self._single(raw, idx, path, parsed, careful)
        finally:
            for _, path in pending:
                path.unlink(missing_ok=True)
        return parsed, careful

    def _single(
        self,
        raw: pa.Array,
        idx: np.ndarray,
        path: Path | None,
        parsed: list[tuple[np.ndarray, pa.Table]],
        careful: list[np.ndarray],
    ) -> None:
        path = path or self._write(raw, idx)
        try:
            table, _ = self._statement([path])
        finally:
            path.unlink(missing_ok=True)
        if table is not None and table.num_rows == len(idx):
            parsed.append((idx, table))
        else:
            self._halve(raw, idx, parsed, careful)

    def _halve(
        self,
        raw: pa.Array,
        idx: np.ndarray,
        parsed: list[tuple[np.ndarray, pa.Table]],
        careful: list[np.ndarray],
    ) -> None:
        """A block that failed: small ones go careful, larger ones are tried again in halves."""
        if len(idx) <= MIN_BLOCK_LINES:
            careful.append(idx)
            return
        mid = len(idx) // 2
        for half in (idx[:mid], idx[mid:]):
            self._single(raw, half, None, parsed, careful)

    def _write(self, raw: pa.Array, idx: np.ndarray) -> Path:
        """The lines at ``idx`` (ascending) as one file; a contiguous run is written without a copy."""
        path = self.tmpdir / f"typed-{uuid.uuid4().hex}.jsonl"
        if idx[-1] - idx[0] + 1 == len(idx):
            part = raw.slice(int(idx[0]), len(idx))
        else:
            part = raw.take(pa.array(idx))
        offsets = np.frombuffer(part.buffers()[1], dtype=np.int64)[part.offset : part.offset + len(part) + 1]
        body = memoryview(part.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
        with open(path, "wb") as fh:
            fh.write(body)
            if len(body) and body[-1] != 10:  # the chunk's last line may lack its newline
                fh.write(b"\n")
        return path

    def _statement(self, paths: list[Path]) -> tuple[pa.Table | None, Path | None]:
        """(rows of the files in order, None) or (None, the file DuckDB blamed, if it said)."""
        listing = "[" + ", ".join(_sql_str(str(p)) for p in paths) + "]"
        sql = self._query(
            f"read_json({listing}, columns = {self._columns}, format = 'newline_delimited', "
            f"records = true, maximum_object_size = {2 * MAX_RECORD_BYTES + 16})"
        )
        # row i is line i. Left on: the setting is global to the database, which other threads
        # of the ingest query at the same time (switching it off again could reorder their rows)
        self.con.execute("SET preserve_insertion_order = true")
        try:
            table = self.con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            hit = _FILE_IN_ERROR.search(str(exc))
            blamed = Path(hit.group(1)) if hit else None
            return None, blamed if blamed in paths else None
        for path in paths:
            with contextlib.suppress(OSError):
                path.unlink()
        return table, None


__all__ = ["BLOCK_LINES", "MIN_BLOCK_LINES", "TypedLines"]
