#!/usr/bin/env python3
"""Damages one page of a ruvector_pg index file in place (the server must be
stopped), for tests/recovery/corrupt.sh.

  corrupt_pages.py FILE CASE

FILE is the index's main fork (pg_relation_filepath under the data
directory). Pages are 8 kB: a 24-byte header (pd_lower at 12, pd_upper at
14, pd_special at 16), line pointers from byte 24 (lp_off: 15 bits, flags: 2,
lp_len: 15), tuples, then the 8-byte special space (page id 0x5256, kind,
next block of the chain). Block 0 is the meta page; an ivfflat meta page
holds (magic, version, dims, lists, metric, centre_block, copy_start,
copy_insert) as u32 from byte 24, and each centre page tuple starts with its
list's first block and insert block.

Cases (the damaged block is printed):
  ivf_loop        a list's first page links to itself
  ivf_meta_link   a list's first page links to the meta page
  ivf_special     a list page's pd_special moved to the page end (no special space)
  ivf_lower       a list page's pd_lower below the header (PostgreSQL's read check allows it)
  ivf_row_len     a row's line pointer 4 bytes shorter
  ivf_heap_tid    a row's heap TID far past the table's end
  ivf_garbage     seeded random bytes over a row's vector payload
  ivf_copy        format 3: a row's copy pointer moved to another copy
  ivf_zero        a list's second page all zeros
  hnsw_garbage    seeded random bytes over the middle of a data page's tuples
  hnsw_vector     seeded random bytes over the last 32 bytes of an element's
                  vector (the tuple's structure intact)
  hnsw_key        an element's filter key (its last 8 bytes, in an index
                  with a filter column) changed by 1,000
  hnsw_special    an hnsw data page's page id overwritten
  hnsw_entry      the meta page's entry point names a block past the end
  ivf_random_N, hnsw_random_N
                  64 bytes set to random values at random places of the data
                  pages (headers and line pointers included), seed N
"""
import random
import struct
import sys

PAGE = 8192


def pages(data):
    return len(data) // PAGE


def u16(data, at):
    return struct.unpack_from("<H", data, at)[0]


def u32(data, at):
    return struct.unpack_from("<I", data, at)[0]


def items(data, block):
    """(offset number, lp byte position, tuple start, tuple length) of the normal items."""
    base = block * PAGE
    lower = u16(data, base + 12)
    out = []
    for i in range((lower - 24) // 4):
        lp = u32(data, base + 24 + 4 * i)
        off, flags, length = lp & 0x7FFF, (lp >> 15) & 3, lp >> 17
        if flags == 1 and length:
            out.append((i + 1, base + 24 + 4 * i, base + off, length))
    return out


def ivf_lists(data):
    """First blocks of the lists, and the meta fields."""
    magic, version, dims, nlists, metric, centre, copy_start, copy_insert = struct.unpack_from("<8I", data, 24)
    assert magic == 0x72766976, "not an ivfflat meta page"
    starts, block = [], centre
    while block not in (0, 0xFFFFFFFF):
        for _, _, at, _ in items(data, block):
            starts.append(u32(data, at))
        block = u32(data, block * PAGE + PAGE - 8 + 4)
    return starts, {"version": version, "dims": dims, "copy_start": copy_start}


def list_page_with_rows(data):
    """A list's first page that holds rows, and the next page of its chain."""
    starts, meta = ivf_lists(data)
    for s in starts:
        if items(data, s):
            return s, u32(data, s * PAGE + PAGE - 8 + 4), meta
    raise SystemExit("no list page with rows")


def main():
    path, case = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    rng = random.Random(7)
    if "_random_" in case:
        rng = random.Random(int(case.rsplit("_", 1)[1]))
        damaged = set()
        for _ in range(64):
            block = rng.randrange(1, pages(data))
            data[block * PAGE + rng.randrange(PAGE)] = rng.randrange(256)
            damaged.add(block)
        block = " ".join(str(b) for b in sorted(damaged))
    elif case.startswith("ivf_"):
        block, nxt, meta = list_page_with_rows(data)
        base = block * PAGE
        rows = items(data, block)
        if case == "ivf_loop":
            struct.pack_into("<I", data, base + PAGE - 4, block)
        elif case == "ivf_meta_link":
            struct.pack_into("<I", data, base + PAGE - 4, 0)
        elif case == "ivf_special":
            struct.pack_into("<H", data, base + 16, PAGE)
        elif case == "ivf_lower":
            struct.pack_into("<H", data, base + 12, 4)
        elif case == "ivf_row_len":
            _, lp_at, _, _ = rows[0]
            struct.pack_into("<I", data, lp_at, u32(data, lp_at) - (4 << 17))
        elif case == "ivf_heap_tid":
            _, _, at, _ = rows[0]
            struct.pack_into("<HHH", data, at, 0x0F00, 0x0000, 1)  # BlockIdData hi, lo; offset
        elif case == "ivf_garbage":
            _, _, at, length = rows[0]
            for i in range(8, length):
                data[at + i] = rng.randrange(256)
        elif case == "ivf_copy":
            assert meta["version"] == 3, "not a format-3 index"
            _, _, first, _ = rows[0]
            _, _, second, _ = rows[1]
            data[first + 8 : first + 16] = data[second + 8 : second + 16]
        elif case == "ivf_zero":
            assert nxt not in (0, 0xFFFFFFFF), "the list has one page"
            block = nxt
            data[nxt * PAGE : (nxt + 1) * PAGE] = bytes(PAGE)
        else:
            raise SystemExit(f"unknown case {case}")
    elif case.startswith("hnsw_"):
        if case == "hnsw_entry":
            block = 0
            # hnsw's meta page: magic, version, dims, m, ef_construction,
            # metric, entry block, entry offset, ... (u32s from byte 24); the
            # entry block goes far past the end
            struct.pack_into("<I", data, 24 + 24, pages(data) + 1000)
        else:
            block = max(1, pages(data) // 2)
            base = block * PAGE
            if case == "hnsw_special":
                struct.pack_into("<H", data, base + PAGE - 8, 0x1234)
            elif case == "hnsw_garbage":
                upper = u16(data, base + 14)
                for i in range(upper + 64, min(upper + 2048, PAGE - 8)):
                    data[base + i] = rng.randrange(256)
            elif case == "hnsw_key":
                at, length = next((at, n) for _, _, at, n in items(data, block) if data[at] == 1 and data[at + 2] & 6 == 2)
                key = struct.unpack_from("<q", data, at + length - 8)[0]
                struct.pack_into("<q", data, at + length - 8, key + 1000)
            elif case == "hnsw_vector":
                # an element tuple (kind 1) without a filter key (flags bit
                # 1): its vector's only chunk ends the tuple
                at, length = next((at, n) for _, _, at, n in items(data, block) if data[at] == 1 and not data[at + 2] & 2)
                for i in range(length - 32, length):
                    data[at + i] = rng.randrange(256)
            else:
                raise SystemExit(f"unknown case {case}")
    else:
        raise SystemExit(f"unknown case {case}")
    with open(path, "r+b") as f:
        f.write(data)
    print(block)


if __name__ == "__main__":
    main()
