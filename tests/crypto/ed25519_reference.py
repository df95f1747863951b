"""A slow, plain reading of ZIP-215 Ed25519 verification: the oracle for the native module.

Written from RFC 8032 §5.1 and ZIP-215 with Python integers, for tests only (a scalar
multiplication takes milliseconds). It differs from RFC 8032 exactly where ZIP-215 does:
point encodings need not be canonical (y may be >= p, and x = 0 may carry a sign bit),
S must be below l, and the verification equation is multiplied by the cofactor 8.
"""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
IDENTITY: Point = (0, 1, 1, 0)


def add(p: Point, q: Point) -> Point:
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def neg(p: Point) -> Point:
    x, y, z, t = p
    return (-x % P, y, z, -t % P)


def mul(n: int, p: Point) -> Point:
    """[n]p for any integer n >= 0 (not reduced mod l: torsion components matter here)."""
    out = IDENTITY
    while n:
        if n & 1:
            out = add(out, p)
        p = add(p, p)
        n >>= 1
    return out


def is_identity(p: Point) -> bool:
    x, y, z, _ = p
    return x % P == 0 and (y - z) % P == 0


def decompress(encoding: bytes) -> Point | None:
    """ZIP-215 decoding: any y field (reduced mod p), any sign bit; None if not on the curve."""
    if len(encoding) != 32:
        return None
    field = int.from_bytes(encoding, "little")
    y, sign = (field & (2**255 - 1)) % P, field >> 255
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    if v * x * x % P != u:
        return None
    if x & 1 != sign:
        x = -x % P
    return (x, y, 1, x * y % P)


def compress(p: Point) -> bytes:
    x, y, z, _ = p
    zi = pow(z, -1, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


BASE = decompress((4 * pow(5, -1, P) % P).to_bytes(32, "little"))
assert BASE is not None


def challenge(r_bytes: bytes, public_key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r_bytes + public_key + message).digest(), "little") % L


def zip215_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """ZIP-215 verification, nothing more (small-order keys are accepted here)."""
    if len(signature) != 64:
        return False
    a, r = decompress(public_key), decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = challenge(signature[:32], public_key, message)
    check = add(add(mul(s, BASE), neg(r)), neg(mul(k, a)))
    return is_identity(mul(8, check))


def secret_scalar(seed: bytes) -> int:
    """The signing scalar a of an RFC 8032 seed (SHA-512, clamped)."""
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] = (h[31] & 127) | 64
    return int.from_bytes(h, "little")


def sign_with_r(seed: bytes, message: bytes, r: int, r_point: Point, r_bytes: bytes | None = None) -> bytes:
    """A signature whose R is `r_point` (encoded as `r_bytes` if given), S = r + k·a mod l.

    With r_point = [r]B this is an ordinary signature; adding a small-order point or
    choosing another encoding of R makes the edge cases ZIP-215 decides differently from
    RFC 8032 implementations such as libsodium.
    """
    a = secret_scalar(seed)
    public_key = compress(mul(a, BASE))
    r_bytes = compress(r_point) if r_bytes is None else r_bytes
    s = (r + challenge(r_bytes, public_key, message) * a) % L
    return r_bytes + s.to_bytes(32, "little")


def small_order_points() -> list[Point]:
    """The eight points T with [8]T = 0: multiples of [l]Q for a Q whose torsion part has order 8."""
    for y in range(2, 100):
        q = decompress(y.to_bytes(32, "little"))
        if q is None:
            continue
        t = mul(L, q)
        if not is_identity(mul(4, t)):
            points = [IDENTITY]
            for _ in range(7):
                points.append(add(points[-1], t))
            return points
    raise AssertionError("no point with an order-8 component among small y")


def small_order_encodings() -> set[bytes]:
    """Every 32-byte string that decodes to a small-order point: for each point, y or
    y + p (if below 2^255), with either sign bit, kept if it decodes to a small-order point."""
    found = set()
    for t in small_order_points():
        y = int.from_bytes(compress(t), "little") & (2**255 - 1)
        for field in (y, y + P):
            if field >= 2**255:
                continue
            for sign in (0, 1):
                encoding = (field | sign << 255).to_bytes(32, "little")
                point = decompress(encoding)
                if point is not None and is_identity(mul(8, point)):
                    found.add(encoding)
    return found
