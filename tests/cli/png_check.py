#!/usr/bin/python3
"""Checks a screenshot: decodes the PNG (8-bit RGB or RGBA, no library
needed) and fails unless enough of it is not background and each colour
named on the command line appears (e.g. the charts' bar colours).
Usage: png_check.py FILE.png MIN_NON_WHITE_FRACTION [#rrggbb ...]"""
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    path, min_fraction = sys.argv[1], float(sys.argv[2])
    w, h, bpp, rows = pixels(path)
    colours = {}
    for row in rows:
        for x in range(0, w * bpp, bpp):
            px = row[x:x + 3]
            colours[px] = colours.get(px, 0) + 1
    white = colours.get(b"\xff\xff\xff", 0)
    fraction = 1 - white / (w * h)
    assert fraction >= min_fraction, "only %.3f of the page is not white" % fraction
    for want in sys.argv[3:]:
        rgb = bytes.fromhex(want.lstrip("#"))
        assert colours.get(rgb, 0) >= 50, "colour %s hardly appears" % want


if __name__ == "__main__":
    main()
