/*
 * _secp_batch.c: batch verification of FISCO BCOS's recoverable secp256k1 signatures
 * (issue 21, part 2). This project's own code: nothing here is copied from libsecp256k1 or
 * any other library; the formulas are the textbook ones (Jacobian coordinates for a = 0,
 * Pippenger's bucket method, Straus's interleaved wNAF, FIPS 180-4 SHA-256).
 *
 * FISCO verifies a signature r||s||v over the 32-byte hash e by recovering the signer's key,
 * Q' = r^-1 (s R - e G), where R is the point with x = r (+ n when v >= 2) and the y parity
 * v & 1, and comparing Q' with the sender's key Q. With Q known, that is the same verdict as
 * R - u1 G - u2 Q = O for u1 = e/s, u2 = r/s (r and s are invertible: both are checked to lie
 * in [1, n-1]; Q' = O, which makes recovery fail, also makes this equation fail because r Q
 * is never O for a valid key in a group of prime order). A batch of such equations, each
 * multiplied by a secret random 128-bit z_i, sums to
 *
 *     sum z_i R_i - (sum z_i u1_i) G - sum_j (sum_{i from j} z_i u2_i) Q_j = O
 *
 * which holds whenever every row is valid, and otherwise only with probability <= 2^-128:
 * one multi-scalar multiplication with no inversion in it, the keys of repeated senders
 * merged into one point. A failing batch is bisected (the same z_i throughout: they were
 * fixed before the checks and stay secret) while that is cheaper than checking rows one by
 * one, which it stops being beyond about two bad rows.
 *
 * Representation: a field element is four 64-bit limbs, little-endian, holding any value
 * below 2^256 in its residue class mod p (so a result can be >= p; fe_normalize makes it
 * canonical where a comparison needs that). Scalars mod n are four limbs below n; products
 * of scalars use Montgomery multiplication, which needs no special form of n.
 *
 * Constant time is not a goal: everything verified here is public.
 */
#define PY_SSIZE_T_CLEAN
#define Py_LIMITED_API 0x030B0000
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_u256.h"

/* unsigned __int128 is a GCC/Clang extension; __extension__ keeps -pedantic quiet. */
__extension__ typedef unsigned __int128 u128;

/* ------------------------------------------------------------------------------------------
 * SHA-256 (FIPS 180-4): derives the batch's z_i from a keyed hash of the whole batch.
 * The constants are the first 32 bits of the fractional parts of the cube roots (K) and
 * square roots (H0) of the first primes; they were computed for this file, not pasted.
 * ---------------------------------------------------------------------------------------- */

static const uint32_t SHA_K[64] = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U,
    0xab1c5ed5U, 0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU,
    0x9bdc06a7U, 0xc19bf174U, 0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU,
    0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU, 0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U,
    0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U, 0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU,
    0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U, 0xa2bfe8a1U, 0xa81a664bU,
    0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U, 0x19a4c116U,
    0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U,
    0xc67178f2U};

static const uint32_t SHA_H0[8] = {0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
                                   0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U};

typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    size_t fill;    /* bytes waiting in buf */
    uint64_t total; /* bytes hashed so far */
} sha256_ctx;

static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void sha256_block(uint32_t h[8], const uint8_t *block) {
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    int i;
    for (i = 0; i < 16; i++) w[i] = load_be32(block + 4 * i);
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                      SHA_K[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha256_init(sha256_ctx *ctx) {
    memcpy(ctx->h, SHA_H0, sizeof ctx->h);
    ctx->fill = 0;
    ctx->total = 0;
}

static void sha256_update(sha256_ctx *ctx, const uint8_t *data, size_t len) {
    ctx->total += len;
    if (ctx->fill) {
        size_t take = 64 - ctx->fill < len ? 64 - ctx->fill : len;
        memcpy(ctx->buf + ctx->fill, data, take);
        ctx->fill += take;
        data += take;
        len -= take;
        if (ctx->fill < 64) return;
        sha256_block(ctx->h, ctx->buf);
        ctx->fill = 0;
    }
    for (; len >= 64; data += 64, len -= 64) sha256_block(ctx->h, data);
    memcpy(ctx->buf, data, len);
    ctx->fill = len;
}

static void sha256_final(sha256_ctx *ctx, uint8_t out[32]) {
    uint64_t bits = ctx->total * 8;
    uint8_t pad[72];
    size_t padlen = (ctx->fill < 56 ? 56 : 120) - ctx->fill;
    int i;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (i = 0; i < 8; i++) pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(ctx, pad, padlen + 8);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)ctx->h[i];
    }
}

/* ------------------------------------------------------------------------------------------
 * 256-bit helpers shared by the field and the scalars
 * ---------------------------------------------------------------------------------------- */

/* load_be64, store_be64, u256_from_b32, u256_to_b32, u256_cmp, u256_is_zero: _u256.h */

/* r = a - b mod 2^256, returns the borrow */
static uint64_t u256_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t borrow = 0;
    int i;
    for (i = 0; i < 4; i++) {
        u128 t = (u128)a[i] - b[i] - borrow;
        r[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 127);
    }
    return borrow;
}

/* r = a + b mod 2^256, returns the carry */
static uint64_t u256_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    u128 t = 0;
    int i;
    for (i = 0; i < 4; i++) {
        t += (u128)a[i] + b[i];
        r[i] = (uint64_t)t;
        t >>= 64;
    }
    return (uint64_t)t;
}

/* bits [pos, pos + len) of a 256-bit value, len <= 32; bits past 255 read as zero */
static uint32_t u256_bits(const uint64_t d[4], unsigned pos, unsigned len) {
    unsigned limb = pos >> 6, shift = pos & 63;
    uint64_t v;
    if (limb >= 4) return 0;
    v = d[limb] >> shift;
    if (shift + len > 64 && limb + 1 < 4) v |= d[limb + 1] << (64 - shift);
    return (uint32_t)(v & ((1ULL << len) - 1));
}

