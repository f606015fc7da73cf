/*  Deterministic mutation fuzzing of the decoder: N messages (argument 2),
    seeded from docs/vectors (argument 1) and from built-in messages, each
    mutated and decoded; valid results are walked as a collector would.
    With a directory as argument 3, the seeds are first written there as
    inputs of the libFuzzer target (decode_fuzzer.c); N may then be 0. Run
    under ASan + UBSan (ES_SANITIZE=ON), any memory error aborts the test. */
#include "check.h"
#include "vectors.h"
#include "walk.h"

#define MAX_SEEDS 256
#define MAX_SIZE 4096

typedef struct {
    size_t n_frames;
    uint8_t frames[4][MAX_SIZE];
    size_t sizes[4];
} sample_t;

static sample_t seeds[MAX_SEEDS];
static size_t n_seeds;
static uint64_t s_state = 0x9E3779B97F4A7C15ull;

static uint64_t s_random (void)
{
    /* xorshift64*: reproducible, so a crash can be replayed by its number */
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545F4914F6CDD1Dull;
}

static void s_add_seed (const uint8_t *const *frames, const size_t *sizes, size_t n)
{
    if (n_seeds == MAX_SEEDS || n > 4)
        return;
    sample_t *seed = &seeds[n_seeds];
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] > MAX_SIZE)
            return;
        memcpy (seed->frames[i], frames[i], sizes[i]);
        seed->sizes[i] = sizes[i];
    }
    seed->n_frames = n;
    n_seeds++;
}

static void s_builtin_seeds (void)
{
    uint8_t body[2048];
    size_t size = 0;
    bson_oid_t oid;
    bson_oid_init_from_string (&oid, "0102030405060708090a0b0c");
    for (int i = 0; i < 3; i++) {
        bson_t *doc = BCON_NEW ("type", "http.hit", "time", BCON_DATE_TIME (1700000000000),
                                "host", "web1", "status", BCON_INT32 (200), "bytes",
                                BCON_INT64 (1234), "ratio", BCON_DOUBLE (0.5), "ok",
                                BCON_BOOL (true), "tags", "[", "a", "b", "]", "sub", "{",
                                "k", BCON_NULL, "}", "bin", BCON_BIN (0, (uint8_t *) "xy", 2),
                                "re", BCON_REGEX ("^a", "i"), "oid",
                                BCON_OID (&oid));
        memcpy (body + size, bson_get_data (doc), doc->len);
        size += doc->len;
        bson_destroy (doc);
    }
    uint8_t header[ES_HEADER_SIZE];
    es_header_encode (header, 3, 42, 7);
    const uint8_t *frames[3] = {(const uint8_t *) "http.hit", header, body};
    size_t sizes[3] = {8, ES_HEADER_SIZE, size};
    s_add_seed (frames, sizes, 3);
    const uint8_t *legacy[2] = {(const uint8_t *) "http.hit", body};
    size_t legacy_sizes[2] = {8, size};
    s_add_seed (legacy, legacy_sizes, 2);
    es_header_encode (header, 0, 42, 10);
    sizes[2] = 0;
    s_add_seed (frames, sizes, 3);
}

