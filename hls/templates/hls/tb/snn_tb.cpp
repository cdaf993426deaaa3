// Testbench: runs the kernel on the golden images and checks every class score, spike count
// and cycle count against the integer hardware-exact Python model.  The testbench may use the
// standard library freely; the kernel may not.
//
// Usage: snn_csim [golden.txt] [csim_out.txt]
// golden.txt: "n_images n_inputs runs classes hidden", then per image: label, n_inputs pixels,
// runs * classes scores, hidden spike counts, cycles.  csim_out.txt repeats the header and
// holds per image the kernel's scores, spike counts and cycles.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <vector>

#include "snn_config.h"

namespace {

template <typename T>
bool read_values(std::ifstream &in, std::vector<T> &values) {
    for (auto &value : values) {
        long long raw = 0;
        if (!(in >> raw)) return false;
        value = static_cast<T>(raw);
    }
    return true;
}

}  // namespace

int main(int argc, char **argv) {
    const char *golden_path = argc > 1 ? argv[1] : "golden.txt";
    const char *out_path = argc > 2 ? argv[2] : "csim_out.txt";
    std::ifstream golden(golden_path);
    long long n = 0, inputs = 0, runs = 0, classes = 0, hidden = 0;
    if (!(golden >> n >> inputs >> runs >> classes >> hidden)) {
        std::fprintf(stderr, "cannot read the golden header from %s\n", golden_path);
        return 2;
    }
    if (inputs != snn::N_INPUTS || runs != snn::RUNS || classes != snn::N_CLASSES ||
        hidden != snn::N_HIDDEN || n < 0 || n > static_cast<long long>(snn::MAX_IMAGES)) {
        std::fprintf(stderr, "golden vectors do not fit this kernel\n");
        return 2;
    }
    const size_t images = static_cast<size_t>(n);
    const size_t score_len = static_cast<size_t>(snn::RUNS * snn::N_CLASSES);
    std::vector<snn::pixel_word_t> pixels(images * snn::N_INPUTS);
    std::vector<long long> want_scores(images * score_len), want_spikes(images * snn::N_HIDDEN);
    std::vector<long long> want_cycles(images), labels(images);
    for (size_t i = 0; i < images; ++i) {
        std::vector<long long> label(1), cycle(1), score(score_len), spike(snn::N_HIDDEN);
        std::vector<snn::pixel_word_t> image(snn::N_INPUTS);
        if (!read_values(golden, label) || !read_values(golden, image) ||
            !read_values(golden, score) || !read_values(golden, spike) ||
            !read_values(golden, cycle)) {
            std::fprintf(stderr, "golden vectors end early at image %zu\n", i);
            return 2;
        }
        labels[i] = label[0];
        want_cycles[i] = cycle[0];
        for (size_t k = 0; k < image.size(); ++k) pixels[i * snn::N_INPUTS + k] = image[k];
        for (size_t k = 0; k < score_len; ++k) want_scores[i * score_len + k] = score[k];
        for (size_t k = 0; k < spike.size(); ++k) want_spikes[i * snn::N_HIDDEN + k] = spike[k];
    }

    std::vector<snn::score_t> scores(images * score_len + 1);
    std::vector<uint32_t> spikes(images * snn::N_HIDDEN + 1);
    std::vector<uint64_t> cycles(images + 1);
    snn_top(pixels.data(), scores.data(), spikes.data(), cycles.data(),
            static_cast<uint32_t>(images));

    std::FILE *out = std::fopen(out_path, "w");
    if (out == nullptr) {
        std::fprintf(stderr, "cannot write %s\n", out_path);
        return 2;
    }
    std::fprintf(out, "%zu %d %d %d %d\n", images, snn::N_INPUTS, snn::RUNS, snn::N_CLASSES,
                 snn::N_HIDDEN);
    long long mismatches = 0, correct = 0;
    for (size_t i = 0; i < images; ++i) {
        for (size_t k = 0; k < score_len; ++k) {
            const long long got = scores[i * score_len + k];
            std::fprintf(out, "%lld ", got);
            mismatches += got != want_scores[i * score_len + k];
        }
        for (int k = 0; k < snn::N_HIDDEN; ++k) {
            const long long got = spikes[i * snn::N_HIDDEN + k];
            std::fprintf(out, "%lld ", got);
            mismatches += got != want_spikes[i * snn::N_HIDDEN + k];
        }
        const long long got_cycles = static_cast<long long>(cycles[i]);
        std::fprintf(out, "%lld\n", got_cycles);
        mismatches += got_cycles != want_cycles[i];
        // Top class of the summed scores (argmax of the mean over runs).
        int best = 0;
        long long best_sum = 0;
        for (int c = 0; c < snn::N_CLASSES; ++c) {
            long long sum = 0;
            for (int r = 0; r < snn::RUNS; ++r) sum += scores[i * score_len + r * snn::N_CLASSES + c];
            if (c == 0 || sum > best_sum) {
                best = c;
                best_sum = sum;
            }
        }
        correct += best == labels[i];
    }
    std::fclose(out);
    std::printf("images %zu mismatches %lld top1_of_summed_scores %lld\n", images, mismatches,
                correct);
    return mismatches == 0 ? 0 : 1;
}
