/*
 * _sm2_tables.c: SM2 signature verification (GB/T 32918.2, curve sm2p256v1 of GB/T 32918.5)
 * with per-key precomputed tables (issue 21, part 1). This project's own code: nothing here
 * is copied from Tongsuo, GmSSL, IPP Crypto or any other library; the formulas are the
 * textbook ones (Montgomery's CIOS multiplication, Jacobian doubling for a = -3, mixed
 * Jacobian + affine addition, Montgomery's batch-inversion trick, Fermat inversion).
 *
 * Verification of (r, s) over e = SM3(Z_A || M) against a key P: r, s in [1, n-1],
 * t = (r + s) mod n != 0, (x1, y1) = [s]G + [t]P, accept iff (e + x1) mod n == r.
 *
 * Fixed-base tables: for a point P, table[j][k-1] = k * 16^j * P for j in 0..63 and k in
 * 1..15, affine, coordinates in Montgomery form mod p (61,440 bytes). [a]P for a < 2^256 is
 * then the sum over j of table[j][digit_j(a) - 1] (skipping zero digits): at most 64 mixed
 * additions and no doubling. G's table, built once when the module loads, has 8-bit windows
 * (32 x 255 points, 510 KiB), so [s]G + [t]P is at most 32 + 64 mixed additions into one
 * Jacobian accumulator. A key's table is built in affine coordinates, all 64 rows together
 * in four rounds with one batch inversion each (table_build); table_build_w, point by point
 * in Jacobian coordinates, builds G's and is the tests' reference.
 * The final comparison needs no inversion: x1 = X / Z^2 lies in [0, p), and
 * (e + x1) mod n == r iff x1 == c or x1 == c + n (the latter only when c + n < p), with
 * c = (r - e) mod n; each candidate is tested as X == c * Z^2.
 *
 * Representation: numbers are four 64-bit limbs, little-endian, always fully reduced (below
 * the modulus). The Montgomery arithmetic is generic over a modulus struct (p and n are the
 * two instances: mont_mul); the field's own multiplication and squaring (fp_mul, fp_sqr)
 * use p's shape to reduce with additions only, and the tests check them against both
 * mont_mul and Python integers.
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

__extension__ typedef unsigned __int128 u128;

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* ------------------------------------------------------------------------------------------
 * 256-bit numbers and Montgomery arithmetic over a modulus m < 2^256 (odd, m > 2^255)
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t m[4];  /* the modulus */
    uint64_t minv;  /* -m^-1 mod 2^64 */
    uint64_t r1[4]; /* R mod m, R = 2^256: 1 in Montgomery form */
    uint64_t r2[4]; /* R^2 mod m: to convert into Montgomery form */
} modulus;

/* The constants were computed with Python integers; selftest() derives them again. */
static const modulus MOD_P = {
    {0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFF00000000ULL, 0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL},
    0x0000000000000001ULL,
    {0x0000000000000001ULL, 0x00000000FFFFFFFFULL, 0x0000000000000000ULL, 0x0000000100000000ULL},
    {0x0000000200000003ULL, 0x00000002FFFFFFFFULL, 0x0000000100000001ULL, 0x0000000400000002ULL}};

static const modulus MOD_N = {
    {0x53BBF40939D54123ULL, 0x7203DF6B21C6052BULL, 0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL},
    0x327F9E8872350975ULL,
    {0xAC440BF6C62ABEDDULL, 0x8DFC2094DE39FAD4ULL, 0x0000000000000000ULL, 0x0000000100000000ULL},
    {0x901192AF7C114F20ULL, 0x3464504ADE6FA2FAULL, 0x620FC84C3AFFE0D4ULL, 0x1EB5E412A22B3D3BULL}};

/* curve: y^2 = x^3 - 3x + b */
static const uint64_t CURVE_B[4] = {0xDDBCBD414D940E93ULL, 0xF39789F515AB8F92ULL,
                                    0x4D5A9E4BCF6509A7ULL, 0x28E9FA9E9D9F5E34ULL};
static const uint64_t CURVE_GX[4] = {0x715A4589334C74C7ULL, 0x8FE30BBFF2660BE1ULL,
                                     0x5F9904466A39C994ULL, 0x32C4AE2C1F198119ULL};
static const uint64_t CURVE_GY[4] = {0x02DF32E52139F0A0ULL, 0xD0A9877CC62A4740ULL,
                                     0x59BDCEE36B692153ULL, 0xBC3736A2F4F6779CULL};

/* load_be64, store_be64, u256_from_b32, u256_to_b32, u256_cmp, u256_is_zero: _u256.h */

INLINE int u256_eq(const uint64_t a[4], const uint64_t b[4]) {
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

INLINE uint64_t addc(uint64_t a, uint64_t b, uint64_t *carry) {
    uint64_t s = a + b, c = s < a;
    uint64_t s2 = s + *carry;
    *carry = c | (s2 < s);
    return s2;
}

INLINE uint64_t subb(uint64_t a, uint64_t b, uint64_t *borrow) {
    uint64_t d = a - b, c = a < b;
    uint64_t d2 = d - *borrow;
    *borrow = c | (d < *borrow);
    return d2;
}

/* r = a + b, returns the carry out */
INLINE uint64_t u256_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t c = 0;
    r[0] = addc(a[0], b[0], &c);
    r[1] = addc(a[1], b[1], &c);
    r[2] = addc(a[2], b[2], &c);
    r[3] = addc(a[3], b[3], &c);
    return c;
}

/* r = a - b, returns the borrow out (1 when a < b) */
INLINE uint64_t u256_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t c = 0;
    r[0] = subb(a[0], b[0], &c);
    r[1] = subb(a[1], b[1], &c);
    r[2] = subb(a[2], b[2], &c);
    r[3] = subb(a[3], b[3], &c);
    return c;
}

/* r = mask ? a : b, mask all ones or zero (no branch: the choice is data-dependent) */
INLINE void u256_select(uint64_t r[4], uint64_t mask, const uint64_t a[4], const uint64_t b[4]) {
    int i;
    for (i = 0; i < 4; i++) r[i] = (a[i] & mask) | (b[i] & ~mask);
}

/* a, b < m: r = (a + b) mod m */
INLINE void mod_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], const modulus *M) {
    uint64_t t[4], u[4];
    uint64_t carry = u256_add(t, a, b);
    uint64_t borrow = u256_sub(u, t, M->m);
    /* t - m when the sum carried out or t >= m */
    u256_select(r, (uint64_t)0 - (carry | (borrow ^ 1)), u, t);
}

/* a, b < m: r = (a - b) mod m */
INLINE void mod_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], const modulus *M) {
    uint64_t t[4], madd[4];
    uint64_t mask = (uint64_t)0 - u256_sub(t, a, b);
    int i;
    for (i = 0; i < 4; i++) madd[i] = M->m[i] & mask;
    u256_add(r, t, madd);
}

