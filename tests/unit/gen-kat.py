#!/usr/bin/env python3
"""Known answers for tests/unit/test_cipher.c, test_noise.c and test_cookie.c.

The values come from implementations that share no code with the daemon: Python's hashlib
(BLAKE2s) and hmac for the hash family, and the `cryptography` package (OpenSSL) for X25519
and ChaCha20-Poly1305. XChaCha20 is composed here from an HChaCha20 written after the
XChaCha draft, and the WireGuard handshake is computed step by step from the whitepaper
(§5.4). The C tests hold the printed constants and do not need Python.

    python3 tests/unit/gen-kat.py            # prints every constant as C
    python3 tests/unit/gen-kat.py --verify   # compares them with those in test_*.c
    python3 tests/unit/gen-kat.py --check    # only runs the self-checks

Without `cryptography` (Debian: python3-cryptography) only the hash-family constants print.
"""
import hashlib
import hmac
import struct
import sys


def blake2s(data, key=b"", size=32):
    return hashlib.blake2s(data, key=key, digest_size=size).digest()


def hmac_blake2s(key, msg):
    return hmac.new(key, msg, hashlib.blake2s).digest()


def kdf(n, ck, data):
    """Kdf_n of the whitepaper: prk = HMAC(ck, in); T_i = HMAC(prk, T_{i-1} || i)."""
    prk = hmac_blake2s(ck, data)
    out, t = [], b""
    for i in range(1, n + 1):
        t = hmac_blake2s(prk, t + bytes([i]))
        out.append(t)
    return out


