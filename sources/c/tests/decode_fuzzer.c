/*  Coverage-guided fuzzing of the decoder with libFuzzer (ES_LIBFUZZER=ON,
    clang): each input is a message in walk.h's format, decoded and walked
    as a collector would. Seed it with `fuzz_test VECTORS 0 DIR`.           */
#include "walk.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *frames[WALK_MAX_FRAMES];
    size_t sizes[WALK_MAX_FRAMES];
    size_t n = walk_read_input (data, size, frames, sizes);
    long events = 0;
    walk_message ((const uint8_t *const *) frames, sizes, n, &events);
    for (size_t i = 0; i < n; i++)
        free (frames[i]);
    return 0;
}
