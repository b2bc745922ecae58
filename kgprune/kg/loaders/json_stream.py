"""Iterate the elements of a top-level JSON array without loading the whole file.

Visual Genome's files are single arrays of up to several GB (`scene_graphs.json` is about 6 GB in
memory); decoding one element at a time keeps memory at the size of one image's entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgprune.errors import Errors, InputFormatError

CHUNK_CHARS = 1 << 20
_WHITESPACE = " \t\r\n"


class JsonArrayReader:
    """Streams `[{...}, {...}]`; errors name the file and the line where the element began."""

    def __init__(self, path: Path, chunk_chars: int = CHUNK_CHARS) -> None:
        if not path.is_file():
            raise InputFormatError(Errors.K002.format(path=path))
        self.path = path
        self._chunk = chunk_chars
        self._decoder = json.JSONDecoder()
        self.bytes_read = 0
        self.element_line = 0  # where the element last yielded began, for errors found later

    def _fail(self, line: int, problem: str) -> InputFormatError:
        return InputFormatError(Errors.K008.format(path=f"{self.path}:{line}", problem=problem))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as fh:
            buf, pos, line, eof = "", 0, 1, False

            def fill() -> bool:
                nonlocal buf, pos
                try:
                    chunk = fh.read(self._chunk)
                except UnicodeDecodeError as e:
                    raise self._fail(line, f"not UTF-8 ({e.reason} at byte {e.start} of the "
                                           "block being read)") from None
                self.bytes_read = fh.buffer.tell() if hasattr(fh, "buffer") else 0
                buf = buf[pos:] + chunk
                pos = 0
                return bool(chunk)

            def skip_ws() -> None:
                nonlocal pos, line, eof
                while True:
                    while pos < len(buf) and buf[pos] in _WHITESPACE:
                        line += buf[pos] == "\n"
                        pos += 1
                    if pos < len(buf) or eof:
                        return
                    eof = not fill()

            skip_ws()
            if pos >= len(buf) or buf[pos] != "[":
                raise self._fail(line, "the file does not start with '['")
            pos += 1
            first = True
            while True:
                skip_ws()
                if pos >= len(buf):
                    raise self._fail(line, "the array is not closed (file truncated?)")
                if buf[pos] == "]":
                    return
                if not first:
                    if buf[pos] != ",":
                        raise self._fail(line, f"expected ',' or ']' but found {buf[pos]!r}")
                    pos += 1
                    skip_ws()
                first = False
                while True:
                    try:
                        element, end = self._decoder.raw_decode(buf, pos)
                        break
                    except json.JSONDecodeError as e:
                        if eof:
                            raise self._fail(line, f"invalid JSON element ({e.msg})") from None
                        eof = not fill()
                    except RecursionError:
                        raise self._fail(line, "JSON nested too deeply") from None
                if not isinstance(element, dict):
                    raise self._fail(line, "array elements must be JSON objects")
                self.element_line = line
                line += buf.count("\n", pos, end)
                pos = end
                yield element