static unsigned u256_bitlen(const uint64_t d[4]) {
    int i;
    for (i = 3; i >= 0; i--) {
        if (d[i]) return 64 * (unsigned)i + 64 - (unsigned)__builtin_clzll(d[i]);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The field mod p = 2^256 - 2^32 - 977. Since 2^256 = 2^32 + 977 = FE_C (mod p), a carry out
 * of bit 256 folds back in as + FE_C, and a borrow as - FE_C.
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t d[4];
} fe;

#define FE_C 0x1000003D1ULL

/* The field operations are small and called in tight loops: inlined into every caller (GCC
 * otherwise keeps some of them as calls). */
#define FE_INLINE inline __attribute__((always_inline))

static const fe FE_P = {{0xFFFFFFFEFFFFFC2FULL, 0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL,
                         0xFFFFFFFFFFFFFFFFULL}};

static inline void fe_set_u64(fe *r, uint64_t v) {
    r->d[0] = v;
    r->d[1] = r->d[2] = r->d[3] = 0;
}

/* The canonical representative in [0, p): a value >= p is one for which adding FE_C carries
 * out of 2^256, and then the wrapped sum is exactly value - p. */
static FE_INLINE void fe_normalize(fe *r) {
    u128 t = (u128)r->d[0] + FE_C;
    uint64_t t0 = (uint64_t)t, t1, t2, t3, mask;
    t = (t >> 64) + r->d[1];
    t1 = (uint64_t)t;
    t = (t >> 64) + r->d[2];
    t2 = (uint64_t)t;
    t = (t >> 64) + r->d[3];
    t3 = (uint64_t)t;
    mask = 0 - (uint64_t)(t >> 64);
    r->d[0] = (t0 & mask) | (r->d[0] & ~mask);
    r->d[1] = (t1 & mask) | (r->d[1] & ~mask);
    r->d[2] = (t2 & mask) | (r->d[2] & ~mask);
    r->d[3] = (t3 & mask) | (r->d[3] & ~mask);
}

/* Big-endian bytes; returns 0 when the value is not below p (not a canonical coordinate). */
static int fe_from_b32(fe *r, const uint8_t *b) {
    u256_from_b32(r->d, b);
    return u256_cmp(r->d, FE_P.d) < 0;
}

static void fe_to_b32(uint8_t *b, const fe *a) {
    fe t = *a;
    fe_normalize(&t);
    u256_to_b32(b, t.d);
}

static FE_INLINE int fe_is_zero(const fe *a) {
    fe t = *a;
    fe_normalize(&t);
    return u256_is_zero(t.d);
}

/* Carry chains through GCC's overflow builtins, which compile to add/adc and sub/sbb. */
#define ADDC(r, a, b, cin, cout)                                                              \
    do {                                                                                      \
        uint64_t t_;                                                                          \
        unsigned c1_ = __builtin_add_overflow((a), (b), &t_);                                 \
        unsigned c2_ = __builtin_add_overflow(t_, (uint64_t)(cin), &(r));                     \
        (cout) = c1_ | c2_;                                                                   \
    } while (0)
#define SUBB(r, a, b, bin, bout)                                                              \
    do {                                                                                      \
        uint64_t t_;                                                                          \
        unsigned b1_ = __builtin_sub_overflow((a), (b), &t_);                                 \
        unsigned b2_ = __builtin_sub_overflow(t_, (uint64_t)(bin), &(r));                     \
        (bout) = b1_ | b2_;                                                                   \
    } while (0)

static FE_INLINE void fe_add(fe *r, const fe *a, const fe *b) {
    uint64_t r0, r1, r2, r3;
    unsigned c;
    ADDC(r0, a->d[0], b->d[0], 0, c);
    ADDC(r1, a->d[1], b->d[1], c, c);
    ADDC(r2, a->d[2], b->d[2], c, c);
    ADDC(r3, a->d[3], b->d[3], c, c);
    /* fold 2^256 back in as FE_C */
    ADDC(r0, r0, (0 - (uint64_t)c) & FE_C, 0, c);
    ADDC(r1, r1, 0, c, c);
    ADDC(r2, r2, 0, c, c);
    ADDC(r3, r3, 0, c, c);
    /* a second carry leaves a value below FE_C, so this last fold cannot carry again */
    r->d[0] = r0 + ((0 - (uint64_t)c) & FE_C);
    r->d[1] = r1;
    r->d[2] = r2;
    r->d[3] = r3;
}

static FE_INLINE void fe_sub(fe *r, const fe *a, const fe *b) {
    uint64_t r0, r1, r2, r3;
    unsigned c;
    SUBB(r0, a->d[0], b->d[0], 0, c);
    SUBB(r1, a->d[1], b->d[1], c, c);
    SUBB(r2, a->d[2], b->d[2], c, c);
    SUBB(r3, a->d[3], b->d[3], c, c);
    /* a borrow added 2^256 = FE_C: take FE_C away */
    SUBB(r0, r0, (0 - (uint64_t)c) & FE_C, 0, c);
    SUBB(r1, r1, 0, c, c);
    SUBB(r2, r2, 0, c, c);
    SUBB(r3, r3, 0, c, c);
    /* borrowing twice leaves a value >= 2^256 - FE_C, whose low limb takes FE_C away freely */
    r->d[0] = r0 - ((0 - (uint64_t)c) & FE_C);
    r->d[1] = r1;
    r->d[2] = r2;
    r->d[3] = r3;
}

static FE_INLINE void fe_neg(fe *r, const fe *a) {
    fe zero;
    fe_set_u64(&zero, 0);
    fe_sub(r, &zero, a);
}

/* r = w mod p for a 512-bit w: w_lo + w_hi * FE_C twice, then a last carry */
static FE_INLINE void fe_reduce512(fe *r, const uint64_t w[8]) {
    uint64_t r0, r1, r2, r3, top;
    u128 t = (u128)w[4] * FE_C + w[0];
    r0 = (uint64_t)t;
    t = (t >> 64) + (u128)w[5] * FE_C + w[1];
    r1 = (uint64_t)t;
    t = (t >> 64) + (u128)w[6] * FE_C + w[2];
    r2 = (uint64_t)t;
    t = (t >> 64) + (u128)w[7] * FE_C + w[3];
    r3 = (uint64_t)t;
    top = (uint64_t)(t >> 64); /* below 2^34 */
    t = (u128)top * FE_C + r0;
    r0 = (uint64_t)t;
    t = (t >> 64) + r1;
    r1 = (uint64_t)t;
    t = (t >> 64) + r2;
    r2 = (uint64_t)t;
    t = (t >> 64) + r3;
    r3 = (uint64_t)t;
    /* a carry here leaves a value below 2^67: the fold can reach r1 but no further */
    t = (u128)r0 + (uint64_t)(t >> 64) * FE_C;
    r->d[0] = (uint64_t)t;
    r->d[1] = r1 + (uint64_t)(t >> 64);
    r->d[2] = r2;
    r->d[3] = r3;
}

static FE_INLINE void fe_mul(fe *r, const fe *a, const fe *b) {
    uint64_t w[8], c;
    u128 t;
    const uint64_t *x = a->d, *y = b->d;
    /* row by row; each step's a*b + w + c is at most 2^128 - 1 */
    t = (u128)x[0] * y[0];
    w[0] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[0] * y[1] + c;
    w[1] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[0] * y[2] + c;
    w[2] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[0] * y[3] + c;
    w[3] = (uint64_t)t; w[4] = (uint64_t)(t >> 64);

    t = (u128)x[1] * y[0] + w[1];
    w[1] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[1] * y[1] + w[2] + c;
    w[2] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[1] * y[2] + w[3] + c;
    w[3] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[1] * y[3] + w[4] + c;
    w[4] = (uint64_t)t; w[5] = (uint64_t)(t >> 64);

    t = (u128)x[2] * y[0] + w[2];
    w[2] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[2] * y[1] + w[3] + c;
    w[3] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[2] * y[2] + w[4] + c;
    w[4] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[2] * y[3] + w[5] + c;
    w[5] = (uint64_t)t; w[6] = (uint64_t)(t >> 64);

    t = (u128)x[3] * y[0] + w[3];
    w[3] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[3] * y[1] + w[4] + c;
    w[4] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[3] * y[2] + w[5] + c;
    w[5] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[3] * y[3] + w[6] + c;
    w[6] = (uint64_t)t; w[7] = (uint64_t)(t >> 64);
    fe_reduce512(r, w);
}

/* Squaring: the six cross products once, doubled, plus the four squares (10 multiplies). */
static FE_INLINE void fe_sqr(fe *r, const fe *a) {
    uint64_t w[8], c;
    u128 t;
    const uint64_t *x = a->d;
    t = (u128)x[0] * x[1];
    w[1] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[0] * x[2] + c;
    w[2] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[0] * x[3] + c;
    w[3] = (uint64_t)t; w[4] = (uint64_t)(t >> 64);
    t = (u128)x[1] * x[2] + w[3];
    w[3] = (uint64_t)t; c = (uint64_t)(t >> 64);
    t = (u128)x[1] * x[3] + w[4] + c;
    w[4] = (uint64_t)t; w[5] = (uint64_t)(t >> 64);
    t = (u128)x[2] * x[3] + w[5];
    w[5] = (uint64_t)t; w[6] = (uint64_t)(t >> 64);
    w[7] = w[6] >> 63;
    w[6] = (w[6] << 1) | (w[5] >> 63);
    w[5] = (w[5] << 1) | (w[4] >> 63);
    w[4] = (w[4] << 1) | (w[3] >> 63);
    w[3] = (w[3] << 1) | (w[2] >> 63);
    w[2] = (w[2] << 1) | (w[1] >> 63);
    w[1] = w[1] << 1;
    t = (u128)x[0] * x[0];
    w[0] = (uint64_t)t;
    t = (t >> 64) + w[1];
    w[1] = (uint64_t)t;
    t = (t >> 64) + (u128)x[1] * x[1] + w[2];
    w[2] = (uint64_t)t;
    t = (t >> 64) + w[3];
    w[3] = (uint64_t)t;
    t = (t >> 64) + (u128)x[2] * x[2] + w[4];
    w[4] = (uint64_t)t;
    t = (t >> 64) + w[5];
    w[5] = (uint64_t)t;
    t = (t >> 64) + (u128)x[3] * x[3] + w[6];
    w[6] = (uint64_t)t;
    t = (t >> 64) + w[7];
    w[7] = (uint64_t)t;
    fe_reduce512(r, w);
}

static inline void fe_sqr_n(fe *r, const fe *a, int n) {
    int i;
    *r = *a;
    for (i = 0; i < n; i++) fe_sqr(r, r);
}

/* a^(2^223 - 1), a^(2^22 - 1) and a^3: the shared start of the exponent chains below.
 * p - 2 and (p + 1)/4 both begin with 223 one bits, followed by short tails. */
static void fe_pow_chain(fe *x223, fe *x22, fe *x2, const fe *a) {
    fe x3, x6, x9, x11, x44, x88, x176, x220, t;
    fe_sqr(x2, a);
    fe_mul(x2, x2, a);
    fe_sqr(&x3, x2);
    fe_mul(&x3, &x3, a);
    fe_sqr_n(&t, &x3, 3);
    fe_mul(&x6, &t, &x3);
    fe_sqr_n(&t, &x6, 3);
    fe_mul(&x9, &t, &x3);
    fe_sqr_n(&t, &x9, 2);
    fe_mul(&x11, &t, x2);
    fe_sqr_n(&t, &x11, 11);
    fe_mul(x22, &t, &x11);
    fe_sqr_n(&t, x22, 22);
    fe_mul(&x44, &t, x22);
    fe_sqr_n(&t, &x44, 44);
    fe_mul(&x88, &t, &x44);
    fe_sqr_n(&t, &x88, 88);
    fe_mul(&x176, &t, &x88);
    fe_sqr_n(&t, &x176, 44);
    fe_mul(&x220, &t, &x44);
    fe_sqr_n(&t, &x220, 3);
    fe_mul(x223, &t, &x3);
}

/* a^(p-2) = a^-1 (0 for a = 0). p - 2 = (2^223 - 1) 2^33 + (2^22 - 1) 2^10 + 0b101101. */
static void fe_inv(fe *r, const fe *a) {
    fe x223, x22, x2, t;
    fe_pow_chain(&x223, &x22, &x2, a);
    fe_sqr_n(&t, &x223, 23);
    fe_mul(&t, &t, &x22);
    fe_sqr_n(&t, &t, 5);
    fe_mul(&t, &t, a);
    fe_sqr_n(&t, &t, 3);
    fe_mul(&t, &t, &x2);
    fe_sqr_n(&t, &t, 2);
    fe_mul(r, &t, a);
}

/* A square root of a, since p = 3 (mod 4) it is a^((p+1)/4); returns 0 when a is not a
 * square (the candidate's square then differs from a). */
static int fe_sqrt(fe *r, const fe *a) {
    fe x223, x22, x2, t, check;
    fe_pow_chain(&x223, &x22, &x2, a);
    fe_sqr_n(&t, &x223, 23);
    fe_mul(&t, &t, &x22);
    fe_sqr_n(&t, &t, 6);
    fe_mul(&t, &t, &x2);
    fe_sqr_n(&t, &t, 2);
    fe_sqr(&check, &t);
    fe_sub(&check, &check, a);
    *r = t;
    return fe_is_zero(&check);
}

/* ------------------------------------------------------------------------------------------
 * Scalars mod n, the group order. Inputs and outputs are fully reduced (< n).
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t d[4];
} sc;

static const sc SC_N = {{0xBFD25E8CD0364141ULL, 0xBAAEDCE6AF48A03BULL, 0xFFFFFFFFFFFFFFFEULL,
                         0xFFFFFFFFFFFFFFFFULL}};
static const sc SC_N_HALF = {{0xDFE92F46681B20A0ULL, 0x5D576E7357A4501DULL,
                              0xFFFFFFFFFFFFFFFFULL, 0x7FFFFFFFFFFFFFFFULL}};
/* Montgomery constants for R = 2^256: R^2 mod n, R mod n, and -n^-1 mod 2^64 */
static const sc SC_R2 = {{0x896CF21467D7D140ULL, 0x741496C20E7CF878ULL, 0xE697F5E45BCD07C6ULL,
                          0x9D671CD581C69BC5ULL}};
static const sc SC_R1 = {{0x402DA1732FC9BEBFULL, 0x4551231950B75FC4ULL, 0x0000000000000001ULL,
                          0x0000000000000000ULL}};
#define SC_N0INV 0x4B0DFF665588B13FULL
/* p - n: an x = r + n is a field element only when r < p - n */
static const uint64_t P_MINUS_N[4] = {0x402DA1722FC9BAEEULL, 0x4551231950B75FC4ULL,
                                      0x0000000000000001ULL, 0x0000000000000000ULL};

static inline void sc_add(sc *r, const sc *a, const sc *b) {
    uint64_t t[4];
    uint64_t carry = u256_add(r->d, a->d, b->d);
    uint64_t borrow = u256_sub(t, r->d, SC_N.d);
    /* a + b < 2n: subtract n when the sum overflowed 2^256 or is not below n */
    if (carry || !borrow) memcpy(r->d, t, sizeof t);
}

static inline void sc_neg(sc *r, const sc *a) {
    if (u256_is_zero(a->d)) {
        *r = *a;
        return;
    }
    u256_sub(r->d, SC_N.d, a->d);
}

/* a * b * 2^-256 mod n (coarsely integrated Montgomery multiplication) */
static void sc_mont(sc *r, const sc *a, const sc *b) {
    uint64_t t[6] = {0, 0, 0, 0, 0, 0}, m, c, u[4];
    u128 s;
    int i, j;
    for (i = 0; i < 4; i++) {
        c = 0;
        for (j = 0; j < 4; j++) {
            s = (u128)a->d[i] * b->d[j] + t[j] + c;
            t[j] = (uint64_t)s;
            c = (uint64_t)(s >> 64);
        }
        s = (u128)t[4] + c;
        t[4] = (uint64_t)s;
        t[5] = (uint64_t)(s >> 64);
        m = t[0] * SC_N0INV; /* makes t + m n divisible by 2^64 */
        s = (u128)m * SC_N.d[0] + t[0];
        c = (uint64_t)(s >> 64);
        for (j = 1; j < 4; j++) {
            s = (u128)m * SC_N.d[j] + t[j] + c;
            t[j - 1] = (uint64_t)s;
            c = (uint64_t)(s >> 64);
        }
        s = (u128)t[4] + c;
        t[3] = (uint64_t)s;
        t[4] = t[5] + (uint64_t)(s >> 64);
    }
    /* the result is below 2n: one conditional subtraction */
    if (t[4] || !u256_sub(u, t, SC_N.d)) {
        u256_sub(r->d, t, SC_N.d);
    } else {
        memcpy(r->d, t, sizeof r->d);
    }
}

/* a * b mod n for plain (non-Montgomery) a and b */
static void sc_mul(sc *r, const sc *a, const sc *b) {
    sc t;
    sc_mont(&t, a, b);
    sc_mont(r, &t, &SC_R2);
}

/* The inverse of a Montgomery-form aR: (a^-1)R, by a^(n-2) with a 4-bit fixed window. */
static void sc_inv_mont(sc *r, const sc *a) {
    static const sc N_MINUS_2 = {{0xBFD25E8CD036413FULL, 0xBAAEDCE6AF48A03BULL,
                                  0xFFFFFFFFFFFFFFFEULL, 0xFFFFFFFFFFFFFFFFULL}};
    sc table[16], acc;
    int i, k;
    table[0] = SC_R1;
    for (i = 1; i < 16; i++) sc_mont(&table[i], &table[i - 1], a);
    acc = SC_R1;
    for (i = 63; i >= 0; i--) {
        for (k = 0; k < 4; k++) sc_mont(&acc, &acc, &acc);
        sc_mont(&acc, &acc, &table[u256_bits(N_MINUS_2.d, 4 * (unsigned)i, 4)]);
    }
    *r = acc;
}

/* ------------------------------------------------------------------------------------------
 * The group y^2 = x^3 + 7: affine points (never infinity) and Jacobian ones
 * (x = X/Z^2, y = Y/Z^3) with an explicit infinity flag.
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    fe x, y;
} ge;

typedef struct {
    fe x, y, z;
    int inf;
} gej;

static const ge GE_G = {
    {{0x59F2815B16F81798ULL, 0x029BFCDB2DCE28D9ULL, 0x55A06295CE870B07ULL, 0x79BE667EF9DCBBACULL}},
    {{0x9C47D08FFB10D4B8ULL, 0xFD17B448A6855419ULL, 0x5DA4FBFC0E1108A8ULL, 0x483ADA7726A3C465ULL}}};

static int ge_on_curve(const ge *a) {
    fe lhs, rhs, seven;
    fe_sqr(&lhs, &a->y);
    fe_sqr(&rhs, &a->x);
    fe_mul(&rhs, &rhs, &a->x);
    fe_set_u64(&seven, 7);
    fe_add(&rhs, &rhs, &seven);
    fe_sub(&lhs, &lhs, &rhs);
    return fe_is_zero(&lhs);
}

/* The point with this x and the y of this parity; 0 when x^3 + 7 is not a square. */
static int ge_from_x(ge *r, const fe *x, int odd) {
    fe rhs, seven;
    fe_sqr(&rhs, x);
    fe_mul(&rhs, &rhs, x);
    fe_set_u64(&seven, 7);
    fe_add(&rhs, &rhs, &seven);
    if (!fe_sqrt(&r->y, &rhs)) return 0;
    r->x = *x;
    fe_normalize(&r->y);
    if ((int)(r->y.d[0] & 1) != odd) fe_neg(&r->y, &r->y);
    return 1;
}

static void ge_neg(ge *r, const ge *a) {
    r->x = a->x;
    fe_neg(&r->y, &a->y);
}

static void gej_set_ge(gej *r, const ge *a) {
    r->x = a->x;
    r->y = a->y;
    fe_set_u64(&r->z, 1);
    r->inf = 0;
}

/* 0 for infinity */
static int gej_to_ge(ge *r, const gej *a) {
    fe zi, zi2, zi3;
    if (a->inf) return 0;
    fe_inv(&zi, &a->z);
    fe_sqr(&zi2, &zi);
    fe_mul(&zi3, &zi2, &zi);
    fe_mul(&r->x, &a->x, &zi2);
    fe_mul(&r->y, &a->y, &zi3);
    fe_normalize(&r->x);
    fe_normalize(&r->y);
    return 1;
}

/* Doubling for a = 0 (2M + 5S, Lange's dbl-2009-l). The curve has no point of order 2, so
 * doubling a finite point never gives infinity (Y is never 0). */
static inline void gej_double(gej *r, const gej *a) {
    fe A, B, C, D, E, F, t;
    if (a->inf) {
        r->inf = 1;
        return;
    }
    fe_sqr(&A, &a->x);
    fe_sqr(&B, &a->y);
    fe_sqr(&C, &B);
    fe_add(&t, &a->x, &B);
    fe_sqr(&t, &t);
    fe_sub(&t, &t, &A);
    fe_sub(&t, &t, &C);
    fe_add(&D, &t, &t);
    fe_add(&E, &A, &A);
    fe_add(&E, &E, &A);
    fe_sqr(&F, &E);
    fe_mul(&r->z, &a->y, &a->z); /* before r->y is written: r may be a */
    fe_add(&r->z, &r->z, &r->z);
    fe_add(&t, &D, &D);
    fe_sub(&r->x, &F, &t);
    fe_sub(&t, &D, &r->x);
    fe_mul(&t, &E, &t);
    fe_add(&C, &C, &C); /* 8C */
    fe_add(&C, &C, &C);
    fe_add(&C, &C, &C);
    fe_sub(&r->y, &t, &C);
    r->inf = 0;
}

/* r = a + b with b affine (7M + 4S, madd-2007-bl), every special case handled: a = O,
 * a = b (doubling) and a = -b (infinity), which adversarial batches can produce. */
static inline void gej_add_ge(gej *r, const gej *a, const ge *b) {
    fe z1z1, u2, s2, h, hh, i, j, rr, v, t;
    if (a->inf) {
        gej_set_ge(r, b);
        return;
    }
    fe_sqr(&z1z1, &a->z);
    fe_mul(&u2, &b->x, &z1z1);
    fe_mul(&s2, &b->y, &a->z);
    fe_mul(&s2, &s2, &z1z1);
    fe_sub(&h, &u2, &a->x);
    fe_sub(&rr, &s2, &a->y);
    if (fe_is_zero(&h)) {
        if (fe_is_zero(&rr)) {
            gej bj;
            gej_set_ge(&bj, b);
            gej_double(r, &bj);
        } else {
            r->inf = 1;
        }
        return;
    }
    fe_add(&rr, &rr, &rr);
    fe_sqr(&hh, &h);
    fe_add(&i, &hh, &hh);
    fe_add(&i, &i, &i);
    fe_mul(&j, &h, &i);
    fe_mul(&v, &a->x, &i);
    /* Z3 = (Z1 + H)^2 - Z1Z1 - HH = 2 Z1 H */
    fe_add(&t, &a->z, &h);
    fe_sqr(&t, &t);
    fe_sub(&t, &t, &z1z1);
    fe_sub(&r->z, &t, &hh);
    /* Y3 = rr (V - X3) - 2 Y1 J needs Y1 before r->y is written */
    fe_mul(&t, &a->y, &j);
    fe_add(&t, &t, &t);
    fe_sqr(&r->x, &rr);
    fe_sub(&r->x, &r->x, &j);
    fe_sub(&r->x, &r->x, &v);
    fe_sub(&r->x, &r->x, &v);
    fe_sub(&v, &v, &r->x);
    fe_mul(&v, &rr, &v);
    fe_sub(&r->y, &v, &t);
    r->inf = 0;
}

/* r = a + b, both Jacobian (11M + 5S, add-2007-bl), special cases as in gej_add_ge. */
static inline void gej_add(gej *r, const gej *a, const gej *b) {
    fe z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
    if (a->inf) {
        *r = *b;
        return;
    }
    if (b->inf) {
        *r = *a;
        return;
    }
    fe_sqr(&z1z1, &a->z);
    fe_sqr(&z2z2, &b->z);
    fe_mul(&u1, &a->x, &z2z2);
    fe_mul(&u2, &b->x, &z1z1);
    fe_mul(&s1, &a->y, &b->z);
    fe_mul(&s1, &s1, &z2z2);
    fe_mul(&s2, &b->y, &a->z);
    fe_mul(&s2, &s2, &z1z1);
    fe_sub(&h, &u2, &u1);
    fe_sub(&rr, &s2, &s1);
    if (fe_is_zero(&h)) {
        if (fe_is_zero(&rr)) {
            gej_double(r, a);
        } else {
            r->inf = 1;
        }
        return;
    }
    fe_add(&rr, &rr, &rr);
    fe_add(&i, &h, &h);
    fe_sqr(&i, &i);
    fe_mul(&j, &h, &i);
    fe_mul(&v, &u1, &i);
    /* Z3 = ((Z1 + Z2)^2 - Z1Z1 - Z2Z2) H = 2 Z1 Z2 H */
    fe_add(&t, &a->z, &b->z);
    fe_sqr(&t, &t);
    fe_sub(&t, &t, &z1z1);
    fe_sub(&t, &t, &z2z2);
    fe_mul(&r->z, &t, &h);
    fe_mul(&s1, &s1, &j);
    fe_add(&s1, &s1, &s1);
    fe_sqr(&r->x, &rr);
    fe_sub(&r->x, &r->x, &j);
    fe_sub(&r->x, &r->x, &v);
    fe_sub(&r->x, &r->x, &v);
    fe_sub(&v, &v, &r->x);
    fe_mul(&v, &rr, &v);
    fe_sub(&r->y, &v, &s1);
    r->inf = 0;
}

/* ------------------------------------------------------------------------------------------
 * Multi-scalar multiplication: sum k_i P_i for affine P_i and scalars below 2^256.
 * Straus (interleaved wNAF, shared doublings) for a few points, Pippenger (buckets, signed
 * window digits) for many; msm() picks by an operation-count model in field multiplies.
 * ---------------------------------------------------------------------------------------- */

#define COST_DBL 7  /* 2M + 5S */
#define COST_MADD 11 /* 7M + 4S */
#define COST_ADD 16  /* 11M + 5S */
#define STRAUS_W 5   /* wNAF width: digits odd in (-16, 16), tables of 8 odd multiples */
#define STRAUS_TABLE (1 << (STRAUS_W - 2))
#define PIPPENGER_MAX_C 15 /* digits of up to 2^14 in magnitude fit int16_t */

enum { ALGO_AUTO = 0, ALGO_STRAUS = 1, ALGO_PIPPENGER = 2 };

/* wNAF of k (below 2^256): at most 257 digits, each 0 or odd with |d| < 2^(w-1), and
 * every nonzero digit followed by at least w-1 zeros. Returns the number of digits. */
static int wnaf(int8_t *out, const uint64_t k[4], int w) {
    uint64_t v[5] = {k[0], k[1], k[2], k[3], 0};
    int len = 0, i;
    const int64_t full = (int64_t)1 << w, half = full >> 1;
    while (v[0] | v[1] | v[2] | v[3] | v[4]) {
        int64_t d = 0;
        if (v[0] & 1) {
            d = (int64_t)(v[0] & (uint64_t)(full - 1));
            if (d >= half) d -= full;
            /* v -= d, which makes v divisible by 2^w */
            if (d > 0) {
                uint64_t borrow = v[0] < (uint64_t)d;
                v[0] -= (uint64_t)d;
                for (i = 1; i < 5 && borrow; i++) borrow = v[i]-- == 0;
            } else {
                uint64_t add = (uint64_t)(-d);
                v[0] += add;
                if (v[0] < add)
                    for (i = 1; i < 5 && ++v[i] == 0; i++) {
                    }
            }
        }
        out[len++] = (int8_t)d;
        for (i = 0; i < 4; i++) v[i] = (v[i] >> 1) | (v[i + 1] << 63);
        v[4] >>= 1;
    }
    return len;
}

static long straus_cost(const unsigned *bits, size_t count) {
    long cost = 0;
    unsigned maxbits = 0;
    size_t i;
    for (i = 0; i < count; i++) {
        if (bits[i] > maxbits) maxbits = bits[i];
        cost += (long)(bits[i] / (STRAUS_W + 1) + 1) * COST_ADD + STRAUS_TABLE * COST_ADD;
    }
    return cost + (long)maxbits * COST_DBL;
}

/* windows of width c that signed digits of a bits-long scalar need (one more bit: carry) */
static unsigned windows_for(unsigned bits, unsigned c) { return (bits + 1 + c - 1) / c; }

static long pippenger_cost(const unsigned *bits, size_t count, unsigned c) {
    long cost = 0;
    unsigned maxbits = 0;
    size_t i;
    for (i = 0; i < count; i++) {
        if (bits[i] > maxbits) maxbits = bits[i];
        cost += (long)windows_for(bits[i], c) * COST_MADD;
    }
    /* each window: its bucket sums (2 adds a bucket) and c doublings */
    return cost + (long)windows_for(maxbits, c) * ((2L << (c - 1)) * COST_ADD + c * COST_DBL);
}

static unsigned pippenger_best_c(const unsigned *bits, size_t count, long *cost_out) {
    unsigned c, best = 2;
    long best_cost = pippenger_cost(bits, count, 2);
    for (c = 3; c <= PIPPENGER_MAX_C; c++) {
        long cost = pippenger_cost(bits, count, c);
        if (cost < best_cost) {
            best = c;
            best_cost = cost;
        }
    }
    if (cost_out) *cost_out = best_cost;
    return best;
}

static int straus(gej *out, const ge *pts, const sc *ks, size_t count) {
    gej *tab = malloc(count * STRAUS_TABLE * sizeof *tab);
    int8_t *naf = malloc(count * 258);
    int *len = malloc(count * sizeof *len);
    int maxlen = 0, b;
    size_t i;
    if (!tab || !naf || !len) {
        free(tab); free(naf); free(len);
        return -1;
    }
    for (i = 0; i < count; i++) {
        gej twice;
        int j;
        len[i] = wnaf(naf + 258 * i, ks[i].d, STRAUS_W);
        if (len[i] > maxlen) maxlen = len[i];
        /* odd multiples P, 3P, ..., 15P */
        gej_set_ge(&tab[i * STRAUS_TABLE], &pts[i]);
        gej_double(&twice, &tab[i * STRAUS_TABLE]);
        for (j = 1; j < STRAUS_TABLE; j++)
            gej_add(&tab[i * STRAUS_TABLE + j], &tab[i * STRAUS_TABLE + j - 1], &twice);
    }
    out->inf = 1;
    for (b = maxlen - 1; b >= 0; b--) {
        gej_double(out, out);
        for (i = 0; i < count; i++) {
            int d = b < len[i] ? naf[258 * i + b] : 0;
            if (d > 0) {
                gej_add(out, out, &tab[i * STRAUS_TABLE + (d - 1) / 2]);
            } else if (d < 0) {
                gej neg = tab[i * STRAUS_TABLE + (-d - 1) / 2];
                fe_neg(&neg.y, &neg.y);
                gej_add(out, out, &neg);
            }
        }
    }
    free(tab); free(naf); free(len);
    return 0;
}

static int pippenger(gej *out, const ge *pts, const sc *ks, const unsigned *bits, size_t count,
                     unsigned c) {
    const unsigned nbuckets = 1U << (c - 1);
    unsigned maxbits = 0, nwin, w;
    size_t i;
    int16_t *digits;
    gej *buckets;
    for (i = 0; i < count; i++)
        if (bits[i] > maxbits) maxbits = bits[i];
    nwin = windows_for(maxbits, c);
    /* window-major, so that each window's pass reads its digits in order */
    digits = malloc((size_t)nwin * count * sizeof *digits);
    buckets = malloc(nbuckets * sizeof *buckets);
    if (!digits || !buckets) {
        free(digits); free(buckets);
        return -1;
    }
    /* signed digits in (-2^(c-1), 2^(c-1)]: a window's value above half borrows from the next */
    for (i = 0; i < count; i++) {
        uint32_t carry = 0;
        for (w = 0; w < nwin; w++) {
            int32_t v = (int32_t)(u256_bits(ks[i].d, w * c, c) + carry);
            carry = v > (int32_t)nbuckets;
            if (carry) v -= (int32_t)(2 * nbuckets);
            digits[(size_t)w * count + i] = (int16_t)v;
        }
    }
    out->inf = 1;
    for (w = nwin; w-- > 0;) {
        gej running, sum;
        unsigned b, k;
        const int16_t *row = digits + (size_t)w * count;
        for (k = 0; k < c && !out->inf; k++) gej_double(out, out);
        for (b = 0; b < nbuckets; b++) buckets[b].inf = 1;
        for (i = 0; i < count; i++) {
            int d = row[i];
            if (d > 0) {
                gej_add_ge(&buckets[d - 1], &buckets[d - 1], &pts[i]);
            } else if (d < 0) {
                ge neg;
                ge_neg(&neg, &pts[i]);
                gej_add_ge(&buckets[-d - 1], &buckets[-d - 1], &neg);
            }
        }
        /* sum_b (b+1) B_b as running sums from the top bucket down */
        running.inf = 1;
        sum.inf = 1;
        for (b = nbuckets; b-- > 0;) {
            if (!buckets[b].inf) gej_add(&running, &running, &buckets[b]);
            if (!running.inf) gej_add(&sum, &sum, &running);
        }
        gej_add(out, out, &sum);
    }
    free(digits);
    free(buckets);
    return 0;
}

static int msm(gej *out, const ge *pts, const sc *ks, size_t count, int algo) {
    unsigned *bits;
    unsigned c;
    long straus_c, pip_c;
    size_t i;
    int rc;
    if (count == 0) {
        out->inf = 1;
        return 0;
    }
    bits = malloc(count * sizeof *bits);
    if (!bits) return -1;
    for (i = 0; i < count; i++) bits[i] = u256_bitlen(ks[i].d);
    c = pippenger_best_c(bits, count, &pip_c);
    straus_c = straus_cost(bits, count);
    if (algo == ALGO_STRAUS || (algo == ALGO_AUTO && straus_c <= pip_c)) {
        rc = straus(out, pts, ks, count);
    } else {
        rc = pippenger(out, pts, ks, bits, count, c);
    }
    free(bits);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * The batch: rows checked on their own first (malformed ones never reach a sum), then the
 * weighted sums of ranges of the remaining rows.
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    size_t m;            /* rows that passed their own checks ("candidates") */
    size_t *row;         /* candidate -> row of the input */
    ge *R;               /* decompressed R of each candidate */
    uint32_t *sender;    /* candidate -> distinct sender */
    sc *u1, *u2;         /* e/s and r/s */
    sc *zu1, *zu2, *z;   /* z u1, z u2 and z */
    size_t nsenders;
    ge *Q;               /* distinct valid senders' keys */
    sc *acc;             /* per sender scratch: the sum of its rows' scalars in one check */
    uint32_t *touched;   /* senders with a nonzero sum in the current check */
    uint8_t *seen;
    ge *pts;             /* scratch: the points of one check */
    sc *ks;
    int algo;
    /* what the checks cost, for tests and benchmarks */
    size_t batch_checks, batch_rows, single_checks;
} batch;

static void batch_free(batch *b) {
    free(b->row); free(b->R); free(b->sender); free(b->u1); free(b->u2); free(b->zu1);
    free(b->zu2); free(b->z); free(b->Q); free(b->acc); free(b->touched); free(b->seen);
    free(b->pts); free(b->ks);
}

/* Adds -S P to the check's points as |S| (+-P), whichever of S and n - S is at most n/2: the
 * scalars then have at most 255 bits. */
static void push_negated(batch *b, size_t *np, const ge *P, const sc *S) {
    if (u256_is_zero(S->d)) return;
    if (u256_cmp(S->d, SC_N_HALF.d) <= 0) {
        ge_neg(&b->pts[*np], P);
        b->ks[*np] = *S;
    } else {
        b->pts[*np] = *P;
        sc_neg(&b->ks[*np], S);
    }
    (*np)++;
}

/* out = sum over candidates [lo, hi) of z_i (R_i - u1_i G - u2_i Q_i), which is O when every
 * row in the range is valid. With unit set (and one row), the row's own R - u1 G - u2 Q.
 * Returns -1 when memory runs out. */
static int batch_sum(batch *b, size_t lo, size_t hi, int unit, gej *out) {
    sc g;
    size_t i, np = 0, ntouched = 0;
    memset(g.d, 0, sizeof g.d);
    for (i = lo; i < hi; i++) {
        uint32_t s = b->sender[i];
        const sc *gi = unit ? &b->u1[i] : &b->zu1[i];
        const sc *qi = unit ? &b->u2[i] : &b->zu2[i];
        b->pts[np] = b->R[i];
        if (unit) {
            memset(b->ks[np].d, 0, sizeof b->ks[np].d);
            b->ks[np].d[0] = 1;
        } else {
            b->ks[np] = b->z[i];
        }
        np++;
        sc_add(&g, &g, gi);
        if (!b->seen[s]) {
            b->seen[s] = 1;
            memset(b->acc[s].d, 0, sizeof b->acc[s].d);
            b->touched[ntouched++] = s;
        }
        sc_add(&b->acc[s], &b->acc[s], qi);
    }
    push_negated(b, &np, &GE_G, &g);
    for (i = 0; i < ntouched; i++) {
        uint32_t s = b->touched[i];
        b->seen[s] = 0;
        push_negated(b, &np, &b->Q[s], &b->acc[s]);
    }
    if (unit) {
        b->single_checks++;
    } else {
        b->batch_checks++;
        b->batch_rows += hi - lo;
    }
    return msm(out, b->pts, b->ks, np, b->algo);
}

/* One row's own equation: 1 when it holds, 0 when not, -1 when memory runs out. */
static int batch_check_one(batch *b, size_t i) {
    gej sum;
    if (batch_sum(b, i, i + 1, 1, &sum) < 0) return -1;
    return sum.inf;
}

/* 64 bytes hashed to a table slot; the salt (from the secret key) keeps crafted keys from
 * piling into one chain. */
static uint64_t key_hash(const uint8_t *pub, uint64_t salt) {
    uint64_t h = salt;
    int i;
    for (i = 0; i < 8; i++) {
        uint64_t w;
        memcpy(&w, pub + 8 * i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return h;
}

/* The rows' own checks (every reason recovery would fail or give another key that needs no
 * curve arithmetic across rows), the distinct senders, and per-candidate scalars. Writes 0
 * to ok[] for rows that fail here. z (16 bytes per row, little-endian) may be NULL for the
 * one-by-one path. Returns -1 when memory runs out. */
static int batch_prepare(batch *b, const uint8_t *hashes, const uint8_t *sigs,
                         const uint8_t *pubs, size_t n, const uint8_t *zbytes, uint64_t salt,
                         uint8_t *ok) {
    size_t i, cap = 16, mask;
    uint32_t *slot = NULL; /* hash table of senders: 0 empty, else 1 + first row's sender */
    size_t *first_row = NULL;
    int8_t *sender_ok = NULL;
    uint32_t *row_sender = NULL;
    sc *s_mont = NULL, *prefix = NULL;
    memset(b, 0, sizeof *b);
    while (cap < 2 * n) cap <<= 1;
    mask = cap - 1;
    b->row = malloc(n * sizeof *b->row);
    b->R = malloc(n * sizeof *b->R);
    b->sender = malloc(n * sizeof *b->sender);
    b->u1 = malloc(n * sizeof *b->u1);
    b->u2 = malloc(n * sizeof *b->u2);
    b->zu1 = malloc(n * sizeof *b->zu1);
    b->zu2 = malloc(n * sizeof *b->zu2);
    b->z = malloc(n * sizeof *b->z);
    b->Q = malloc(n * sizeof *b->Q);
    b->acc = malloc(n * sizeof *b->acc);
    b->touched = malloc(n * sizeof *b->touched);
    b->seen = calloc(n ? n : 1, 1);
    b->pts = malloc((2 * n + 1) * sizeof *b->pts);
    b->ks = malloc((2 * n + 1) * sizeof *b->ks);
    slot = calloc(cap, sizeof *slot);
    first_row = malloc(n * sizeof *first_row);
    sender_ok = malloc(n ? n : 1);
    row_sender = malloc(n * sizeof *row_sender);
    s_mont = malloc(n * sizeof *s_mont);
    prefix = malloc(n * sizeof *prefix);
    if (n && (!b->row || !b->R || !b->sender || !b->u1 || !b->u2 || !b->zu1 || !b->zu2 ||
              !b->z || !b->Q || !b->acc || !b->touched || !b->seen || !b->pts || !b->ks ||
              !slot || !first_row || !sender_ok || !row_sender || !s_mont || !prefix)) {
        goto oom;
    }
    /* distinct senders, by their 64 bytes; a key off the curve or with a coordinate >= p is
     * never what recovery returns, so its rows fail */
    {
        size_t nkeys = 0;
        for (i = 0; i < n; i++) {
            const uint8_t *pub = pubs + 64 * i;
            size_t h = (size_t)key_hash(pub, salt) & mask;
            for (;;) {
                if (slot[h] == 0) {
                    ge q;
                    slot[h] = (uint32_t)(nkeys + 1);
                    first_row[nkeys] = i;
                    sender_ok[nkeys] = (int8_t)(fe_from_b32(&q.x, pub) &&
                                                fe_from_b32(&q.y, pub + 32) && ge_on_curve(&q));
                    row_sender[i] = (uint32_t)nkeys++;
                    break;
                }
                if (memcmp(pubs + 64 * first_row[slot[h] - 1], pub, 64) == 0) {
                    row_sender[i] = slot[h] - 1;
                    break;
                }
                h = (h + 1) & mask;
            }
        }
        /* renumber the valid senders densely; reuse first_row for old -> new */
        for (i = 0; i < nkeys; i++) {
            if (sender_ok[i]) {
                const uint8_t *pub = pubs + 64 * first_row[i];
                fe_from_b32(&b->Q[b->nsenders].x, pub);
                fe_from_b32(&b->Q[b->nsenders].y, pub + 32);
                first_row[i] = b->nsenders++;
            }
        }
    }
    /* each row on its own: v in 0..3, r and s in [1, n-1], x = r (+ n) a field element
     * whose x^3 + 7 is a square, and a valid sender */
    for (i = 0; i < n; i++) {
        const uint8_t *sig = sigs + 65 * i;
        uint8_t v = sig[64];
        sc r, s, e;
        fe x;
        size_t k = b->m;
        ok[i] = 0;
        if (v > 3 || !sender_ok[row_sender[i]]) continue;
        u256_from_b32(r.d, sig);
        u256_from_b32(s.d, sig + 32);
        if (u256_is_zero(r.d) || u256_cmp(r.d, SC_N.d) >= 0) continue;
        if (u256_is_zero(s.d) || u256_cmp(s.d, SC_N.d) >= 0) continue;
        memcpy(x.d, r.d, sizeof x.d);
        if (v & 2) {
            if (u256_cmp(r.d, P_MINUS_N) >= 0) continue;
            u256_add(x.d, r.d, SC_N.d);
        }
        if (!ge_from_x(&b->R[k], &x, v & 1)) continue;
        /* e: the hash as a number, reduced mod n as recovery does (2^256 < 2n) */
        u256_from_b32(e.d, hashes + 32 * i);
        if (u256_cmp(e.d, SC_N.d) >= 0) u256_sub(e.d, e.d, SC_N.d);
        b->row[k] = i;
        b->sender[k] = (uint32_t)first_row[row_sender[i]];
        b->u1[k] = e; /* e and r for now; times s^-1 below */
        b->u2[k] = r;
        sc_mont(&s_mont[k], &s, &SC_R2); /* sR */
        if (zbytes) {
            const uint8_t *zb = zbytes + 16 * i;
            int j;
            memset(b->z[k].d, 0, sizeof b->z[k].d);
            for (j = 0; j < 8; j++) {
                b->z[k].d[0] |= (uint64_t)zb[j] << (8 * j);
                b->z[k].d[1] |= (uint64_t)zb[8 + j] << (8 * j);
            }
            /* z = 0 would drop its row from every sum; a forced 1 keeps each row in */
            if (u256_is_zero(b->z[k].d)) b->z[k].d[0] = 1;
        }
        b->m++;
    }
    /* s^-1 for every candidate with one inversion (Montgomery's trick), in Montgomery form */
    if (b->m) {
        sc inv;
        size_t k;
        prefix[0] = s_mont[0];
        for (k = 1; k < b->m; k++) sc_mont(&prefix[k], &prefix[k - 1], &s_mont[k]);
        sc_inv_mont(&inv, &prefix[b->m - 1]); /* (prod s)^-1 R */
        for (k = b->m; k-- > 0;) {
            sc w; /* s_k^-1 R */
            if (k > 0) {
                sc_mont(&w, &inv, &prefix[k - 1]);
                sc_mont(&inv, &inv, &s_mont[k]);
            } else {
                w = inv;
            }
            /* (e)(s^-1 R) R^-1 = e/s in plain form */
            sc_mont(&b->u1[k], &b->u1[k], &w);
            sc_mont(&b->u2[k], &b->u2[k], &w);
            if (zbytes) {
                sc_mul(&b->zu1[k], &b->u1[k], &b->z[k]);
                sc_mul(&b->zu2[k], &b->u2[k], &b->z[k]);
            }
        }
    }
    free(slot); free(first_row); free(sender_ok); free(row_sender); free(s_mont); free(prefix);
    return 0;
oom:
    free(slot); free(first_row); free(sender_ok); free(row_sender); free(s_mont); free(prefix);
    batch_free(b);
    return -1;
}

/* z_i: SHA-256 of (tag, the secret key, n, every input byte) keys an expansion
 * z_{2k} || z_{2k+1} = SHA-256(D || k): unpredictable to whoever crafted the batch as long as
 * the key stays in this process. */
static void derive_z(uint8_t *zbytes, const uint8_t key[32], const uint8_t *hashes,
                     const uint8_t *sigs, const uint8_t *pubs, size_t n) {
    static const uint8_t tag[16] = "fiscosim-zbatch1";
    uint8_t digest[32], block[40], out[32], len8[8];
    sha256_ctx ctx;
    size_t k;
    int j;
    for (j = 0; j < 8; j++) len8[j] = (uint8_t)((uint64_t)n >> (8 * j));
    sha256_init(&ctx);
    sha256_update(&ctx, tag, sizeof tag);
    sha256_update(&ctx, key, 32);
    sha256_update(&ctx, len8, 8);
    sha256_update(&ctx, hashes, 32 * n);
    sha256_update(&ctx, sigs, 65 * n);
    sha256_update(&ctx, pubs, 64 * n);
    sha256_final(&ctx, digest);
    memcpy(block, digest, 32);
    for (k = 0; 2 * k < n; k++) {
        for (j = 0; j < 8; j++) block[32 + j] = (uint8_t)((uint64_t)k >> (8 * j));
        sha256_init(&ctx);
        sha256_update(&ctx, block, 40);
        sha256_final(&ctx, out);
        memcpy(zbytes + 32 * k, out, 2 * k + 1 < n ? 32 : 16);
    }
}

typedef struct {
    size_t lo, hi;
    gej sum; /* the range's weighted sum, known not to be O */
} range;

#define VERDICT_UNDECIDED 2

/* Rows [lo, hi) one by one: by this module's own equation when each is set, else marked
 * VERDICT_UNDECIDED for the caller (which checks them by recovery). */
static int resolve_each(batch *b, uint8_t *ok, size_t lo, size_t hi, int each) {
    size_t i;
    for (i = lo; i < hi; i++) {
        if (each) {
            int rc = batch_check_one(b, i);
            if (rc < 0) return -1;
            ok[b->row[i]] = (uint8_t)rc;
        } else {
            ok[b->row[i]] = VERDICT_UNDECIDED;
        }
    }
    return 0;
}

/* Verdicts for every candidate. The whole batch's sum first; when it is not O, bisection:
 * a failing range's left half is summed, and its right half's sum is the range's sum minus
 * the left's (the z_i are the same in every sum, so sums of disjoint ranges add up): one
 * multi-scalar multiplication per level. Bisection goes on while at most max_bad bad rows
 * are known (rows proved bad plus ranges known to hold one); past that, and for failing
 * ranges of fewer than min_range rows, the rows are checked one by one, which is cheaper
 * there. max_bad < 0: no batch at all, every candidate one by one. */
static int batch_verify(batch *b, uint8_t *ok, long max_bad, size_t min_range, int each) {
    range *stack = NULL;
    size_t top = 0, i;
    long bad = 0;
    gej whole;
    if (b->m == 0) return 0;
    if (max_bad < 0) return resolve_each(b, ok, 0, b->m, each);
    if (batch_sum(b, 0, b->m, 0, &whole) < 0) return -1;
    if (whole.inf) {
        for (i = 0; i < b->m; i++) ok[b->row[i]] = 1;
        return 0;
    }
    /* a range is pushed only when its sum is not O: at most one per row */
    stack = malloc(b->m * sizeof *stack);
    if (!stack) return -1;
    stack[top].lo = 0;
    stack[top].hi = b->m;
    stack[top++].sum = whole;
    while (top) {
        range r, left, right;
        if ((long)top + bad > max_bad) {
            while (top) {
                r = stack[--top];
                if (resolve_each(b, ok, r.lo, r.hi, each) < 0) goto oom;
            }
            break;
        }
        r = stack[--top];
        if (r.hi - r.lo == 1) {
            bad++; /* a failing range of one row is that row (its ok[] is already 0) */
            continue;
        }
        if (r.hi - r.lo < min_range) {
            if (resolve_each(b, ok, r.lo, r.hi, each) < 0) goto oom;
            continue;
        }
        left.lo = r.lo;
        left.hi = right.lo = r.lo + (r.hi - r.lo) / 2;
        right.hi = r.hi;
        if (batch_sum(b, left.lo, left.hi, 0, &left.sum) < 0) goto oom;
        if (left.sum.inf) {
            right.sum = r.sum;
        } else {
            gej neg = left.sum;
            fe_neg(&neg.y, &neg.y);
            gej_add(&right.sum, &r.sum, &neg);
        }
        if (right.sum.inf) {
            for (i = right.lo; i < right.hi; i++) ok[b->row[i]] = 1;
        } else {
            stack[top++] = right;
        }
        if (left.sum.inf) {
            for (i = left.lo; i < left.hi; i++) ok[b->row[i]] = 1;
        } else {
            stack[top++] = left;
        }
    }
    free(stack);
    return 0;
oom:
    free(stack);
    return -1;
}

/* ------------------------------------------------------------------------------------------
 * Python bindings
 * ---------------------------------------------------------------------------------------- */

static int get_rows(Py_buffer *view, const char *name, Py_ssize_t width, Py_ssize_t *rows) {
    if (view->len % width != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of %zd-byte rows",
                     name, view->len, width);
        return -1;
    }
    if (*rows >= 0 && view->len / width != *rows) {
        PyErr_Format(PyExc_ValueError, "%s: %zd rows, expected %zd", name, view->len / width,
                     *rows);
        return -1;
    }
    *rows = view->len / width;
    return 0;
}

/* the three row buffers agree on n */
static int check_inputs(Py_buffer *h, Py_buffer *s, Py_buffer *p, Py_ssize_t *n) {
    *n = -1;
    if (get_rows(h, "hashes", 32, n) < 0 || get_rows(s, "signatures", 65, n) < 0 ||
        get_rows(p, "pubkeys", 64, n) < 0)
        return -1;
    if (*n > 0x7FFFFFFF) {
        PyErr_SetString(PyExc_ValueError, "at most 2^31 - 1 rows in one batch");
        return -1;
    }
    return 0;
}

static int check_key_algo(Py_buffer *key, int algo) {
    if (key && key->len != 32) {
        PyErr_SetString(PyExc_ValueError, "key must be 32 bytes");
        return -1;
    }
    if (algo < ALGO_AUTO || algo > ALGO_PIPPENGER) {
        PyErr_SetString(PyExc_ValueError, "algo must be 0 (auto), 1 (Straus) or 2 (Pippenger)");
        return -1;
    }
    return 0;
}

static void release(Py_buffer *h, Py_buffer *s, Py_buffer *p, Py_buffer *key) {
    if (h->obj) PyBuffer_Release(h);
    if (s->obj) PyBuffer_Release(s);
    if (p->obj) PyBuffer_Release(p);
    if (key->obj) PyBuffer_Release(key);
}

static PyObject *py_verify(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"hashes",    "signatures", "pubkeys", "key", "max_bad",
                             "min_range", "each",       "algo",    NULL};
    Py_buffer h, s, p, key;
    long max_bad = 2;
    Py_ssize_t min_range = 2;
    int algo = ALGO_AUTO, each = 0, rc = 0, prepared = 0;
    Py_ssize_t n;
    PyObject *verdicts, *result = NULL;
    uint8_t *ok = NULL, *zbytes = NULL;
    batch b;
    uint64_t salt;
    (void)self;
    h.obj = s.obj = p.obj = key.obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*y*y*|lnpi:verify", kwlist, &h, &s, &p,
                                     &key, &max_bad, &min_range, &each, &algo) ||
        check_inputs(&h, &s, &p, &n) < 0 || check_key_algo(&key, algo) < 0) {
        release(&h, &s, &p, &key);
        return NULL;
    }
    ok = malloc(n ? (size_t)n : 1);
    zbytes = malloc(n ? 16 * (size_t)n : 1);
    if (!ok || !zbytes) {
        free(ok); free(zbytes);
        release(&h, &s, &p, &key);
        return PyErr_NoMemory();
    }
    memcpy(&salt, key.buf, 8);
    Py_BEGIN_ALLOW_THREADS
    derive_z(zbytes, key.buf, h.buf, s.buf, p.buf, (size_t)n);
    rc = batch_prepare(&b, h.buf, s.buf, p.buf, (size_t)n, zbytes, salt, ok);
    if (rc == 0) {
        prepared = 1;
        b.algo = algo;
        rc = batch_verify(&b, ok, max_bad, min_range > 0 ? (size_t)min_range : 0, each);
    }
    Py_END_ALLOW_THREADS
    release(&h, &s, &p, &key);
    free(zbytes);
    if (rc < 0) {
        if (prepared) batch_free(&b);
        free(ok);
        return PyErr_NoMemory();
    }
    verdicts = PyBytes_FromStringAndSize((const char *)ok, n);
    if (verdicts)
        result = Py_BuildValue("(Nnnn)", verdicts, (Py_ssize_t)b.batch_checks,
                               (Py_ssize_t)b.batch_rows, (Py_ssize_t)b.single_checks);
    batch_free(&b);
    free(ok);
    return result;
}