def pattern(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


OUT = []


def emit(name, value):
    OUT.append((name, value.hex()))


# --- Hash family (stdlib only) ------------------------------------------------------------

# RFC 7693 Appendix B publishes BLAKE2s-256("abc"); check we agree before printing anything.
ABC_RFC7693 = bytes.fromhex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
assert blake2s(b"abc") == ABC_RFC7693

emit("blake2s_empty", blake2s(b""))
emit("blake2s_abc", blake2s(b"abc"))
# cipher_hash(a, b) hashes the concatenation.
emit("blake2s_concat", blake2s(b"Noise_IKpsk2_" + b"25519_ChaChaPoly_BLAKE2s"))

MAC_KEY = pattern(0x00, 32)
MAC_MSG = pattern(0x40, 100)
emit("mac16_k32", blake2s(MAC_MSG, key=MAC_KEY, size=16))
# mac2 is keyed with the 16-byte cookie.
emit("mac16_k16", blake2s(MAC_MSG, key=MAC_KEY[:16], size=16))

HMAC_MSG = b"sealnet hmac known answer"
emit("hmac_k32", hmac_blake2s(pattern(0x10, 32), HMAC_MSG))
emit("hmac_k64", hmac_blake2s(pattern(0x20, 64), HMAC_MSG))  # exactly one block
emit("hmac_k100", hmac_blake2s(pattern(0x30, 100), HMAC_MSG))  # hashed first
emit("hmac_empty_msg", hmac_blake2s(pattern(0x10, 32), b""))

# Chaining key as at the start of every handshake, input as a DH result would be.
KDF_CK = blake2s(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")
KDF_IN = pattern(0x80, 32)
t1, t2, t3 = kdf(3, KDF_CK, KDF_IN)
emit("kdf_t1", t1)
emit("kdf_t2", t2)
emit("kdf_t3", t3)
e1, e2 = kdf(2, KDF_CK, b"")  # the transport-key split: Kdf2(Ck, empty)
emit("kdf_empty_t1", e1)
emit("kdf_empty_t2", e2)


# --- AEADs and X25519 (needs `cryptography`) ----------------------------------------------

def rotl32(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl32(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl32(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl32(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl32(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    """ChaCha20's 20 rounds without the final addition; words 0-3 and 12-15 are the key."""
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13)
        quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12)
        quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


# draft-irtf-cfrg-xchacha §2.2.1.
assert hchacha20(pattern(0, 32), bytes.fromhex("000000090000004a0000000031415927")) == \
    bytes.fromhex("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")

try:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives import serialization
    HAVE_CRYPTOGRAPHY = True
except ImportError:
    HAVE_CRYPTOGRAPHY = False


def wg_nonce(counter):
    return b"\0" * 4 + struct.pack("<Q", counter)


def aead_seal(key, counter, plain, ad):
    return ChaCha20Poly1305(key).encrypt(wg_nonce(counter), plain, ad)


def xaead_seal(key, nonce24, plain, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], plain, ad)


def x25519_pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def x25519(priv, pub):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(pub))


def tai64n(realtime_ns):
    sec = 0x400000000000000A + realtime_ns // 10**9
    nsec = (realtime_ns % 10**9) & ~((1 << 24) - 1)  # down to 2^24 ns, under 1/50 s
    return struct.pack(">QI", sec, nsec)


CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"

# Inputs of the handshake known answer; test_noise.c spells the same values.
HS_I_STATIC = blake2s(b"sealnet kat initiator static")
HS_R_STATIC = blake2s(b"sealnet kat responder static")
HS_I_EPHEMERAL = blake2s(b"sealnet kat initiator ephemeral")
HS_R_EPHEMERAL = blake2s(b"sealnet kat responder ephemeral")
HS_PSK = blake2s(b"sealnet kat preshared key")
HS_REALTIME_NS = 1700000000123456789
HS_I_INDEX = 0x11223344
HS_R_INDEX = 0xA5B6C7D8
HS_DATA = b"sealnet kat data"  # 16 bytes, already a padding multiple


def handshake(psk):
    si_pub, sr_pub = x25519_pub(HS_I_STATIC), x25519_pub(HS_R_STATIC)
    ei_pub, er_pub = x25519_pub(HS_I_EPHEMERAL), x25519_pub(HS_R_EPHEMERAL)

    # Initiator, whitepaper §5.4.2.
    ck = blake2s(CONSTRUCTION)
    h = blake2s(ck + IDENTIFIER)
    h = blake2s(h + sr_pub)
    (ck,) = kdf(1, ck, ei_pub)
    h = blake2s(h + ei_pub)
    ck, k = kdf(2, ck, x25519(HS_I_EPHEMERAL, sr_pub))
    enc_static = aead_seal(k, 0, si_pub, h)
    h = blake2s(h + enc_static)
    ck, k = kdf(2, ck, x25519(HS_I_STATIC, sr_pub))
    enc_ts = aead_seal(k, 0, tai64n(HS_REALTIME_NS), h)
    h = blake2s(h + enc_ts)
    init = struct.pack("<II", 1, HS_I_INDEX) + ei_pub + enc_static + enc_ts
    init += blake2s(init, key=blake2s(b"mac1----" + sr_pub), size=16) + b"\0" * 16

    # Responder, §5.4.3.
    (ck,) = kdf(1, ck, er_pub)
    h = blake2s(h + er_pub)
    (ck,) = kdf(1, ck, x25519(HS_R_EPHEMERAL, ei_pub))
    (ck,) = kdf(1, ck, x25519(HS_R_EPHEMERAL, si_pub))
    ck, tau, k = kdf(3, ck, psk)
    h = blake2s(h + tau)
    enc_nothing = aead_seal(k, 0, b"", h)
    resp = struct.pack("<III", 2, HS_R_INDEX, HS_I_INDEX) + er_pub + enc_nothing
    resp += blake2s(resp, key=blake2s(b"mac1----" + si_pub), size=16) + b"\0" * 16

    # §5.4.5: initiator sends with T1, receives with T2.
    t_send, t_recv = kdf(2, ck, b"")
    data = struct.pack("<IIQ", 4, HS_R_INDEX, 0) + aead_seal(t_send, 0, HS_DATA, b"")
    return init, resp, t_send, t_recv, data


if HAVE_CRYPTOGRAPHY:
    # RFC 7748 §6.1 as a check of the library we compare against.
    a = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    assert x25519_pub(a).hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert x25519_pub(b).hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    assert x25519(a, x25519_pub(b)).hex() == \
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

    # RFC 8439 §2.8.2's key, AAD and text under WireGuard's nonce layout.
    AEAD_KEY = pattern(0x80, 32)
    AEAD_AD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    AEAD_TEXT = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one "
                 b"tip for the future, sunscreen would be it.")
    emit("aead_c0", aead_seal(AEAD_KEY, 0, AEAD_TEXT, AEAD_AD))
    emit("aead_c1", aead_seal(AEAD_KEY, 1, AEAD_TEXT, AEAD_AD))
    emit("aead_cbig", aead_seal(AEAD_KEY, 0x0102030405060708, AEAD_TEXT, AEAD_AD))
    emit("aead_empty_c7", aead_seal(AEAD_KEY, 7, b"", b""))  # a keepalive's tag

    XNONCE = pattern(0x40, 24)
    emit("xaead", xaead_seal(AEAD_KEY, XNONCE, pattern(0x00, 16), pattern(0xA0, 16)))

    emit("hs_i_static", HS_I_STATIC)
    emit("hs_r_static", HS_R_STATIC)
    emit("hs_i_ephemeral", HS_I_EPHEMERAL)
    emit("hs_r_ephemeral", HS_R_EPHEMERAL)
    emit("hs_psk", HS_PSK)
    for label, psk in (("nopsk", b"\0" * 32), ("psk", HS_PSK)):
        init, resp, t_send, t_recv, data = handshake(psk)
        emit("hs_%s_initiation" % label, init)
        emit("hs_%s_response" % label, resp)
        emit("hs_%s_i_send" % label, t_send)
        emit("hs_%s_i_recv" % label, t_recv)
        emit("hs_%s_data" % label, data)
    emit("hs_timestamp", tai64n(HS_REALTIME_NS))

    # Cookies, whitepaper §5.4.4 and §5.4.7. The message is an initiation's 116 bytes before
    # the macs; the peer key need not be a curve point, it is only hashed.
    CK_PUB = blake2s(b"sealnet kat cookie peer")
    CK_MSG = pattern(0x01, 116)
    CK_SECRET = pattern(0x60, 32)
    CK_NONCE = pattern(0x90, 24)
    CK_INDEX = 0x01020304
    mac1 = blake2s(CK_MSG, key=blake2s(b"mac1----" + CK_PUB), size=16)
    emit("cookie_pub", CK_PUB)
    emit("cookie_mac1", mac1)
    for label, src in (("4", bytes([198, 18, 0, 1]) + struct.pack(">H", 51820)),
                       ("6", bytes.fromhex("fd000000000000000000000000000001") +
                        struct.pack(">H", 51820))):
        cookie = blake2s(src, key=CK_SECRET, size=16)
        reply = struct.pack("<II", 3, CK_INDEX) + CK_NONCE
        reply += xaead_seal(blake2s(b"cookie--" + CK_PUB), CK_NONCE, cookie, mac1)
        emit("cookie_reply%s" % label, reply)
        emit("cookie_mac2_%s" % label, blake2s(CK_MSG + mac1, key=cookie, size=16))

if "--check" in sys.argv:
    print("gen-kat: self-checks passed%s" % ("" if HAVE_CRYPTOGRAPHY else " (no cryptography)"))
    sys.exit(0)

if "--verify" in sys.argv:
    # Compare with the constants the C tests hold (test_*.c next to this script).
    import glob
    import os
    import re
    here = os.path.dirname(os.path.abspath(__file__))
    want = dict(OUT)
    found = {}
    for path in sorted(glob.glob(os.path.join(here, "test_*.c"))):
        text = open(path).read()
        for m in re.finditer(r'static const char kat_(\w+)\[\] =((?:\s*"[0-9a-f]*")+);', text):
            found[m.group(1)] = "".join(re.findall(r'"([0-9a-f]*)"', m.group(2)))
            if m.group(1) in want and want[m.group(1)] != found[m.group(1)]:
                print("gen-kat: %s: kat_%s differs" % (os.path.basename(path), m.group(1)))
                sys.exit(1)
    unknown = sorted(set(found) - set(want))
    if unknown and HAVE_CRYPTOGRAPHY:
        print("gen-kat: not computed here: %s" % ", ".join(unknown))
        sys.exit(1)
    if unknown:
        print("gen-kat: unchecked without cryptography: %s" % ", ".join(unknown))
    print("gen-kat: %d constants in the tests agree, %d computed" % (len(found), len(want)))
    sys.exit(0)

# Laid out as clang-format leaves it, so the block can be pasted as is.
for name, hexval in OUT:
    line = 'static const char kat_%s[] = "%s";' % (name, hexval)
    if len(line) <= 100:
        print(line)
        continue
    print("static const char kat_%s[] =" % name)
    chunks = [hexval[i:i + 64] for i in range(0, len(hexval), 64)]
    for i, c in enumerate(chunks):
        print('        "%s"%s' % (c, ";" if i == len(chunks) - 1 else ""))