/* (c2:c1:c0) += a * b: a 192-bit column accumulator (product scanning) */
INLINE void muladd3(uint64_t *c0, uint64_t *c1, uint64_t *c2, uint64_t a, uint64_t b) {
    u128 p = (u128)a * b;
    uint64_t lo = (uint64_t)p, hi = (uint64_t)(p >> 64);
    uint64_t s0 = *c0 + lo;
    uint64_t k = s0 < lo;
    uint64_t s1 = *c1 + hi;
    uint64_t k1 = s1 < hi;
    uint64_t s1b = s1 + k;
    k1 += s1b < k;
    *c0 = s0;
    *c1 = s1b;
    *c2 += k1;
}

/* a, b < m: r = a * b / R mod m; r may alias a or b. Product scanning (Comba) for both the
 * product a * b and the reduction's q_i * m terms: column k of a * b + q * m is summed into
 * one 192-bit accumulator, and q_k (for k < 4) is chosen to make the column's low word 0. */
INLINE void mont_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], const modulus *M) {
    const uint64_t m0 = M->m[0], m1 = M->m[1], m2 = M->m[2], m3 = M->m[3], minv = M->minv;
    uint64_t q0, q1, q2, q3, out[4], u[4];
    uint64_t c0 = 0, c1 = 0, c2 = 0, top;
    /* written out in full (GCC does not unroll the triangular loops) */
    muladd3(&c0, &c1, &c2, a[0], b[0]);
    q0 = c0 * minv;
    muladd3(&c0, &c1, &c2, q0, m0);
    c0 = c1;
    c1 = c2;
    c2 = 0;
    muladd3(&c0, &c1, &c2, a[0], b[1]);
    muladd3(&c0, &c1, &c2, a[1], b[0]);
    muladd3(&c0, &c1, &c2, q0, m1);
    q1 = c0 * minv;
    muladd3(&c0, &c1, &c2, q1, m0);
    c0 = c1;
    c1 = c2;
    c2 = 0;
    muladd3(&c0, &c1, &c2, a[0], b[2]);
    muladd3(&c0, &c1, &c2, a[1], b[1]);
    muladd3(&c0, &c1, &c2, a[2], b[0]);
    muladd3(&c0, &c1, &c2, q0, m2);
    muladd3(&c0, &c1, &c2, q1, m1);
    q2 = c0 * minv;
    muladd3(&c0, &c1, &c2, q2, m0);
    c0 = c1;
    c1 = c2;
    c2 = 0;
    muladd3(&c0, &c1, &c2, a[0], b[3]);
    muladd3(&c0, &c1, &c2, a[1], b[2]);
    muladd3(&c0, &c1, &c2, a[2], b[1]);
    muladd3(&c0, &c1, &c2, a[3], b[0]);
    muladd3(&c0, &c1, &c2, q0, m3);
    muladd3(&c0, &c1, &c2, q1, m2);
    muladd3(&c0, &c1, &c2, q2, m1);
    q3 = c0 * minv;
    muladd3(&c0, &c1, &c2, q3, m0);
    c0 = c1;
    c1 = c2;
    c2 = 0;
    muladd3(&c0, &c1, &c2, a[1], b[3]);
    muladd3(&c0, &c1, &c2, a[2], b[2]);
    muladd3(&c0, &c1, &c2, a[3], b[1]);
    muladd3(&c0, &c1, &c2, q1, m3);
    muladd3(&c0, &c1, &c2, q2, m2);
    muladd3(&c0, &c1, &c2, q3, m1);
    out[0] = c0;
    c0 = c1;
    c1 = c2;
    c2 = 0;
    muladd3(&c0, &c1, &c2, a[2], b[3]);
    muladd3(&c0, &c1, &c2, a[3], b[2]);
    muladd3(&c0, &c1, &c2, q2, m3);
    muladd3(&c0, &c1, &c2, q3, m2);
    out[1] = c0;
    c0 = c1;
    c1 = c2;
    c2 = 0;
    muladd3(&c0, &c1, &c2, a[3], b[3]);
    muladd3(&c0, &c1, &c2, q3, m3);
    out[2] = c0;
    c0 = c1;
    c1 = c2;
    c2 = 0;
    out[3] = c0;
    top = c1; /* (top:out) < 2m */
    u256_select(r, (uint64_t)0 - (u256_sub(u, out, M->m) & (top ^ 1)), out, u);
}

INLINE void to_mont(uint64_t r[4], const uint64_t a[4], const modulus *M) {
    mont_mul(r, a, M->r2, M);
}

INLINE void from_mont(uint64_t r[4], const uint64_t a[4], const modulus *M) {
    static const uint64_t one[4] = {1, 0, 0, 0};
    mont_mul(r, a, one, M);
}

/* Multiplication mod the SM2 prime p in Montgomery form, using p's shape
 * p = 2^256 - 2^224 - 2^96 + 2^64 - 1: -p^-1 mod 2^64 = 1, so each reduction step's q is the
 * lowest word itself, and since t_i = q, (t + q p) / 2^64 = (t - q) / 2^64 + q (p + 1) / 2^64
 * with q (p + 1) / 2^64 = q (2^192 - 2^160 - 2^32 + 1) = q + q 2^192 - q 2^32 - q 2^160:
 * no multiplication at all, only additions and subtractions of q's halves. */

/* GCC keeps 128-bit sums of zero-extended words in memory, so only the products are 128-bit
 * here; the additions are 64-bit with explicit carries, which it turns into add/adc. */
INLINE uint64_t mac(uint64_t a, uint64_t b, uint64_t t, uint64_t *carry) {
    u128 z = (u128)a * b;
    uint64_t lo = (uint64_t)z, hi = (uint64_t)(z >> 64);
    lo += t;
    hi += lo < t;
    lo += *carry;
    hi += lo < *carry; /* a b + t + carry < 2^128: hi never overflows */
    *carry = hi;
    return lo;
}

/* (w4:w3:w2:w1) += q (2^192 - 2^160 - 2^32 + 1) + extra 2^192; returns the carry out */
INLINE uint64_t p_step(uint64_t *w1, uint64_t *w2, uint64_t *w3, uint64_t *w4, uint64_t q,
                       uint64_t extra) {
    uint64_t lo = q << 32, hi = q >> 32, borrow = 0, carry = 0, d0, d1, d2, d3;
    d0 = subb(q, lo, &borrow);
    d1 = subb(0, hi, &borrow);
    d2 = subb(0, lo, &borrow);
    d3 = subb(q, hi, &borrow); /* no borrow out: the value is >= 0 */
    *w1 = addc(*w1, d0, &carry);
    *w2 = addc(*w2, d1, &carry);
    *w3 = addc(*w3, d2, &carry);
    {
        /* w4 + d3 + extra + carry, the carry out the sum of three */
        uint64_t s1 = *w4 + d3, k1 = s1 < d3;
        uint64_t s2 = s1 + extra, k2 = s2 < extra;
        uint64_t s3 = s2 + carry, k3 = s3 < carry;
        *w4 = s3;
        return k1 + k2 + k3;
    }
}

/* r = (t7..t0) / 2^256 mod p for t < p 2^256 (Montgomery reduction, four steps: step i
 * clears word i, its carry goes into the next step's top word) */
