// The datapath primitives of hwmodel/template.py, bit for bit: the counter-based PRNG, the
// k-bit weight sampling and the saturating membrane.  Static (not generated); it reads the
// constants of snn_config.h.
#pragma once

#include <cstdint>

#include "snn_config.h"

namespace snn {

constexpr uint32_t KEY_C0 = 0x9E3779B9u;
constexpr uint32_t KEY_C1 = 0x6A09E667u;
constexpr uint32_t KEY_C2 = 0xBB67AE85u;
constexpr uint32_t KEY_C3 = 0x3C6EF372u;
constexpr int64_t MEMBRANE_MAX = (int64_t(1) << (MEMBRANE_BITS - 1)) - 1;
constexpr int64_t MEMBRANE_MIN = -(int64_t(1) << (MEMBRANE_BITS - 1));

// Marsaglia's xorshift32 (13, 17, 5): one LFSR step.
inline uint32_t xorshift32(uint32_t x) {
#pragma HLS INLINE
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

// Key of (sample, layer); computed once per weight sample.
inline uint32_t layer_key(uint32_t sample, uint32_t layer) {
#pragma HLS INLINE
    uint32_t x = xorshift32(SEED + KEY_C0);
    x = xorshift32(x + sample + KEY_C1);
    return xorshift32(x + layer + KEY_C2);
}

// Random word of weight group `group` (= weight index / REUSE) under `key`.
inline uint32_t prng_word(uint32_t key, uint32_t group) {
#pragma HLS INLINE
    uint32_t x = xorshift32(group + key);
    x = xorshift32(x + ((key >> 16) | (key << 16)));
    return xorshift32(x + KEY_C3);
}

// r = (word * (2**K_BITS - 1)) >> 32, uniform on 0 .. 2**K_BITS - 2 (a shift and a
// subtraction); w = +1 when r < code, so code 0 is always -1 and the top code always +1.
inline bool weight_positive(code_t code, uint32_t word) {
#pragma HLS INLINE
    const uint64_t wide = uint64_t(word);
    const uint32_t r = uint32_t(((wide << K_BITS) - wide) >> 32);
    return r < uint32_t(code);
}

// Two's-complement saturation to MEMBRANE_BITS bits.
inline membrane_t saturate(int64_t v) {
#pragma HLS INLINE
    if (v > MEMBRANE_MAX) return membrane_t(MEMBRANE_MAX);
    if (v < MEMBRANE_MIN) return membrane_t(MEMBRANE_MIN);
    return membrane_t(v);
}

}  // namespace snn