static PyObject *py_verify_each(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"hashes", "signatures", "pubkeys", "algo", NULL};
    Py_buffer h, s, p, none;
    int algo = ALGO_AUTO, rc = 0;
    Py_ssize_t n;
    PyObject *result;
    uint8_t *ok;
    batch b;
    size_t i;
    (void)self;
    h.obj = s.obj = p.obj = none.obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*y*|i:verify_each", kwlist, &h, &s, &p,
                                     &algo) ||
        check_inputs(&h, &s, &p, &n) < 0 || check_key_algo(NULL, algo) < 0) {
        release(&h, &s, &p, &none);
        return NULL;
    }
    ok = malloc(n ? (size_t)n : 1);
    if (!ok) {
        release(&h, &s, &p, &none);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    rc = batch_prepare(&b, h.buf, s.buf, p.buf, (size_t)n, NULL, 0x5EC9BA7C4ULL, ok);
    if (rc == 0) {
        b.algo = algo;
        for (i = 0; i < b.m && rc >= 0; i++) {
            rc = batch_check_one(&b, i);
            if (rc >= 0) ok[b.row[i]] = (uint8_t)rc;
        }
        batch_free(&b);
    }
    Py_END_ALLOW_THREADS
    release(&h, &s, &p, &none);
    if (rc < 0) {
        free(ok);
        return PyErr_NoMemory();
    }
    result = PyBytes_FromStringAndSize((const char *)ok, n);
    free(ok);
    return result;
}