INLINE void fp_reduce(uint64_t r[4], uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3,
                      uint64_t t4, uint64_t t5, uint64_t t6, uint64_t t7) {
    uint64_t k, out[4], u[4];
    k = p_step(&t1, &t2, &t3, &t4, t0, 0);
    k = p_step(&t2, &t3, &t4, &t5, t1, k);
    k = p_step(&t3, &t4, &t5, &t6, t2, k);
    k = p_step(&t4, &t5, &t6, &t7, t3, k);
    out[0] = t4;
    out[1] = t5;
    out[2] = t6;
    out[3] = t7; /* (k:out) < 2p */
    u256_select(r, (uint64_t)0 - (u256_sub(u, out, MOD_P.m) & (k ^ 1)), out, u);
}

/* a, b < p (Montgomery form): r = a b / 2^256 mod p; r may alias a or b */
INLINE void fp_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t t0, t1, t2, t3, t4, t5, t6, t7, c;
    c = 0;
    t0 = mac(a[0], b[0], 0, &c);
    t1 = mac(a[0], b[1], 0, &c);
    t2 = mac(a[0], b[2], 0, &c);
    t3 = mac(a[0], b[3], 0, &c);
    t4 = c;
    c = 0;
    t1 = mac(a[1], b[0], t1, &c);
    t2 = mac(a[1], b[1], t2, &c);
    t3 = mac(a[1], b[2], t3, &c);
    t4 = mac(a[1], b[3], t4, &c);
    t5 = c;
    c = 0;
    t2 = mac(a[2], b[0], t2, &c);
    t3 = mac(a[2], b[1], t3, &c);
    t4 = mac(a[2], b[2], t4, &c);
    t5 = mac(a[2], b[3], t5, &c);
    t6 = c;
    c = 0;
    t3 = mac(a[3], b[0], t3, &c);
    t4 = mac(a[3], b[1], t4, &c);
    t5 = mac(a[3], b[2], t5, &c);
    t6 = mac(a[3], b[3], t6, &c);
    t7 = c;
    fp_reduce(r, t0, t1, t2, t3, t4, t5, t6, t7);
}

/* r = a^2 / 2^256 mod p: the six cross products once, doubled, plus the four squares */
INLINE void fp_sqr(uint64_t r[4], const uint64_t a[4]) {
    uint64_t t0, t1, t2, t3, t4, t5, t6, t7, c;
    u128 z;
    c = 0;
    t1 = mac(a[0], a[1], 0, &c);
    t2 = mac(a[0], a[2], 0, &c);
    t3 = mac(a[0], a[3], 0, &c);
    t4 = c;
    c = 0;
    t3 = mac(a[1], a[2], t3, &c);
    t4 = mac(a[1], a[3], t4, &c);
    t5 = c;
    c = 0;
    t5 = mac(a[2], a[3], t5, &c);
    t6 = c;
    t7 = t6 >> 63;
    t6 = (t6 << 1) | (t5 >> 63);
    t5 = (t5 << 1) | (t4 >> 63);
    t4 = (t4 << 1) | (t3 >> 63);
    t3 = (t3 << 1) | (t2 >> 63);
    t2 = (t2 << 1) | (t1 >> 63);
    t1 <<= 1;
    c = 0;
    z = (u128)a[0] * a[0];
    t0 = (uint64_t)z;
    t1 = addc(t1, (uint64_t)(z >> 64), &c);
    z = (u128)a[1] * a[1];
    t2 = addc(t2, (uint64_t)z, &c);
    t3 = addc(t3, (uint64_t)(z >> 64), &c);
    z = (u128)a[2] * a[2];
    t4 = addc(t4, (uint64_t)z, &c);
    t5 = addc(t5, (uint64_t)(z >> 64), &c);
    z = (u128)a[3] * a[3];
    t6 = addc(t6, (uint64_t)z, &c);
    t7 = addc(t7, (uint64_t)(z >> 64), &c); /* a^2 < 2^512: no carry out */
    fp_reduce(r, t0, t1, t2, t3, t4, t5, t6, t7);
}

/* r = a^e (a in Montgomery form, r too); e a plain 256-bit number; 4-bit fixed windows */
static void mont_pow(uint64_t r[4], const uint64_t a[4], const uint64_t e[4], const modulus *M) {
    uint64_t pw[16][4], acc[4];
    int i, j;
    memcpy(pw[0], M->r1, sizeof pw[0]);
    for (i = 1; i < 16; i++) mont_mul(pw[i], pw[i - 1], a, M);
    memcpy(acc, M->r1, sizeof acc);
    for (i = 63; i >= 0; i--) {
        unsigned digit = (unsigned)(e[i / 16] >> (4 * (i % 16))) & 15;
        for (j = 0; j < 4; j++) mont_mul(acc, acc, acc, M);
        if (digit) mont_mul(acc, acc, pw[digit], M);
    }
    memcpy(r, acc, sizeof acc);
}

/* r = a^-1 by Fermat (a^(m-2)), Montgomery form in and out; 0 maps to 0 */
static void mont_inv(uint64_t r[4], const uint64_t a[4], const modulus *M) {
    static const uint64_t two[4] = {2, 0, 0, 0};
    uint64_t e[4];
    u256_sub(e, M->m, two);
    mont_pow(r, a, e, M);
}

/* ------------------------------------------------------------------------------------------
 * The group: field elements mod p in Montgomery form
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t d[4];
} fe;

typedef struct {
    fe x, y;
} ge; /* affine point, never infinity */

typedef struct {
    fe x, y, z;
    int inf;
} gej; /* Jacobian point: (X / Z^2, Y / Z^3) */

#define FP (&MOD_P)
#define FN (&MOD_N)

INLINE void fe_add(fe *r, const fe *a, const fe *b) { mod_add(r->d, a->d, b->d, FP); }
INLINE void fe_sub(fe *r, const fe *a, const fe *b) { mod_sub(r->d, a->d, b->d, FP); }
INLINE void fe_mul(fe *r, const fe *a, const fe *b) { fp_mul(r->d, a->d, b->d); }
INLINE void fe_sqr(fe *r, const fe *a) { fp_sqr(r->d, a->d); }
INLINE int fe_is_zero(const fe *a) { return u256_is_zero(a->d); }

static fe FE_ONE;     /* 1, Montgomery form */
static fe FE_B;       /* b, Montgomery form */
static ge GE_G;       /* the base point, Montgomery form */
static int module_ready = 0;

#define WINDOWS 64
#define DIGITS 15
#define TABLE_POINTS (WINDOWS * DIGITS)
#define TABLE_BYTES (TABLE_POINTS * (Py_ssize_t)sizeof(ge))

/* G's table has 8-bit windows: 32 windows of 255 multiples (510 KiB, built once per process),
 * so [s]G is at most 32 mixed additions instead of 64. */
#define G_WINDOWS 32
#define G_DIGITS 255
#define G_POINTS (G_WINDOWS * G_DIGITS)
static ge G_TABLE[G_POINTS];