static void s_mutate (sample_t *sample)
{
    int rounds = 1 + (int) (s_random () % 4);
    for (int r = 0; r < rounds; r++) {
        size_t f = s_random () % sample->n_frames;
        uint8_t *frame = sample->frames[f];
        size_t *size = &sample->sizes[f];
        switch (s_random () % 9) {
            case 0: if (*size) frame[s_random () % *size] ^= (uint8_t) (1 << (s_random () % 8)); break;
            case 1: if (*size) frame[s_random () % *size] = (uint8_t) s_random (); break;
            case 2: *size = *size ? s_random () % *size : 0; break;                 /* truncate */
            case 3: {                                                               /* insert */
                if (*size + 8 >= MAX_SIZE) break;
                size_t at = *size ? s_random () % *size : 0, n = 1 + s_random () % 8;
                memmove (frame + at + n, frame + at, *size - at);
                for (size_t i = 0; i < n; i++) frame[at + i] = (uint8_t) s_random ();
                *size += n;
                break;
            }
            case 4: {                                                               /* delete */
                if (*size < 2) break;
                size_t at = s_random () % *size, n = 1 + s_random () % (*size - at);
                memmove (frame + at, frame + at + n, *size - at - n);
                *size -= n;
                break;
            }
            case 5: {                                           /* interesting int32 */
                static const int32_t values[] = {0, 1, 4, 5, -1, INT32_MAX, INT32_MIN, 0x7F, 0x80};
                if (*size >= 4) {
                    int32_t v = values[s_random () % 9];
                    memcpy (frame + s_random () % (*size - 3), &v, 4);
                }
                break;
            }
            case 6:                                                           /* frame count */
                sample->n_frames = 1 + s_random () % 4;
                break;
            case 7: {                                        /* splice from another seed */
                sample_t *other = &seeds[s_random () % n_seeds];
                size_t g = s_random () % other->n_frames;
                memcpy (frame, other->frames[g], other->sizes[g]);
                *size = other->sizes[g];
                break;
            }
            default:                                                          /* random bytes */
                *size = s_random () % 64;
                for (size_t i = 0; i < *size; i++) frame[i] = (uint8_t) s_random ();
        }
    }
}

/*  Writes every seed into DIR as a libFuzzer input (walk.h's format).      */
static int s_write_seeds (const char *dir)
{
    for (size_t i = 0; i < n_seeds; i++) {
        char path[4096];
        snprintf (path, sizeof path, "%s/seed-%03zu", dir, i);
        const uint8_t *frames[WALK_MAX_FRAMES];
        for (size_t f = 0; f < seeds[i].n_frames; f++)
            frames[f] = seeds[i].frames[f];
        if (walk_write_input (path, frames, seeds[i].sizes, seeds[i].n_frames) != 0) {
            fprintf (stderr, "fuzz: cannot write %s\n", path);
            return -1;
        }
    }
    printf ("fuzz: %zu seeds written to %s\n", n_seeds, dir);
    return 0;
}

int main (int argc, char *argv[])
{
    s_builtin_seeds ();
    DIR *listing = argc > 1 ? opendir (argv[1]) : NULL;
    struct dirent *entry;
    while (listing && (entry = readdir (listing))) {
        if (!strstr (entry->d_name, ".json"))
            continue;
        vector_t vector = {0};
        if (vector_load (argv[1], entry->d_name, &vector))
            s_add_seed ((const uint8_t *const *) vector.frames, vector.sizes, vector.n_frames);
        vector_free (&vector);
    }
    if (listing)
        closedir (listing);
    if (argc > 3 && s_write_seeds (argv[3]) != 0)
        return 1;
    long total = argc > 2 ? atol (argv[2]) : 1000000;
    if (total == 0)
        return 0;
    static sample_t sample;
    long valid = 0, events = 0;
    long reasons[ES_DROP_REASONS] = {0};
    for (long n = 0; n < total; n++) {
        sample = seeds[s_random () % n_seeds];
        for (size_t i = sample.n_frames; i < 4; i++)
            sample.sizes[i] = 0;
        s_mutate (&sample);
        /* Each frame in its own exact-size allocation, so ASan sees any
           read past a frame's end. */
        uint8_t *frames[4];
        for (size_t i = 0; i < 4; i++) {
            frames[i] = malloc (sample.sizes[i] ? sample.sizes[i] : 1);
            memcpy (frames[i], sample.frames[i], sample.sizes[i]);
        }
        es_drop_reason_t reason = walk_message ((const uint8_t *const *) frames, sample.sizes,
                                                sample.n_frames, &events);
        reasons[reason]++;
        if (reason == ES_DROP_NONE)
            valid++;
        for (size_t i = 0; i < 4; i++)
            free (frames[i]);
    }
    printf ("fuzz: %ld messages from %zu seeds, %ld valid, %ld events; dropped:", total, n_seeds,
            valid, events);
    for (int r = 1; r < ES_DROP_REASONS; r++)
        printf (" %s=%ld", es_drop_reason_name ((es_drop_reason_t) r), reasons[r]);
    printf ("\n");
    CHECK (valid > 0);
    return 0;
}
