// The datapath primitives of hwmodel/template.py, bit for bit, in ap_int arithmetic: the
// counter-based PRNG, the k-bit weight sampling and the saturating membrane update.  Static
// (not generated); it reads the constants of snn_config.h and the types of
// snn_types.h.  A deterministic design (SNN_DRAWS_WEIGHTS 0) has no PRNG and no sampling.
#pragma once

#include "snn_config.h"
#include "snn_types.h"

namespace snn {

#if SNN_DRAWS_WEIGHTS
// Marsaglia's xorshift32 (13, 17, 5): one LFSR step (shifts truncate to 32 bits).
inline word_t xorshift32(word_t x) {
#pragma HLS INLINE
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

// Key of (sample, layer); computed once per weight sample.
inline word_t layer_key(word_t sample, word_t layer) {
#pragma HLS INLINE
    word_t x = xorshift32(word_t(SEED) + word_t(KEY_C0));
    x = xorshift32(x + sample + word_t(KEY_C1));
    return xorshift32(x + layer + word_t(KEY_C2));
}

// Random word of weight group `group` (= weight index >> LOG2_REUSE) under `key`.
inline word_t prng_word(word_t key, word_t group) {
#pragma HLS INLINE
    word_t x = xorshift32(group + key);
    x = xorshift32(x + ((key >> 16) | (key << 16)));
    return xorshift32(x + word_t(KEY_C3));
}

// r = (word * (2**K_BITS - 1)) >> 32 on 0 .. 2**K_BITS - 2 (a shift and a subtraction);
// w = +1 when r < code, so code 0 is always -1 and the top code always +1.
inline bool weight_positive(code_t code, word_t word) {
#pragma HLS INLINE
    const ap_uint<32 + K_BITS> wide = word;
    const random_t r = random_t((ap_uint<32 + K_BITS>(wide << K_BITS) - wide) >> 32);
    return r < code;
}
#endif

// v + current * 2**SHIFT + bias, saturated once to MEMBRANE_BITS bits; a negative SHIFT is the
// arithmetic right shift, which floors (hwmodel.template.scale_current). UPDATE is wide enough
// for any shift below MEMBRANE_BITS (hwmodel.plan: current bits + membrane bits + 1).
template <typename UPDATE, int SHIFT, typename CURRENT>
inline membrane_t integrate(membrane_t v, CURRENT current, membrane_t bias) {
#pragma HLS INLINE
    const UPDATE top = (UPDATE(1) << (MEMBRANE_BITS - 1)) - 1;
    const UPDATE bottom = -(UPDATE(1) << (MEMBRANE_BITS - 1));
    const UPDATE scaled = SHIFT >= 0 ? UPDATE(UPDATE(current) << SHIFT) : UPDATE(current) >> -SHIFT;
    const UPDATE sum = UPDATE(v) + scaled + UPDATE(bias);
    if (sum > top) return membrane_t(top);
    if (sum < bottom) return membrane_t(bottom);
    return membrane_t(sum);
}

// Word of a packed ROM (snn_params.h) from its chunks, lowest bits first: a wire concatenation.
template <typename WORD, typename CHUNK, int CHUNKS>
inline WORD rom_word(const CHUNK (&chunks)[CHUNKS]) {
#pragma HLS INLINE
    constexpr int BITS = 8 * sizeof(CHUNK);
    ap_uint<BITS * CHUNKS> word = 0;
    for (int c = 0; c < CHUNKS; ++c) {
#pragma HLS UNROLL
        word.range(BITS * c + BITS - 1, BITS * c) = chunks[c];
    }
    return WORD(word);
}

// Element p of a row word, of type T (T::width bits at p * T::width; a signed T takes them
// as two's complement).
template <typename T, typename WORD>
inline T element(const WORD &word, int p) {
#pragma HLS INLINE
    return T(word.range(T::width * p + T::width - 1, T::width * p));
}

// Index of the lowest set bit of a one-hot word times STEP: a constant mux, no multiplier.
template <int STEP, typename WORD>
inline int onehot_times(WORD onehot) {
#pragma HLS INLINE
    int out = 0;
    for (int q = 0; q < WORD::width; ++q) {
#pragma HLS UNROLL
        if (onehot[q]) out |= q * STEP;
    }
    return out;
}

}  // namespace snn