static void fe_from_plain(fe *r, const uint64_t a[4]) { to_mont(r->d, a, FP); }

/* y^2 == x^3 - 3x + b for an affine point in Montgomery form */
static int ge_on_curve(const ge *a) {
    fe l, rr, t;
    fe_sqr(&l, &a->y);
    fe_sqr(&rr, &a->x);
    fe_mul(&rr, &rr, &a->x);
    fe_add(&t, &a->x, &a->x);
    fe_add(&t, &t, &a->x);
    fe_sub(&rr, &rr, &t);
    fe_add(&rr, &rr, &FE_B);
    return u256_eq(l.d, rr.d);
}

INLINE void gej_set_ge(gej *r, const ge *a) {
    r->x = a->x;
    r->y = a->y;
    r->z = FE_ONE;
    r->inf = 0;
}

/* r = 2a, a = -3 (dbl-2001-b); r may alias a */
static void gej_double(gej *r, const gej *a) {
    fe delta, gamma, beta, alpha, t1, t2, x3, y3, z3;
    if (a->inf || fe_is_zero(&a->y)) {
        r->inf = 1;
        return;
    }
    fe_sqr(&delta, &a->z);
    fe_sqr(&gamma, &a->y);
    fe_mul(&beta, &a->x, &gamma);
    fe_sub(&t1, &a->x, &delta);
    fe_add(&t2, &a->x, &delta);
    fe_mul(&t1, &t1, &t2);
    fe_add(&alpha, &t1, &t1);
    fe_add(&alpha, &alpha, &t1); /* 3 (X - delta)(X + delta) */
    fe_add(&t1, &a->y, &a->z);
    fe_sqr(&t1, &t1);
    fe_sub(&t1, &t1, &gamma);
    fe_sub(&z3, &t1, &delta); /* (Y + Z)^2 - gamma - delta = 2YZ */
    fe_add(&beta, &beta, &beta);
    fe_add(&beta, &beta, &beta); /* 4 beta */
    fe_sqr(&x3, &alpha);
    fe_add(&t1, &beta, &beta);
    fe_sub(&x3, &x3, &t1); /* alpha^2 - 8 beta */
    fe_sub(&t1, &beta, &x3);
    fe_mul(&y3, &alpha, &t1);
    fe_sqr(&gamma, &gamma);
    fe_add(&gamma, &gamma, &gamma);
    fe_add(&gamma, &gamma, &gamma);
    fe_add(&gamma, &gamma, &gamma); /* 8 gamma^2 */
    fe_sub(&y3, &y3, &gamma);
    r->x = x3;
    r->y = y3;
    r->z = z3;
    r->inf = 0;
}

/* r = a + b, b affine (madd with Z2 = 1); every special case; r may alias a */
static void gej_add_ge(gej *r, const gej *a, const ge *b) {
    fe z1z1, u2, s2, h, rr, hh, hhh, v, x3, y3, z3, t;
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
        if (fe_is_zero(&rr)) gej_double(r, a); /* a == b */
        else r->inf = 1;                       /* a == -b */
        return;
    }
    fe_sqr(&hh, &h);
    fe_mul(&hhh, &h, &hh);
    fe_mul(&v, &a->x, &hh);
    fe_sqr(&x3, &rr);
    fe_sub(&x3, &x3, &hhh);
    fe_sub(&x3, &x3, &v);
    fe_sub(&x3, &x3, &v);
    fe_sub(&t, &v, &x3);
    fe_mul(&y3, &rr, &t);
    fe_mul(&t, &a->y, &hhh);
    fe_sub(&y3, &y3, &t);
    fe_mul(&z3, &a->z, &h);
    r->x = x3;
    r->y = y3;
    r->z = z3;
    r->inf = 0;
}

/* r = a + b, both Jacobian (add-1998-cmo-2); every special case; r may alias either */
static void gej_add(gej *r, const gej *a, const gej *b) {
    fe z1z1, z2z2, u1, u2, s1, s2, h, rr, hh, hhh, v, x3, y3, z3, t;
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
        if (fe_is_zero(&rr)) gej_double(r, a);
        else r->inf = 1;
        return;
    }
    fe_sqr(&hh, &h);
    fe_mul(&hhh, &h, &hh);
    fe_mul(&v, &u1, &hh);
    fe_sqr(&x3, &rr);
    fe_sub(&x3, &x3, &hhh);
    fe_sub(&x3, &x3, &v);
    fe_sub(&x3, &x3, &v);
    fe_sub(&t, &v, &x3);
    fe_mul(&y3, &rr, &t);
    fe_mul(&t, &s1, &hhh);
    fe_sub(&y3, &y3, &t);
    fe_mul(&z3, &a->z, &b->z);
    fe_mul(&z3, &z3, &h);
    r->x = x3;
    r->y = y3;
    r->z = z3;
    r->inf = 0;
}

/* affine of a (Montgomery form), one inversion; 0 for infinity */
static int gej_to_ge(ge *r, const gej *a) {
    fe zi, zi2;
    if (a->inf) return 0;
    mont_inv(zi.d, a->z.d, FP);
    fe_sqr(&zi2, &zi);
    fe_mul(&r->x, &a->x, &zi2);
    fe_mul(&zi2, &zi2, &zi);
    fe_mul(&r->y, &a->y, &zi2);
    return 1;
}

/* ------------------------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------------------------- */

/* out[d j + k - 1] = k 2^(w j) P for j < windows and k in 1..d = 2^w - 1, affine (Montgomery
 * form); -1 on allocation failure, -2 if a multiple were infinity (impossible for a point of
 * prime order n > d 2^(w (windows - 1)): kept as a guard) */
static int table_build_w(ge *out, const ge *P, int windows, int w) {
    const int digits = (1 << w) - 1, points = windows * digits;
    gej *J = malloc((size_t)points * sizeof(gej));
    fe *prefix = malloc((size_t)points * sizeof(fe));
    gej B;
    fe inv, zi, zi2;
    int i, j, k;
    if (!J || !prefix) {
        free(J);
        free(prefix);
        return -1;
    }
    gej_set_ge(&B, P);
    for (j = 0; j < windows; j++) {
        gej *row = J + (size_t)digits * j;
        row[0] = B;
        gej_double(&row[1], &B);
        for (k = 2; k < digits; k++) gej_add(&row[k], &row[k - 1], &B);
        gej_double(&B, &row[(digits - 1) / 2]); /* 2^w B = 2 (2^(w-1) B) */
    }
    for (i = 0; i < points; i++) {
        if (J[i].inf) {
            free(J);
            free(prefix);
            return -2;
        }
    }
    /* Montgomery's trick: one inversion for all the Z */
    prefix[0] = J[0].z;
    for (i = 1; i < points; i++) fe_mul(&prefix[i], &prefix[i - 1], &J[i].z);
    mont_inv(inv.d, prefix[points - 1].d, FP);
    for (i = points - 1; i >= 0; i--) {
        if (i > 0) {
            fe_mul(&zi, &inv, &prefix[i - 1]);
            fe_mul(&inv, &inv, &J[i].z);
        } else {
            zi = inv;
        }
        fe_sqr(&zi2, &zi);
        fe_mul(&out[i].x, &J[i].x, &zi2);
        fe_mul(&zi2, &zi2, &zi);
        fe_mul(&out[i].y, &J[i].y, &zi2);
    }
    free(J);
    free(prefix);
    return 0;
}