/* --- test hooks: the arithmetic on 32-byte big-endian numbers, checked against Python ints */

static int bytes32(PyObject *obj, uint64_t d[4]) {
    char *buf;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(obj, &buf, &len) < 0) return -1;
    if (len != 32) {
        PyErr_SetString(PyExc_ValueError, "expected 32 bytes");
        return -1;
    }
    u256_from_b32(d, (const uint8_t *)buf);
    return 0;
}

static PyObject *out32(const uint64_t d[4]) {
    uint8_t b[32];
    u256_to_b32(b, d);
    return PyBytes_FromStringAndSize((const char *)b, 32);
}

/* _field(op, a, b): a and b any 256-bit values (not reduced); the result canonical */
static PyObject *py_field(PyObject *self, PyObject *args) {
    const char *op;
    PyObject *ao, *bo;
    fe a, b, r;
    (void)self;
    if (!PyArg_ParseTuple(args, "sSS:_field", &op, &ao, &bo)) return NULL;
    if (bytes32(ao, a.d) < 0 || bytes32(bo, b.d) < 0) return NULL;
    if (!strcmp(op, "add")) fe_add(&r, &a, &b);
    else if (!strcmp(op, "sub")) fe_sub(&r, &a, &b);
    else if (!strcmp(op, "mul")) fe_mul(&r, &a, &b);
    else if (!strcmp(op, "sqr")) fe_sqr(&r, &a);
    else if (!strcmp(op, "neg")) fe_neg(&r, &a);
    else if (!strcmp(op, "inv")) fe_inv(&r, &a);
    else if (!strcmp(op, "normalize")) r = a;
    else if (!strcmp(op, "sqrt")) {
        if (!fe_sqrt(&r, &a)) Py_RETURN_NONE;
    } else {
        PyErr_Format(PyExc_ValueError, "unknown field op %s", op);
        return NULL;
    }
    fe_normalize(&r);
    return out32(r.d);
}

