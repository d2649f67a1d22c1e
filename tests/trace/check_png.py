#!/usr/bin/env python3
"""Checks that a PNG is a picture, not a blank page: decodes it with zlib
only (Pillow may be absent) and requires several distinct colours, enough
non-background pixels and some variance. Prints what it found; exit 0 if
it looks drawn, 1 if blank, 2 if unreadable."""
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG kind %r" % (hdr,))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[i]; i += 1
        line = bytearray(raw[i:i + stride]); i += stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line)); prev = line
    return w, h, bpp, rows

def main():
    try:
        w, h, bpp, rows = read_png(sys.argv[1])
    except Exception as e:
        print("unreadable:", e); return 2
    counts = {}
    step = 2
    for y in range(0, h, step):
        r = rows[y]
        for x in range(0, w, step):
            px = r[x * bpp:x * bpp + 3]
            counts[px] = counts.get(px, 0) + 1
    total = sum(counts.values())
    bg, bgn = max(counts.items(), key=lambda kv: kv[1])
    lum = [(0.3 * p[0] + 0.59 * p[1] + 0.11 * p[2], n) for p, n in counts.items()]
    mean = sum(l * n for l, n in lum) / total
    var = sum(n * (l - mean) ** 2 for l, n in lum) / total
    drawn = 1 - bgn / total
    print("%dx%d, %d colours, %.1f%% non-background, luminance variance %.0f"
          % (w, h, len(counts), 100 * drawn, var))
    return 0 if len(counts) >= 8 and drawn >= 0.03 and var >= 50 else 1

sys.exit(main())
