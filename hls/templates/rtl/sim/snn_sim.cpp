// Verilator testbench (static, not generated): clocks the core through the golden images and
// measures every image's cycles from the cycle `start` is taken to the cycle `done` is high.
//
// The bus is modelled as the plan assumes (hwmodel.plan.AXI_LATENCY): a pixel request made in
// cycle c is answered in cycle c + LATENCY, and an output beat made in cycle c is acknowledged
// in cycle c + LATENCY.  Usage: snn_sim golden.txt sim_out.txt LATENCY [activity.vcd]
// (built with --trace, the last file receives every signal at every clock edge).
// sim_out.txt has the layout of the C-simulation's output: per image the scores (run-major),
// the hidden layers' spike counts and the measured cycles.  Standard output ends with
// "images N cycle_word_mismatches M": the core's own cycle counter against the measurement.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <utility>
#include <vector>

#include "Vsnn_core.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {

struct Bus {
    std::deque<std::pair<uint64_t, uint32_t>> pixels;  // (cycle due, value)
    std::deque<uint64_t> acks;                          // cycle due
};

}  // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: snn_sim golden.txt sim_out.txt LATENCY\n");
        return 2;
    }
    const uint64_t latency = std::strtoull(argv[3], nullptr, 10);
    std::ifstream golden(argv[1]);
    long long n = 0, inputs = 0, runs = 0, classes = 0, hidden = 0;
    if (!(golden >> n >> inputs >> runs >> classes >> hidden) || n < 0) {
        std::fprintf(stderr, "cannot read the golden header from %s\n", argv[1]);
        return 2;
    }
    const long long per_image = runs * classes + hidden + 1;  // scores, spikes, cycles
    std::FILE *out = std::fopen(argv[2], "w");
    if (out == nullptr) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    std::fprintf(out, "%lld %lld %lld %lld %lld\n", n, inputs, runs, classes, hidden);

    auto context = std::make_unique<VerilatedContext>();
    auto core = std::make_unique<Vsnn_core>(context.get());
    Bus bus;
    uint64_t cycle = 0;
    long long word_mismatches = 0;
    core->clk = 0;
    core->start = 0;
    core->pix_valid = 0;
    core->out_ack = 0;
    core->eval();
#if VM_TRACE
    context->traceEverOn(true);
    auto trace = std::make_unique<VerilatedVcdC>();
    core->trace(trace.get(), 99);
    trace->open(argc > 4 ? argv[4] : "activity.vcd");
#endif
    for (long long image = 0; image < n; ++image) {
        std::vector<long long> pixels(static_cast<size_t>(inputs));
        long long skip = 0;
        golden >> skip;  // label
        for (auto &p : pixels) golden >> p;
        for (long long k = 0; k < per_image; ++k) golden >> skip;
        if (!golden) {
            std::fprintf(stderr, "golden vectors end early at image %lld\n", image);
            return 2;
        }
        std::vector<long long> beats;
        uint64_t first = 0, measured = 0;
        bool started = false;
        for (uint64_t guard = 0; guard < (1ull << 34); ++guard) {
            ++cycle;
            // Inputs of this cycle: what the bus answers now.
            core->start = started ? 0 : 1;
            core->pix_valid = 0;
            if (!bus.pixels.empty() && bus.pixels.front().first == cycle) {
                core->pix_valid = 1;
                core->pix_data = bus.pixels.front().second;
                bus.pixels.pop_front();
            }
            core->out_ack = 0;
            if (!bus.acks.empty() && bus.acks.front() == cycle) {
                core->out_ack = 1;
                bus.acks.pop_front();
            }
            core->clk = 0;
            core->eval();
#if VM_TRACE
            trace->dump(2 * cycle);
#endif
            // Outputs of this cycle (the core's outputs depend on its state and these inputs).
            if (!started) {
                started = true;
                first = cycle;
            }
            if (core->pix_req) {
                const long long addr = core->pix_addr;
                if (addr < 0 || addr >= inputs) {
                    std::fprintf(stderr, "pixel address %lld out of range\n", addr);
                    return 3;
                }
                bus.pixels.emplace_back(cycle + latency, static_cast<uint32_t>(pixels[addr]));
            }
            if (core->out_valid) {
                beats.push_back(static_cast<int32_t>(core->out_data));
                bus.acks.push_back(cycle + latency);
            }
            const bool done = core->done;
            core->clk = 1;
            core->eval();
#if VM_TRACE
            trace->dump(2 * cycle + 1);
#endif
            if (done) {
                measured = cycle - first + 1;
                break;
            }
        }
        if (measured == 0 || static_cast<long long>(beats.size()) != per_image) {
            std::fprintf(stderr, "image %lld: %zu output beats, expected %lld (done %s)\n", image,
                         beats.size(), per_image, measured ? "seen" : "never seen");
            return 3;
        }
        for (long long k = 0; k + 1 < per_image; ++k) std::fprintf(out, "%lld ", beats[k]);
        std::fprintf(out, "%llu\n", static_cast<unsigned long long>(measured));
        word_mismatches += static_cast<uint32_t>(beats.back()) != static_cast<uint32_t>(measured);
    }
    std::fclose(out);
    core->final();
#if VM_TRACE
    trace->close();
#endif
    std::printf("images %lld cycle_word_mismatches %lld cycles %llu\n", n, word_mismatches,
                static_cast<unsigned long long>(cycle));
    return 0;
}