/* _scalar(op, a, b): a and b below n */
static PyObject *py_scalar(PyObject *self, PyObject *args) {
    const char *op;
    PyObject *ao, *bo;
    sc a, b, r;
    (void)self;
    if (!PyArg_ParseTuple(args, "sSS:_scalar", &op, &ao, &bo)) return NULL;
    if (bytes32(ao, a.d) < 0 || bytes32(bo, b.d) < 0) return NULL;
    if (u256_cmp(a.d, SC_N.d) >= 0 || u256_cmp(b.d, SC_N.d) >= 0) {
        PyErr_SetString(PyExc_ValueError, "scalars must be below n");
        return NULL;
    }
    if (!strcmp(op, "add")) sc_add(&r, &a, &b);
    else if (!strcmp(op, "neg")) sc_neg(&r, &a);
    else if (!strcmp(op, "mul")) sc_mul(&r, &a, &b);
    else if (!strcmp(op, "inv")) {
        sc t;
        sc_mont(&t, &a, &SC_R2);
        sc_inv_mont(&t, &t);
        memset(r.d, 0, sizeof r.d);
        r.d[0] = 1;
        sc_mont(&r, &t, &r);
    } else {
        PyErr_Format(PyExc_ValueError, "unknown scalar op %s", op);
        return NULL;
    }
    return out32(r.d);
}

