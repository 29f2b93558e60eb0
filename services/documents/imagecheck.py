"""PNG and JPEG walked from their first byte to their last: every chunk or segment in place, the size
read from the header (never by decoding the pixels), and nothing after the image's end.

A file cut short, an image claiming billions of pixels (a decompression bomb for whoever decodes it),
and another file hidden behind the image (an archive, a web page) are refused here.
"""

from __future__ import annotations

import struct
import zlib
from typing import IO

from .errors import Refused, hidden_content, unreadable

CHUNK = 1024 * 1024
# what a scan or a phone photo of a receipt needs, well below what makes a decoder allocate gigabytes
MAX_PIXELS = 150_000_000
MAX_SIDE = 30_000
# bytes allowed after an image's end: the zero or blank padding some scanners write
PADDING = b"\x00\t\n\r\x0c "


def too_many_pixels(width: int, height: int) -> Refused:
    return Refused(
        "image_too_large",
        f"The image is {width} × {height} pixels; at most {MAX_SIDE} on a side and {MAX_PIXELS} in all are accepted.",
        f"Attēls ir {width} × {height} pikseļi; pieņem ne vairāk kā {MAX_SIDE} vienā malā un {MAX_PIXELS} kopā.",
        width=width,
        height=height,
    )


def check_dimensions(width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise too_many_pixels(width, height)


def only_padding_left(stream: IO[bytes]) -> bool:
    while chunk := stream.read(CHUNK):
        if chunk.strip(PADDING):
            return False
    return True


# ---- PNG ------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(stream: IO[bytes]) -> None:
    """Walk the chunks: IHDR first with a sane size, every CRC right, an IDAT, IEND last with nothing after."""
    if stream.read(8) != PNG_SIGNATURE:
        raise unreadable("PNG")
    first, seen_idat = True, False
    while True:
        header = stream.read(8)
        if len(header) < 8:
            raise unreadable("PNG")
        length, ctype = struct.unpack(">I4s", header)
        if (first and (ctype != b"IHDR" or length != 13)) or length > 2**31 - 1:
            raise unreadable("PNG")
        crc = zlib.crc32(ctype)
        left = length
        while left:
            data = stream.read(min(left, CHUNK))
            if not data:
                raise unreadable("PNG")
            if first:
                width, height = struct.unpack(">II", data[:8])
                if not (width and height):
                    raise unreadable("PNG")
                check_dimensions(width, height)
            crc = zlib.crc32(data, crc)
            left -= len(data)
        first = False
        stored = stream.read(4)
        if len(stored) < 4 or struct.unpack(">I", stored)[0] != crc & 0xFFFFFFFF:
            raise unreadable("PNG")
        seen_idat = seen_idat or ctype == b"IDAT"
        if ctype == b"IEND":
            break
    if not seen_idat:
        raise unreadable("PNG")
    if not only_padding_left(stream):
        raise hidden_content("PNG")


# ---- JPEG -----------------------------------------------------------------------------------------

_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and the restart markers carry no length
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# a JPEG may carry more JPEGs after its end (a phone's depth or gain map, MPF): each is walked too
MAX_IMAGES = 8
MAX_SEGMENTS = 100_000


class _Cursor:
    """Buffered reads over a stream, and a fast skip over entropy-coded data to the next marker."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0

    def _fill(self, need: int) -> bool:
        """Make at least `need` bytes available from `pos`; False at the end of the stream."""
        while len(self.buf) - self.pos < need:
            more = self.stream.read(CHUNK)
            if not more:
                return False
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return True

    def read(self, n: int) -> bytes:
        self._fill(n)
        out = self.buf[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self.buf[self.pos : self.pos + n]

    def next_marker_after_scan(self) -> int | None:
        """The code of the first marker after entropy-coded data (stuffed 0xFF00 and restarts skipped)."""
        while True:
            i = self.buf.find(b"\xff", self.pos)
            if i < 0:
                self.pos = len(self.buf)
                if not self._fill(1):
                    return None
                continue
            self.pos = i
            if not self._fill(2):
                return None
            code = self.buf[self.pos + 1]
            if code == 0x00 or 0xD0 <= code <= 0xD7:
                self.pos += 2
            elif code == 0xFF:
                self.pos += 1  # fill byte: the marker follows
            else:
                self.pos += 2
                return code

    def rest_is_padding(self) -> bool:
        if self.buf[self.pos :].strip(PADDING):
            return False
        self.pos = len(self.buf)
        return only_padding_left(self.stream)


def check_jpeg(stream: IO[bytes]) -> None:
    """Walk every segment and scan from SOI to EOI; only padding or further JPEGs may follow."""
    cursor = _Cursor(stream)
    for _ in range(MAX_IMAGES):
        _walk_one_jpeg(cursor)
        if cursor.rest_is_padding():
            return
        if cursor.peek(2) != b"\xff\xd8":
            raise hidden_content("JPEG")
    raise hidden_content("JPEG")


def _walk_one_jpeg(cursor: _Cursor) -> None:
    if cursor.read(2) != b"\xff\xd8":
        raise unreadable("JPEG")
    seen_frame = False
    code: int | None = None  # a marker already read by the skip over scan data
    for _ in range(MAX_SEGMENTS):
        if code is None:
            if cursor.read(1) != b"\xff":
                raise unreadable("JPEG")
            marker = cursor.read(1)
            while marker == b"\xff":  # fill bytes
                marker = cursor.read(1)
            if not marker:
                raise unreadable("JPEG")
            code = marker[0]
        if code in _STANDALONE:
            code = None
            continue
        if code == EOI:
            if not seen_frame:
                raise unreadable("JPEG")
            return
        if code == SOI:
            raise unreadable("JPEG")
        raw = cursor.read(2)
        if len(raw) < 2 or struct.unpack(">H", raw)[0] < 2:
            raise unreadable("JPEG")
        length = struct.unpack(">H", raw)[0]
        body = cursor.read(length - 2)
        if len(body) < length - 2:
            raise unreadable("JPEG")
        if code in _SOF:
            if len(body) < 5:
                raise unreadable("JPEG")
            height, width = struct.unpack(">HH", body[1:5])
            if not (height and width):
                raise unreadable("JPEG")
            check_dimensions(width, height)
            seen_frame = True
        if code == SOS:
            if not seen_frame:
                raise unreadable("JPEG")
            code = cursor.next_marker_after_scan()
            if code is None:  # cut off inside the image data
                raise unreadable("JPEG")
            continue
        code = None
    raise unreadable("JPEG")