/* vals[i] = vals[i]^-1 for i < count by Montgomery's trick (one inversion); -2 if one is 0 */
static int batch_invert(fe *vals, int count, fe *prefix) {
    fe inv, t;
    int i;
    prefix[0] = vals[0];
    for (i = 1; i < count; i++) fe_mul(&prefix[i], &prefix[i - 1], &vals[i]);
    if (fe_is_zero(&prefix[count - 1])) return -2;
    mont_inv(inv.d, prefix[count - 1].d, FP);
    for (i = count - 1; i > 0; i--) {
        fe_mul(&t, &inv, &prefix[i - 1]);
        fe_mul(&inv, &inv, &vals[i]);
        vals[i] = t;
    }
    vals[0] = inv;
    return 0;
}

/* A key's table, out[15 j + k - 1] = k 16^j P, built in affine coordinates throughout: the 64
 * bases 16^j P by doublings (Jacobian) and one batch inversion, then the multiples of all 64
 * rows together in four rounds (k = 2; 3-4; 5-8; 9-15: 2m = m + m, odd k = 2^i + (k - 2^i)
 * with both terms from earlier rounds), each round's denominators inverted in one batch.
 * Five inversions in all instead of one per point. -1: no memory; -2: a zero denominator
 * (impossible for a point of prime order n > 15 16^63: a guard). */
static int table_build(ge *out, const ge *P) {
    fe *den = malloc(WINDOWS * 8 * sizeof(fe));
    fe *prefix = malloc(WINDOWS * 8 * sizeof(fe));
    gej *base = malloc(WINDOWS * sizeof(gej));
    gej B;
    fe zi2, lambda, t;
    int j, k, round, i, n, rc = 0;
    if (!den || !prefix || !base) {
        rc = -1;
        goto done;
    }
    gej_set_ge(&B, P);
    for (j = 0; j < WINDOWS; j++) {
        base[j] = B;
        if (B.inf) {
            rc = -2;
            goto done;
        }
        den[j] = B.z;
        for (k = 0; k < 4; k++) gej_double(&B, &B);
    }
    if ((rc = batch_invert(den, WINDOWS, prefix)) < 0) goto done;
    for (j = 0; j < WINDOWS; j++) {
        fe_sqr(&zi2, &den[j]);
        fe_mul(&out[DIGITS * j].x, &base[j].x, &zi2);
        fe_mul(&zi2, &zi2, &den[j]);
        fe_mul(&out[DIGITS * j].y, &base[j].y, &zi2);
    }
    for (round = 1; round <= 4; round++) {
        const int half = 1 << (round - 1), lo = half + 1, hi = round == 4 ? 15 : 2 * half;
        n = 0;
        for (j = 0; j < WINDOWS; j++) {
            const ge *row = out + DIGITS * j;
            for (k = lo; k <= hi; k++) {
                if (k % 2 == 0) fe_add(&den[n++], &row[k / 2 - 1].y, &row[k / 2 - 1].y);
                else fe_sub(&den[n++], &row[half - 1].x, &row[k - half - 1].x);
            }
        }
        if ((rc = batch_invert(den, n, prefix)) < 0) goto done;
        i = 0;
        for (j = 0; j < WINDOWS; j++) {
            ge *row = out + DIGITS * j;
            for (k = lo; k <= hi; k++) {
                const ge *a, *b;
                if (k % 2 == 0) { /* lambda = 3 (x^2 - 1) / 2y, a = -3 */
                    a = b = &row[k / 2 - 1];
                    fe_sqr(&t, &a->x);
                    fe_sub(&t, &t, &FE_ONE);
                    fe_add(&lambda, &t, &t);
                    fe_add(&lambda, &lambda, &t);
                } else { /* lambda = (ya - yb) / (xa - xb) */
                    a = &row[half - 1];
                    b = &row[k - half - 1];
                    fe_sub(&lambda, &a->y, &b->y);
                }
                fe_mul(&lambda, &lambda, &den[i++]);
                fe_sqr(&t, &lambda);
                fe_sub(&t, &t, &a->x);
                fe_sub(&row[k - 1].x, &t, &b->x); /* x3 = lambda^2 - xa - xb */
                fe_sub(&t, &a->x, &row[k - 1].x);
                fe_mul(&t, &lambda, &t);
                fe_sub(&row[k - 1].y, &t, &a->y); /* y3 = lambda (xa - x3) - ya */
            }
        }
    }
done:
    free(den);
    free(prefix);
    free(base);
    return rc;
}

/* acc += [k] G through G's 8-bit table; k any 256-bit number */
INLINE void g_accumulate(gej *acc, const uint64_t k[4]) {
    int j;
    for (j = 0; j < G_WINDOWS; j++) {
        unsigned digit = (unsigned)(k[j >> 3] >> (8 * (j & 7))) & 255;
        if (digit) gej_add_ge(acc, acc, &G_TABLE[G_DIGITS * j + digit - 1]);
    }
}

/* acc += [k] P through P's table; k any 256-bit number */
INLINE void table_accumulate(gej *acc, const ge *table, const uint64_t k[4]) {
    int j;
    for (j = 0; j < WINDOWS; j++) {
        unsigned digit = (unsigned)(k[j >> 4] >> (4 * (j & 15))) & 15;
        if (digit) gej_add_ge(acc, acc, &table[DIGITS * j + digit - 1]);
    }
}

/* (e + x1) mod n == r for the x1 of the finite Jacobian point acc, without inverting Z:
 * x1 lies in [0, p), so it must be c = (r - e) mod n or c + n (when that is below p);
 * each candidate is tested as X == c Z^2. e any 256-bit number, r in [1, n-1]. */
static int x_matches(const gej *acc, const uint64_t e_in[4], const uint64_t r[4]) {
    uint64_t e[4], c[4], c2[4];
    fe z2, cand;
    memcpy(e, e_in, sizeof e);
    if (u256_cmp(e, MOD_N.m) >= 0) u256_sub(e, e, MOD_N.m); /* e < 2^256 < 2n */
    mod_sub(c, r, e, FN);
    fe_sqr(&z2, &acc->z);
    to_mont(cand.d, c, FP); /* c < n < p */
    fe_mul(&cand, &cand, &z2);
    if (u256_eq(cand.d, acc->x.d)) return 1;
    if (!u256_add(c2, c, MOD_N.m) && u256_cmp(c2, MOD_P.m) < 0) {
        to_mont(cand.d, c2, FP);
        fe_mul(&cand, &cand, &z2);
        if (u256_eq(cand.d, acc->x.d)) return 1;
    }
    return 0;
}

