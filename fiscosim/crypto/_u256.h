/* 256-bit numbers as four little-endian 64-bit limbs: the byte conversions and comparisons
 * that fiscosim's two C extensions (_secp_batch.c, _sm2_tables.c) share. This project's own
 * code; included by each extension's single source file, so every function is static. */
#ifndef FISCOSIM_U256_H
#define FISCOSIM_U256_H

#include <stdint.h>

static inline uint64_t load_be64(const uint8_t *p) {
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

static inline void store_be64(uint8_t *p, uint64_t v) {
    int i;
    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* 32 big-endian bytes into little-endian limbs */
static inline void u256_from_b32(uint64_t d[4], const uint8_t *b) {
    d[3] = load_be64(b);
    d[2] = load_be64(b + 8);
    d[1] = load_be64(b + 16);
    d[0] = load_be64(b + 24);
}

static inline void u256_to_b32(uint8_t *b, const uint64_t d[4]) {
    store_be64(b, d[3]);
    store_be64(b + 8, d[2]);
    store_be64(b + 16, d[1]);
    store_be64(b + 24, d[0]);
}

/* -1, 0, 1 as a <, =, > b */
static inline int u256_cmp(const uint64_t a[4], const uint64_t b[4]) {
    int i;
    for (i = 3; i >= 0; i--) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

static inline int u256_is_zero(const uint64_t a[4]) { return (a[0] | a[1] | a[2] | a[3]) == 0; }

#endif