/* A 64-byte x||y on the curve, or None for infinity (allowed only where noted). */
static int point_arg(PyObject *obj, ge *r, int *inf) {
    char *buf;
    Py_ssize_t len;
    *inf = 0;
    if (obj == Py_None) {
        *inf = 1;
        return 0;
    }
    if (PyBytes_AsStringAndSize(obj, &buf, &len) < 0) return -1;
    if (len != 64 || !fe_from_b32(&r->x, (const uint8_t *)buf) ||
        !fe_from_b32(&r->y, (const uint8_t *)buf + 32) || !ge_on_curve(r)) {
        PyErr_SetString(PyExc_ValueError, "not a point on the curve (64 bytes x||y)");
        return -1;
    }
    return 0;
}

static PyObject *point_out(const gej *a) {
    ge r;
    uint8_t b[64];
    if (!gej_to_ge(&r, a)) Py_RETURN_NONE;
    fe_to_b32(b, &r.x);
    fe_to_b32(b + 32, &r.y);
    return PyBytes_FromStringAndSize((const char *)b, 64);
}

/* P scaled to Jacobian coordinates with Z = z (z nonzero), to exercise Z != 1 */
static void gej_scaled(gej *r, const ge *a, const fe *z) {
    fe z2, z3;
    fe_sqr(&z2, z);
    fe_mul(&z3, &z2, z);
    fe_mul(&r->x, &a->x, &z2);
    fe_mul(&r->y, &a->y, &z3);
    r->z = *z;
    r->inf = 0;
}