/* 1 if (r, s) verifies over e against the key whose table is given, else 0 */
static int verify_one(const uint8_t *e32, const uint8_t *rs, const ge *table) {
    uint64_t r[4], s[4], t[4], e[4];
    gej acc;
    int j;
    u256_from_b32(r, rs);
    u256_from_b32(s, rs + 32);
    if (u256_is_zero(r) || u256_cmp(r, MOD_N.m) >= 0) return 0;
    if (u256_is_zero(s) || u256_cmp(s, MOD_N.m) >= 0) return 0;
    mod_add(t, r, s, FN);
    if (u256_is_zero(t)) return 0;
#if defined(__GNUC__)
    /* the entries' addresses are known now: start loading them (a key's table is often out of
     * cache, and the additions that use them depend on one another) */
    for (j = 0; j < WINDOWS; j++) {
        unsigned dt = (unsigned)(t[j >> 4] >> (4 * (j & 15))) & 15;
        if (dt) __builtin_prefetch(&table[DIGITS * j + dt - 1]);
    }
    for (j = 0; j < G_WINDOWS; j++) {
        unsigned ds = (unsigned)(s[j >> 3] >> (8 * (j & 7))) & 255;
        if (ds) __builtin_prefetch(&G_TABLE[G_DIGITS * j + ds - 1]);
    }
#endif
    acc.inf = 1;
    for (j = 0; j < G_WINDOWS; j++) { /* [s]G + [t]P, interleaved */
        unsigned ds = (unsigned)(s[j >> 3] >> (8 * (j & 7))) & 255;
        unsigned dt0 = (unsigned)(t[j >> 3] >> (8 * (j & 7))) & 15;
        unsigned dt1 = (unsigned)(t[j >> 3] >> (8 * (j & 7) + 4)) & 15;
        if (ds) gej_add_ge(&acc, &acc, &G_TABLE[G_DIGITS * j + ds - 1]);
        if (dt0) gej_add_ge(&acc, &acc, &table[DIGITS * (2 * j) + dt0 - 1]);
        if (dt1) gej_add_ge(&acc, &acc, &table[DIGITS * (2 * j + 1) + dt1 - 1]);
    }
    if (acc.inf) return 0;
    u256_from_b32(e, e32);
    return x_matches(&acc, e, r);
}

/* ------------------------------------------------------------------------------------------
 * Python bindings
 * ---------------------------------------------------------------------------------------- */

static int check_ready(void) {
    if (!module_ready) {
        PyErr_SetString(PyExc_RuntimeError, "_sm2_tables: G's table was not built");
        return -1;
    }
    return 0;
}

/* 64 bytes x||y big-endian -> affine point in Montgomery form; 0 if a coordinate >= p or the
 * point is off the curve */
static int point_from_b64(ge *r, const uint8_t *b) {
    uint64_t x[4], y[4];
    u256_from_b32(x, b);
    u256_from_b32(y, b + 32);
    if (u256_cmp(x, MOD_P.m) >= 0 || u256_cmp(y, MOD_P.m) >= 0) return 0;
    fe_from_plain(&r->x, x);
    fe_from_plain(&r->y, y);
    return ge_on_curve(r);
}

static PyObject *point_out(const gej *a) {
    ge g;
    uint8_t b[64];
    uint64_t v[4];
    if (!gej_to_ge(&g, a)) Py_RETURN_NONE;
    from_mont(v, g.x.d, FP);
    u256_to_b32(b, v);
    from_mont(v, g.y.d, FP);
    u256_to_b32(b + 32, v);
    return PyBytes_FromStringAndSize((const char *)b, 64);
}

static int table_view(PyObject *obj, Py_buffer *view) {
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return -1;
    if (view->len != TABLE_BYTES || ((uintptr_t)view->buf & 7) != 0) {
        PyErr_Format(PyExc_ValueError, "a table must be %zd bytes, 8-byte aligned, as "
                     "precompute() returns it", (Py_ssize_t)TABLE_BYTES);
        PyBuffer_Release(view);
        view->obj = NULL;
        return -1;
    }
    return 0;
}

static PyObject *py_precompute(PyObject *self, PyObject *args) {
    Py_buffer pub;
    ge P;
    PyObject *out;
    int rc;
    (void)self;
    if (check_ready() < 0) return NULL;
    if (!PyArg_ParseTuple(args, "y*:precompute", &pub)) return NULL;
    if (pub.len != 64) {
        PyBuffer_Release(&pub);
        PyErr_SetString(PyExc_ValueError, "public key must be 64 bytes x||y");
        return NULL;
    }
    rc = point_from_b64(&P, pub.buf);
    PyBuffer_Release(&pub);
    if (!rc) {
        PyErr_SetString(PyExc_ValueError, "public key is not a point on the SM2 curve");
        return NULL;
    }
    out = PyBytes_FromStringAndSize(NULL, TABLE_BYTES);
    if (!out) return NULL;
    {
        ge *table = (ge *)(void *)PyBytes_AsString(out);
        Py_BEGIN_ALLOW_THREADS
        rc = table_build(table, &P);
        Py_END_ALLOW_THREADS
    }
    if (rc < 0) {
        Py_DECREF(out);
        if (rc == -1) return PyErr_NoMemory();
        PyErr_SetString(PyExc_RuntimeError, "a multiple of the key was infinity");
        return NULL;
    }
    return out;
}

/* verify(digests n*32, signatures n*128 (r||s||key; the key's bytes are not read),
 *        index n int32 (native byte order), tables tuple) -> n bytes of 0/1 */
