#!/usr/bin/env python3
"""Writes the binary seed inputs of the allowedips and offload fuzz targets into
tests/fuzz/corpus/ (the formats are described at the top of each target's .c file).

Run again only when a format changes: the files are committed, and libFuzzer never writes
into the committed corpus (tests/fuzz/run.sh fuzzes a copy). The datapath target writes its
own seeds (they need the handshake), and the uapi and config seeds are plain text."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# --- allowedips: op byte, cidr byte, address (or "near": which, flip, cidr) ---

V6 = 0x40
NEAR = 0x80


def peer(n):
    return n << 3


def v4(s):
    return bytes(int(x) for x in s.split("."))


def v6(groups):
    return b"".join(struct.pack(">H", g) for g in groups)


def ins(p, cidr, addr, fam=0):
    return bytes([0 | peer(p) | fam, cidr]) + addr


def rem(p, cidr, addr, fam=0):
    return bytes([1 | peer(p) | fam, cidr]) + addr


def look(addr, fam=0):
    return bytes([3 | fam, 0]) + addr


def near(kind, p, which, flip, cidr):
    return bytes([kind | peer(p) | NEAR, which, flip, cidr])


write("allowedips", "overlap4",
      ins(0, 10, v4("100.64.0.0")) + ins(1, 24, v4("100.64.1.0")) +
      ins(2, 25, v4("100.64.1.128")) + ins(3, 32, v4("100.64.1.200")) +
      look(v4("100.64.1.201")) + rem(1, 24, v4("100.64.1.77")) +
      bytes([4 | peer(0), 0]) + v4("0.0.0.0") + bytes([2 | peer(2), 0]) + v4("0.0.0.0"))
write("allowedips", "overlap6",
      ins(0, 8, v6([0xfd00, 0, 0, 0, 0, 0, 0, 0]), V6) +
      ins(1, 64, v6([0xfd00, 0, 0, 3, 0, 0, 0, 0]), V6) +
      ins(2, 128, v6([0xfd00, 0, 0, 3, 0, 0, 0, 1]), V6) +
      ins(3, 65, v6([0xfd00, 0, 0, 3, 0x8000, 0, 0, 0]), V6) +
      look(v6([0xfd00, 0, 0, 3, 0x8000, 0, 0, 1]), V6) +
      rem(2, 128, v6([0xfd00, 0, 0, 3, 0, 0, 0, 1]), V6))
write("allowedips", "near",
      ins(0, 16, v4("198.18.0.0")) + near(0, 1, 0, 20, 24) + near(0, 2, 1, 30, 28) +
      near(0, 3, 2, 0xff, 17) + near(1, 3, 3, 0xff, 17) + near(3, 0, 1, 31, 0) +
      ins(4, 0, v4("0.0.0.0")) + ins(5, 0, bytes(16), V6) + ins(7, 8, v4("10.0.0.0")) +
      ins(6, 33, v4("100.64.0.1")))

# --- offload: mode byte, then a vnet header and a packet, or length-prefixed packets ---

TCP, UDP = 6, 17
F_NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4 = 0, 1, 4, 5


def vnet(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def ip4(proto, payload, seq=1000, flags=0x10, options=b""):
    ihl = 20 + len(options)
    l4 = tcp(seq, flags) if proto == TCP else udp(len(payload))
    total = ihl + len(l4) + len(payload)
    hdr = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl // 4, 0, total, 7, 0x4000, 64, proto, 0,
                      v4("100.64.0.2"), v4("100.64.0.1")) + options
    return hdr + l4 + payload


def ip6(proto, payload, seq=1000, flags=0x10):
    l4 = tcp(seq, flags) if proto == TCP else udp(len(payload))
    plen = len(l4) + len(payload)
    hdr = struct.pack(">IHBB", 0x60000000, plen, proto, 64)
    hdr += v6([0xfd00, 0, 0, 0, 0, 0, 0, 2]) + v6([0xfd00, 0, 0, 0, 0, 0, 0, 1])
    return hdr + l4 + payload


def tcp(seq, flags):
    # ports, seq, ack, data offset 8 (12 bytes of options: NOP NOP timestamps), flags, window
    return (struct.pack(">HHIIBBHHH", 40000, 80, seq, 1, 8 << 4, flags, 0xffff, 0, 0) +
            bytes([1, 1, 8, 10]) + struct.pack(">II", 12345, 678))


def udp(n):
    return struct.pack(">HHHH", 12345, 12345, 8 + n, 0)


def fill(n):
    return bytes((i * 7 + 3) & 0xff for i in range(n))


p = ip4(TCP, fill(3000))
write("offload", "tso4", b"\x00" + vnet(F_NEEDS_CSUM, GSO_TCPV4, 52, 1000, 20, 16) + p)
p = ip6(TCP, fill(2500), flags=0x18)
write("offload", "tso6", b"\x00" + vnet(F_NEEDS_CSUM, GSO_TCPV6, 72, 1200, 40, 16) + p)
p = ip4(UDP, fill(2000))
write("offload", "uso4", b"\x00" + vnet(F_NEEDS_CSUM, GSO_UDP_L4, 28, 700, 20, 6) + p)
p = ip4(TCP, fill(900), options=bytes([1, 1, 1, 0]))
write("offload", "tso4-options", b"\x00" + vnet(F_NEEDS_CSUM, GSO_TCPV4, 56, 256, 24, 16) + p)
p = ip4(UDP, fill(100))
write("offload", "csum", b"\x00" + vnet(F_NEEDS_CSUM, GSO_NONE, 0, 0, 20, 6) + p)


def seq_of(pkts):
    out = b"\x01"
    for q in pkts:
        out += struct.pack("<H", len(q)) + q
    return out


write("offload", "gro4", seq_of([ip4(TCP, fill(1000), 1000), ip4(TCP, fill(1000), 2000),
                                 ip4(TCP, fill(1000), 3000), ip4(TCP, fill(400), 4000, 0x18),
                                 ip4(TCP, fill(1000), 4400)]))
write("offload", "gro6", seq_of([ip6(TCP, fill(1200), 1), ip6(TCP, fill(1200), 1201),
                                 ip6(TCP, fill(1200), 5000), ip6(UDP, fill(10))]))