/* _group(op, P, Q, zp, zq): "add" (Jacobian + Jacobian), "madd" (Jacobian + affine Q),
 * "double" (P); P given the Jacobian Z zp, Q the Z zq. P may be None (infinity) for
 * add and madd, Q for add. */
static PyObject *py_group(PyObject *self, PyObject *args) {
    const char *op;
    PyObject *po, *qo, *zpo, *zqo;
    ge P, Q;
    int pinf, qinf;
    fe zp, zq;
    gej a, b, r;
    (void)self;
    if (!PyArg_ParseTuple(args, "sOOSS:_group", &op, &po, &qo, &zpo, &zqo)) return NULL;
    if (point_arg(po, &P, &pinf) < 0 || point_arg(qo, &Q, &qinf) < 0) return NULL;
    if (bytes32(zpo, zp.d) < 0 || bytes32(zqo, zq.d) < 0) return NULL;
    if (fe_is_zero(&zp) || fe_is_zero(&zq)) {
        PyErr_SetString(PyExc_ValueError, "Z must not be 0");
        return NULL;
    }
    a.inf = 1;
    b.inf = 1;
    if (!pinf) gej_scaled(&a, &P, &zp);
    if (!qinf) gej_scaled(&b, &Q, &zq);
    if (!strcmp(op, "add")) gej_add(&r, &a, &b);
    else if (!strcmp(op, "madd")) {
        if (qinf) {
            PyErr_SetString(PyExc_ValueError, "madd: Q is affine, never infinity");
            return NULL;
        }
        gej_add_ge(&r, &a, &Q);
    } else if (!strcmp(op, "double")) gej_double(&r, &a);
    else {
        PyErr_Format(PyExc_ValueError, "unknown group op %s", op);
        return NULL;
    }
    return point_out(&r);
}

/* _msm(points k*64 bytes, scalars k*32 bytes, algo): sum k_i P_i as verify computes it
 * (scalars above n/2 as n - k on -P). None for infinity. */