static PyObject *py_verify(PyObject *self, PyObject *args) {
    Py_buffer e, sig, idx;
    PyObject *tables, *result = NULL;
    Py_buffer *views = NULL;
    const ge **ptrs = NULL;
    uint8_t *ok = NULL;
    Py_ssize_t n, k, i, got = 0;
    const int32_t *index;
    (void)self;
    if (check_ready() < 0) return NULL;
    e.obj = sig.obj = idx.obj = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*O:verify", &e, &sig, &idx, &tables)) return NULL;
    if (!PyTuple_Check(tables)) {
        PyErr_SetString(PyExc_TypeError, "tables must be a tuple of precompute() results");
        goto done;
    }
    if (e.len % 32 || sig.len % 128 || idx.len % 4 || e.len / 32 != sig.len / 128 ||
        e.len / 32 != idx.len / 4) {
        PyErr_SetString(PyExc_ValueError,
                        "expected n*32 digest bytes, n*128 signature bytes, n int32 indices");
        goto done;
    }
    if (((uintptr_t)idx.buf & 3) != 0) {
        PyErr_SetString(PyExc_ValueError, "the index buffer must be 4-byte aligned");
        goto done;
    }
    n = e.len / 32;
    k = PyTuple_Size(tables);
    index = (const int32_t *)idx.buf;
    for (i = 0; i < n; i++) {
        if (index[i] < 0 || index[i] >= k) {
            PyErr_Format(PyExc_IndexError, "row %zd: table index %d outside 0..%zd", i,
                         (int)index[i], k - 1);
            goto done;
        }
    }
    views = calloc(k ? (size_t)k : 1, sizeof *views);
    ptrs = calloc(k ? (size_t)k : 1, sizeof *ptrs);
    ok = malloc(n ? (size_t)n : 1);
    if (!views || !ptrs || !ok) {
        PyErr_NoMemory();
        goto done;
    }
    for (got = 0; got < k; got++) {
        if (table_view(PyTuple_GetItem(tables, got), &views[got]) < 0) goto done;
        ptrs[got] = (const ge *)views[got].buf;
    }
    {
        const uint8_t *eb = e.buf, *sb = sig.buf;
        Py_BEGIN_ALLOW_THREADS
        for (i = 0; i < n; i++)
            ok[i] = (uint8_t)verify_one(eb + 32 * i, sb + 128 * i, ptrs[index[i]]);
        Py_END_ALLOW_THREADS
    }
    result = PyBytes_FromStringAndSize((const char *)ok, n);
done:
    for (i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    free(views);
    free(ptrs);
    free(ok);
    if (e.obj) PyBuffer_Release(&e);
    if (sig.obj) PyBuffer_Release(&sig);
    if (idx.obj) PyBuffer_Release(&idx);
    return result;
}

/* --- test hooks: 32-byte big-endian numbers in and out, checked against Python ints ------ */

static int bytes32(PyObject *obj, uint64_t d[4], const modulus *M) {
    char *buf;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(obj, &buf, &len) < 0) return -1;
    if (len != 32) {
        PyErr_SetString(PyExc_ValueError, "expected 32 bytes");
        return -1;
    }
    u256_from_b32(d, (const uint8_t *)buf);
    if (M && u256_cmp(d, M->m) >= 0) {
        PyErr_SetString(PyExc_ValueError, "value must be below the modulus");
        return -1;
    }
    return 0;
}

static PyObject *out32(const uint64_t d[4]) {
    uint8_t b[32];
    u256_to_b32(b, d);
    return PyBytes_FromStringAndSize((const char *)b, 32);
}

/* _arith(which, op, a, b): which "p" or "n"; a, b below the modulus, plain (not Montgomery);
 * the op runs in Montgomery form where it multiplies; the result plain */
static PyObject *py_arith(PyObject *self, PyObject *args) {
    const char *which, *op;
    PyObject *ao, *bo;
    const modulus *M;
    uint64_t a[4], b[4], r[4], am[4], bm[4];
    (void)self;
    if (!PyArg_ParseTuple(args, "ssSS:_arith", &which, &op, &ao, &bo)) return NULL;
    if (!strcmp(which, "p")) M = FP;
    else if (!strcmp(which, "n")) M = FN;
    else {
        PyErr_SetString(PyExc_ValueError, "modulus must be 'p' or 'n'");
        return NULL;
    }
    if (bytes32(ao, a, M) < 0 || bytes32(bo, b, M) < 0) return NULL;
    to_mont(am, a, M);
    to_mont(bm, b, M);
    if (!strcmp(op, "add")) mod_add(r, a, b, M);
    else if (!strcmp(op, "sub")) mod_sub(r, a, b, M);
    else if (!strcmp(op, "mul")) {
        mont_mul(r, am, bm, M);
        from_mont(r, r, M);
    } else if (!strcmp(op, "fmul") && M == FP) { /* the field's own multiplication */
        fp_mul(r, am, bm);
        from_mont(r, r, M);
    } else if (!strcmp(op, "fsqr") && M == FP) {
        fp_sqr(r, am);
        from_mont(r, r, M);
    } else if (!strcmp(op, "sqr")) {
        mont_mul(r, am, am, M);
        from_mont(r, r, M);
    } else if (!strcmp(op, "inv")) {
        mont_inv(r, am, M);
        from_mont(r, r, M);
    } else if (!strcmp(op, "pow")) { /* a^b, b taken as a plain exponent */
        mont_pow(r, am, b, M);
        from_mont(r, r, M);
    } else if (!strcmp(op, "tomont")) memcpy(r, am, sizeof r);
    else {
        PyErr_Format(PyExc_ValueError, "unknown op %s", op);
        return NULL;
    }
    return out32(r);
}

/* a 64-byte x||y on the curve, or None for infinity */
static int point_arg(PyObject *obj, ge *r, int *inf) {
    char *buf;
    Py_ssize_t len;
    *inf = 0;
    if (obj == Py_None) {
        *inf = 1;
        return 0;
    }
    if (PyBytes_AsStringAndSize(obj, &buf, &len) < 0) return -1;
    if (len != 64 || !point_from_b64(r, (const uint8_t *)buf)) {
        PyErr_SetString(PyExc_ValueError, "not a point on the curve (64 bytes x||y)");
        return -1;
    }
    return 0;
}

/* P in Jacobian coordinates with Z = z (nonzero, Montgomery form) */
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
 * "double" (P); P given the Jacobian Z zp, Q the Z zq (32 bytes, plain, nonzero, < p). P may
 * be None (infinity), and Q too for "add". */
static PyObject *py_group(PyObject *self, PyObject *args) {
    const char *op;
    PyObject *po, *qo, *zpo, *zqo;
    ge P, Q;
    int pinf, qinf;
    uint64_t zpv[4], zqv[4];
    fe zp, zq;
    gej a, b, r;
    (void)self;
    if (check_ready() < 0) return NULL;
    if (!PyArg_ParseTuple(args, "sOOSS:_group", &op, &po, &qo, &zpo, &zqo)) return NULL;
    if (point_arg(po, &P, &pinf) < 0 || point_arg(qo, &Q, &qinf) < 0) return NULL;
    if (bytes32(zpo, zpv, FP) < 0 || bytes32(zqo, zqv, FP) < 0) return NULL;
    if (u256_is_zero(zpv) || u256_is_zero(zqv)) {
        PyErr_SetString(PyExc_ValueError, "Z must not be 0");
        return NULL;
    }
    fe_from_plain(&zp, zpv);
    fe_from_plain(&zq, zqv);
    a.inf = b.inf = 1;
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

/* _mul(table or None for G's, k 32 bytes any value) -> [k]P as 64 bytes, or None */
static PyObject *py_mul(PyObject *self, PyObject *args) {
    PyObject *to, *ko;
    Py_buffer view;
    uint64_t k[4];
    gej acc;
    const ge *table = NULL;
    (void)self;
    if (check_ready() < 0) return NULL;
    if (!PyArg_ParseTuple(args, "OS:_mul", &to, &ko)) return NULL;
    if (bytes32(ko, k, NULL) < 0) return NULL;
    view.obj = NULL;
    if (to != Py_None) {
        if (table_view(to, &view) < 0) return NULL;
        table = (const ge *)view.buf;
    }
    acc.inf = 1;
    if (table) table_accumulate(&acc, table, k);
    else g_accumulate(&acc, k);
    if (view.obj) PyBuffer_Release(&view);
    return point_out(&acc);
}

/* _table_slow(pub64) -> the same table built point by point in Jacobian coordinates, one
 * batch inversion at the end (the reference for table_build) */
static PyObject *py_table_slow(PyObject *self, PyObject *args) {
    PyObject *po, *out;
    ge P;
    int inf;
    (void)self;
    if (check_ready() < 0) return NULL;
    if (!PyArg_ParseTuple(args, "O:_table_slow", &po) || point_arg(po, &P, &inf) < 0) return NULL;
    if (inf) {
        PyErr_SetString(PyExc_ValueError, "a point, not None");
        return NULL;
    }
    out = PyBytes_FromStringAndSize(NULL, TABLE_BYTES);
    if (!out) return NULL;
    if (table_build_w((ge *)(void *)PyBytes_AsString(out), &P, WINDOWS, 4) < 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_RuntimeError, "table_build_w failed");
        return NULL;
    }
    return out;
}

