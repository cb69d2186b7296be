#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write a fuzz_cfitab seed: one flags byte, the section's ELF address (u32 LE), its bytes.

Usage: cfi_seed.py ELF SECTION FLAGS OUT   (FLAGS bit 0: the bytes are .debug_frame)
"""
import struct
import sys


def section(path, want):
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def sh(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)

    stroff = sh(shstrndx)[4]
    for i in range(shnum):
        name, _, _, addr, off, size = sh(i)[:6]
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end].decode() == want:
            return addr, data[off:off + size]
    sys.exit(f"{path}: no {want}")


addr, body = section(sys.argv[1], sys.argv[2])
with open(sys.argv[4], "wb") as f:
    f.write(bytes([int(sys.argv[3])]) + struct.pack("<I", addr & 0xFFFFFFFF) + body)
