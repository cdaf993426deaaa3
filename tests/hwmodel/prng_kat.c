/* Known answers of the accelerator's PRNG, written from the description in
 * hwmodel/template.py with plain uint32_t arithmetic and nothing else: the test compiles this
 * file, runs it and compares every line with the numpy implementation.
 * Output per line: seed sample layer group key word r(k=8) r(k=13) */
#include <stdint.h>
#include <stdio.h>

static uint32_t xs(uint32_t x) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

static uint32_t key_of(uint32_t seed, uint32_t sample, uint32_t layer) {
    uint32_t x = xs(seed + 0x9E3779B9u);
    x = xs(x + sample + 0x6A09E667u);
    return xs(x + layer + 0xBB67AE85u);
}

static uint32_t word_of(uint32_t key, uint32_t group) {
    uint32_t x = xs(group + key);
    x = xs(x + ((key >> 16) | (key << 16)));
    return xs(x + 0x3C6EF372u);
}

static uint32_t scaled(uint32_t word, int k) {
    return (uint32_t)((((uint64_t)word << k) - word) >> 32);
}

int main(void) {
    const uint32_t seeds[] = {0u, 1u, 7u, 4294967295u};
    for (int s = 0; s < 4; ++s) {
        for (uint32_t sample = 0; sample < 3; ++sample) {
            for (uint32_t layer = 0; layer < 3; ++layer) {
                const uint32_t key = key_of(seeds[s], sample, layer);
                for (uint32_t group = 0; group < 70000u; group += 9973u) {
                    const uint32_t w = word_of(key, group);
                    printf("%u %u %u %u %u %u %u %u\n", seeds[s], sample, layer, group, key, w,
                           scaled(w, 8), scaled(w, 13));
                }
            }
        }
    }
    return 0;
}