static PyObject *py_msm(PyObject *self, PyObject *args) {
    Py_buffer pb, kb;
    int algo = ALGO_AUTO, rc;
    Py_ssize_t count, i;
    ge *pts = NULL;
    sc *ks = NULL;
    gej out;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*|i:_msm", &pb, &kb, &algo)) return NULL;
    if (pb.len % 64 || kb.len % 32 || pb.len / 64 != kb.len / 32 || algo < 0 || algo > 2) {
        PyBuffer_Release(&pb);
        PyBuffer_Release(&kb);
        PyErr_SetString(PyExc_ValueError, "k points of 64 bytes and k scalars of 32, algo 0..2");
        return NULL;
    }
    count = pb.len / 64;
    pts = malloc((count ? (size_t)count : 1) * sizeof *pts);
    ks = malloc((count ? (size_t)count : 1) * sizeof *ks);
    if (!pts || !ks) {
        free(pts); free(ks);
        PyBuffer_Release(&pb);
        PyBuffer_Release(&kb);
        return PyErr_NoMemory();
    }
    for (i = 0; i < count; i++) {
        const uint8_t *p = (const uint8_t *)pb.buf + 64 * i;
        ge P;
        if (!fe_from_b32(&P.x, p) || !fe_from_b32(&P.y, p + 32) || !ge_on_curve(&P)) {
            PyErr_SetString(PyExc_ValueError, "a point is not on the curve");
            break;
        }
        u256_from_b32(ks[i].d, (const uint8_t *)kb.buf + 32 * i);
        if (u256_cmp(ks[i].d, SC_N.d) >= 0) {
            PyErr_SetString(PyExc_ValueError, "scalars must be below n");
            break;
        }
        if (u256_cmp(ks[i].d, SC_N_HALF.d) > 0) {
            sc_neg(&ks[i], &ks[i]);
            ge_neg(&pts[i], &P);
        } else {
            pts[i] = P;
        }
    }
    PyBuffer_Release(&pb);
    PyBuffer_Release(&kb);
    if (PyErr_Occurred()) {
        free(pts); free(ks);
        return NULL;
    }
    rc = msm(&out, pts, ks, (size_t)count, algo);
    free(pts);
    free(ks);
    if (rc < 0) return PyErr_NoMemory();
    return point_out(&out);
}

/* _decompress(x, v): the R that recovery id v (0..3) names for x = r, or None */
static PyObject *py_decompress(PyObject *self, PyObject *args) {
    PyObject *xo;
    int v;
    uint64_t r[4];
    fe x;
    ge R;
    uint8_t b[64];
    (void)self;
    if (!PyArg_ParseTuple(args, "Si:_decompress", &xo, &v)) return NULL;
    if (bytes32(xo, r) < 0) return NULL;
    memcpy(x.d, r, sizeof x.d);
    if (v & 2) {
        if (u256_cmp(r, P_MINUS_N) >= 0) Py_RETURN_NONE;
        u256_add(x.d, r, SC_N.d);
    } else if (u256_cmp(r, FE_P.d) >= 0) {
        Py_RETURN_NONE;
    }
    if (!ge_from_x(&R, &x, v & 1)) Py_RETURN_NONE;
    fe_to_b32(b, &R.x);
    fe_to_b32(b + 32, &R.y);
    return PyBytes_FromStringAndSize((const char *)b, 64);
}

static PyObject *py_sha256(PyObject *self, PyObject *args) {
    Py_buffer data;
    sha256_ctx ctx;
    uint8_t out[32];
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:_sha256", &data)) return NULL;
    sha256_init(&ctx);
    sha256_update(&ctx, data.buf, (size_t)data.len);
    sha256_final(&ctx, out);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

/* _z(hashes, signatures, pubkeys, key): the 16-byte little-endian z_i that verify uses */
static PyObject *py_z(PyObject *self, PyObject *args) {
    Py_buffer h, s, p, key;
    Py_ssize_t n;
    PyObject *out;
    uint8_t *z;
    (void)self;
    h.obj = s.obj = p.obj = key.obj = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*y*:_z", &h, &s, &p, &key) ||
        check_inputs(&h, &s, &p, &n) < 0 || check_key_algo(&key, 0) < 0) {
        release(&h, &s, &p, &key);
        return NULL;
    }
    z = malloc(n ? 16 * (size_t)n : 1);
    if (!z) {
        release(&h, &s, &p, &key);
        return PyErr_NoMemory();
    }
    derive_z(z, key.buf, h.buf, s.buf, p.buf, (size_t)n);
    release(&h, &s, &p, &key);
    out = PyBytes_FromStringAndSize((const char *)z, 16 * n);
    free(z);
    return out;
}

/* selftest(): facts that a miscompiled or mis-edited module would break; raises if one does */
static PyObject *py_selftest(PyObject *self, PyObject *args) {
    static const uint8_t abc_sha[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22,
        0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
        0x15, 0xad};
    /* 2G's x, a textbook value */
    static const uint8_t two_g_x[32] = {
        0xc6, 0x04, 0x7f, 0x94, 0x41, 0xed, 0x7d, 0x6d, 0x30, 0x45, 0x40, 0x6e, 0x95, 0xc0, 0x7c,
        0xd8, 0x5c, 0x77, 0x8e, 0x4b, 0x8c, 0xef, 0x3c, 0xa7, 0xab, 0xac, 0x09, 0xb9, 0x5c, 0x70,
        0x9e, 0xe5};
    sha256_ctx ctx;
    uint8_t out[32];
    gej g, t;
    ge a, pts[3];
    sc k[3], one, inv;
    fe x, y, d;
    const char *failed = NULL;
    (void)self;
    (void)args;
    sha256_init(&ctx);
    sha256_update(&ctx, (const uint8_t *)"abc", 3);
    sha256_final(&ctx, out);
    if (memcmp(out, abc_sha, 32)) failed = "SHA-256('abc')";
    if (!failed && !ge_on_curve(&GE_G)) failed = "G on the curve";
    gej_set_ge(&g, &GE_G);
    gej_double(&t, &g);
    if (!gej_to_ge(&a, &t)) {
        if (!failed) failed = "2G is not infinity";
    } else {
        fe_to_b32(out, &a.x);
        if (!failed && memcmp(out, two_g_x, 32)) failed = "2G";
    }
    /* (n-1)/2 G + (n-1)/2 G + G = n G = O, by both algorithms */
    memset(one.d, 0, sizeof one.d);
    one.d[0] = 1;
    k[0] = k[1] = SC_N_HALF;
    k[2] = one;
    pts[0] = pts[1] = pts[2] = GE_G;
    if (!failed && (msm(&t, pts, k, 3, ALGO_STRAUS) < 0 || !t.inf)) failed = "n G (Straus)";
    if (!failed && (msm(&t, pts, k, 3, ALGO_PIPPENGER) < 0 || !t.inf)) failed = "n G (Pippenger)";
    /* sqrt(G.y^2) is G.y or -G.y */
    fe_sqr(&x, &GE_G.y);
    if (!failed && !fe_sqrt(&y, &x)) failed = "sqrt of a square";
    fe_sub(&d, &y, &GE_G.y);
    fe_add(&y, &y, &GE_G.y);
    if (!failed && !fe_is_zero(&d) && !fe_is_zero(&y)) failed = "sqrt";
    fe_inv(&x, &GE_G.x);
    fe_mul(&x, &x, &GE_G.x);
    fe_normalize(&x);
    if (!failed && !(x.d[0] == 1 && !x.d[1] && !x.d[2] && !x.d[3])) failed = "field inverse";
    sc_mont(&inv, &SC_N_HALF, &SC_R2);
    sc_inv_mont(&inv, &inv);
    sc_mont(&inv, &inv, &one); /* ((n-1)/2)^-1 = -2 mod n */
    sc_add(&inv, &inv, &one);
    sc_add(&inv, &inv, &one);
    if (!failed && !u256_is_zero(inv.d)) failed = "scalar inverse";
    if (failed) {
        PyErr_Format(PyExc_RuntimeError, "_secp_batch self-test failed: %s", failed);
        return NULL;
    }
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"verify", (PyCFunction)(void (*)(void))py_verify, METH_VARARGS | METH_KEYWORDS,
     "verify(hashes, signatures, pubkeys, key, max_bad=2, min_range=2, each=False, algo=0)\n"
     "-> (verdicts, batch_checks, batch_rows, single_checks)\n\n"
     "n*32 hashes, n*65 r||s||v signatures, n*64 x||y keys and a 32-byte secret key for the "
     "z_i. verdicts: n bytes, 1 where the signature recovers exactly that key, 0 where not, "
     "2 where it was left to the caller to check by itself (only without each). A failing "
     "batch is bisected while at most max_bad bad rows are known and ranges have at least "
     "min_range rows, then checked row by row (max_bad < 0: no batch). The GIL is released."},
    {"verify_each", (PyCFunction)(void (*)(void))py_verify_each, METH_VARARGS | METH_KEYWORDS,
     "verify_each(hashes, signatures, pubkeys) -> verdicts: every row on its own, no batch."},
    {"selftest", py_selftest, METH_NOARGS, "selftest() -> True, or RuntimeError naming a fact."},
    {"_field", py_field, METH_VARARGS, "test hook: field op on 32-byte big-endian values"},
    {"_scalar", py_scalar, METH_VARARGS, "test hook: scalar op mod n"},
    {"_group", py_group, METH_VARARGS, "test hook: Jacobian add / mixed add / double"},
    {"_msm", py_msm, METH_VARARGS, "test hook: multi-scalar multiplication"},
    {"_decompress", py_decompress, METH_VARARGS, "test hook: R from r and the recovery id"},
    {"_sha256", py_sha256, METH_VARARGS, "test hook: SHA-256"},
    {"_z", py_z, METH_VARARGS, "test hook: the z_i of a batch"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_secp_batch",
                                    "Batch verification of recoverable secp256k1 signatures "
                                    "(fiscosim's own C; see fiscosim/crypto/secp_batch.py).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__secp_batch(void) { return PyModule_Create(&module); }