/* _table_point(table, j, k) -> k 16^j P as 64 bytes, k in 1..15 */
static PyObject *py_table_point(PyObject *self, PyObject *args) {
    PyObject *to;
    Py_buffer view;
    int j, k;
    gej a;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oii:_table_point", &to, &j, &k)) return NULL;
    if (j < 0 || j >= WINDOWS || k < 1 || k > DIGITS) {
        PyErr_SetString(PyExc_ValueError, "j in 0..63, k in 1..15");
        return NULL;
    }
    if (table_view(to, &view) < 0) return NULL;
    gej_set_ge(&a, &((const ge *)view.buf)[DIGITS * j + k - 1]);
    PyBuffer_Release(&view);
    return point_out(&a);
}

/* _x_matches(x1, z, e, r): x1 < p as an affine x, z nonzero < p, e any, r in [1, n-1]:
 * whether the point with X = x1 z^2, Z = z passes the final comparison (e + x1) mod n == r */
static PyObject *py_x_matches(PyObject *self, PyObject *args) {
    PyObject *xo, *zo, *eo, *ro;
    uint64_t x[4], z[4], e[4], r[4];
    fe z2;
    gej acc;
    (void)self;
    if (!PyArg_ParseTuple(args, "SSSS:_x_matches", &xo, &zo, &eo, &ro)) return NULL;
    if (bytes32(xo, x, FP) < 0 || bytes32(zo, z, FP) < 0 || bytes32(eo, e, NULL) < 0 ||
        bytes32(ro, r, FN) < 0)
        return NULL;
    if (u256_is_zero(z) || u256_is_zero(r)) {
        PyErr_SetString(PyExc_ValueError, "z and r must not be 0");
        return NULL;
    }
    fe_from_plain(&acc.z, z);
    fe_from_plain(&acc.x, x);
    fe_sqr(&z2, &acc.z);
    fe_mul(&acc.x, &acc.x, &z2);
    acc.y = acc.z; /* not read */
    acc.inf = 0;
    return PyBool_FromLong(x_matches(&acc, e, r));
}

static void set_one(uint64_t d[4], uint64_t v) {
    d[0] = v;
    d[1] = d[2] = d[3] = 0;
}

static const char *self_check(void) {
    const modulus *mods[2] = {FP, FN};
    uint64_t t[4], u[4], one[4], nm1[4];
    gej acc;
    ge a;
    int m, i;
    for (m = 0; m < 2; m++) {
        const modulus *M = mods[m];
        /* minv * m == -1 mod 2^64 */
        if ((uint64_t)(M->minv * M->m[0]) != UINT64_MAX) return "-m^-1 mod 2^64";
        /* r1 = 2^256 mod m = 2^256 - m (m > 2^255) */
        set_one(one, 0);
        u256_sub(t, one, M->m);
        if (!u256_eq(t, M->r1)) return "R mod m";
        /* r2 = R^2 mod m: double R 256 times mod m */
        for (i = 0; i < 256; i++) mod_add(t, t, t, M);
        if (!u256_eq(t, M->r2)) return "R^2 mod m";
        set_one(one, 1);
        to_mont(u, one, M);
        if (!u256_eq(u, M->r1)) return "to Montgomery form";
        /* 3 * 3^-1 == 1 */
        set_one(t, 3);
        to_mont(t, t, M);
        mont_inv(u, t, M);
        mont_mul(u, u, t, M);
        from_mont(u, u, M);
        if (!u256_eq(u, one)) return "inverse";
    }
    if (!ge_on_curve(&GE_G)) return "G on the curve";
    /* [n - 1]G == -G, and [n - 1]G + G through the mixed addition is infinity */
    set_one(one, 1);
    u256_sub(nm1, MOD_N.m, one);
    acc.inf = 1;
    g_accumulate(&acc, nm1);
    if (!gej_to_ge(&a, &acc)) return "[n - 1]G is infinity";
    fe_add(&a.y, &a.y, &GE_G.y);
    if (!u256_eq(a.x.d, GE_G.x.d) || !fe_is_zero(&a.y)) return "[n - 1]G == -G";
    gej_add_ge(&acc, &acc, &GE_G);
    if (!acc.inf) return "[n]G is infinity";
    return NULL;
}

static PyObject *py_selftest(PyObject *self, PyObject *args) {
    const char *failed;
    (void)self;
    (void)args;
    if (check_ready() < 0) return NULL;
    failed = self_check();
    if (failed) {
        PyErr_Format(PyExc_RuntimeError, "_sm2_tables self-test failed: %s", failed);
        return NULL;
    }
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"precompute", py_precompute, METH_VARARGS,
     "precompute(pub64) -> the key's table (bytes); ValueError if it is not on the curve"},
    {"verify", py_verify, METH_VARARGS,
     "verify(digests n*32, signatures n*128, index n int32, tables) -> n bytes of 0/1"},
    {"selftest", py_selftest, METH_NOARGS, "selftest() -> True, or RuntimeError naming a fact"},
    {"_arith", py_arith, METH_VARARGS, "test hook: arithmetic mod p or n"},
    {"_group", py_group, METH_VARARGS, "test hook: Jacobian add / mixed add / double"},
    {"_mul", py_mul, METH_VARARGS, "test hook: [k]P through a table (None: G's)"},
    {"_table_point", py_table_point, METH_VARARGS, "test hook: one entry of a table"},
    {"_x_matches", py_x_matches, METH_VARARGS, "test hook: the final comparison"},
    {"_table_slow", py_table_slow, METH_VARARGS, "test hook: the reference table builder"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sm2_tables",
                                    "SM2 verification with per-key precomputed tables", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sm2_tables(void) {
    PyObject *m;
    int rc;
    fe_from_plain(&FE_ONE, (const uint64_t[4]){1, 0, 0, 0});
    fe_from_plain(&FE_B, CURVE_B);
    fe_from_plain(&GE_G.x, CURVE_GX);
    fe_from_plain(&GE_G.y, CURVE_GY);
    rc = table_build_w(G_TABLE, &GE_G, G_WINDOWS, 8);
    if (rc == -1) return PyErr_NoMemory();
    if (rc < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_sm2_tables: G's table could not be built");
        return NULL;
    }
    module_ready = 1;
    m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "TABLE_SIZE", (long)TABLE_BYTES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
