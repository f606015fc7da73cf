/*  Every vector of docs/vectors decodes as it says, and every valid one with
    a header and no rejected event encodes to exactly its frames. */
#include "check.h"
#include "vectors.h"

static int s_failures;

#define EXPECT(condition, ...)                                  \
    do {                                                        \
        if (!(condition)) {                                     \
            fprintf (stderr, "%s: ", vector->name);             \
            fprintf (stderr, __VA_ARGS__);                      \
            fprintf (stderr, "\n");                             \
            s_failures++;                                       \
            return;                                             \
        }                                                       \
    } while (0)

static uint64_t s_decimal (bson_iter_t *iter)
{
    return BSON_ITER_HOLDS_UTF8 (iter) ? strtoull (bson_iter_utf8 (iter, NULL), NULL, 10)
                                       : (uint64_t) bson_iter_as_int64 (iter);
}

static void s_check (vector_t *vector)
{
    bson_iter_t expect, iter;
    EXPECT (bson_iter_init_find (&iter, vector->json, "expect") &&
                bson_iter_recurse (&iter, &expect),
            "no expect");
    bson_t expected;
    uint32_t length;
    const uint8_t *data;
    bson_iter_document (&iter, &length, &data);
    bson_init_static (&expected, data, length);
    es_message_t message;
    es_drop_reason_t reason = es_message_decode ((const uint8_t *const *) vector->frames,
                                                 vector->sizes, vector->n_frames, &message);
    EXPECT (bson_iter_init_find (&iter, &expected, "valid"), "no expect.valid");
    if (!bson_iter_as_bool (&iter)) {
        EXPECT (bson_iter_init_find (&iter, &expected, "reason"), "no expect.reason");
        const char *wanted = bson_iter_utf8 (&iter, NULL);
        EXPECT (strcmp (es_drop_reason_name (reason), wanted) == 0,
                "decoded with reason %s, expected %s", es_drop_reason_name (reason), wanted);
        return;
    }
    EXPECT (reason == ES_DROP_NONE, "dropped (%s), expected valid", es_drop_reason_name (reason));
    EXPECT (bson_iter_init_find (&iter, &expected, "topic") &&
                strlen (bson_iter_utf8 (&iter, NULL)) == message.topic_size &&
                memcmp (bson_iter_utf8 (&iter, NULL), message.topic, message.topic_size) == 0,
            "topic differs");
    bool has_header = bson_iter_init_find (&iter, &expected, "header") &&
                      BSON_ITER_HOLDS_DOCUMENT (&iter);
    EXPECT (has_header == (message.has_header != 0), "header presence differs");
    if (has_header) {
        bson_iter_t header, field;
        bson_iter_recurse (&iter, &header);
        uint64_t count = 0, source = 0, first = 0;
        while (bson_iter_next (&header)) {
            field = header;
            const char *key = bson_iter_key (&header);
            if (!strcmp (key, "count"))
                count = s_decimal (&field);
            else
            if (!strcmp (key, "source"))
                source = s_decimal (&field);
            else
            if (!strcmp (key, "first"))
                first = s_decimal (&field);
        }
        EXPECT (count == message.count && source == message.source && first == message.first,
                "header differs");
    }
    uint64_t rejected_expected = 0;
    if (bson_iter_init_find (&iter, &expected, "rejected"))
        rejected_expected = (uint64_t) bson_iter_as_int64 (&iter);
    bson_iter_t events;
    EXPECT (bson_iter_init_find (&iter, &expected, "events") && bson_iter_recurse (&iter, &events),
            "no expect.events");
    /* Decoding: the delivered documents are exactly the expected events. */
    size_t offset = 0;
    bson_t document;
    uint64_t rejected = 0, delivered = 0;
    bson_t encoded_body = BSON_INITIALIZER;     /* only as a byte buffer */
    uint8_t *body = malloc (vector->sizes[vector->n_frames - 1] + 1);
    size_t body_size = 0;
    while (es_message_next (&message, &offset, &document)) {
        if (!es_envelope_valid (&document, message.topic, message.topic_size)) {
            rejected++;
            continue;
        }
        EXPECT (bson_iter_next (&events) && BSON_ITER_HOLDS_DOCUMENT (&events),
                "more events delivered than expected");
        bson_iter_document (&events, &length, &data);
        EXPECT (length == document.len && memcmp (data, bson_get_data (&document), length) == 0,
                "event %" PRIu64 " differs from its canonical Extended JSON", delivered);
        memcpy (body + body_size, data, length);
        body_size += length;
        delivered++;
    }
    bson_destroy (&encoded_body);
    EXPECT (!bson_iter_next (&events), "fewer events delivered than expected");
    EXPECT (rejected == rejected_expected, "rejected %" PRIu64 ", expected %" PRIu64, rejected,
            rejected_expected);
    /* Encoding: header values and events give exactly the frames. */
    if (has_header && rejected == 0) {
        uint8_t header[ES_HEADER_SIZE];
        es_header_encode (header, message.count, message.source, message.first);
        EXPECT (vector->sizes[1] == ES_HEADER_SIZE &&
                    memcmp (header, vector->frames[1], ES_HEADER_SIZE) == 0,
                "encoded header differs");
        EXPECT (body_size == vector->sizes[2] && memcmp (body, vector->frames[2], body_size) == 0,
                "encoded body differs");
    }
    free (body);
}

int main (int argc, char *argv[])
{
    const char *dir = argc > 1 ? argv[1] : "docs/vectors";
    DIR *listing = opendir (dir);
    if (!listing) {
        fprintf (stderr, "vectors: cannot open %s\n", dir);
        return 1;
    }
    struct dirent *entry;
    int checked = 0;
    while ((entry = readdir (listing))) {
        size_t length = strlen (entry->d_name);
        if (length < 6 || strcmp (entry->d_name + length - 5, ".json") != 0)
            continue;
        vector_t vector = {0};
        if (!vector_load (dir, entry->d_name, &vector)) {
            fprintf (stderr, "%s: not a vector file\n", entry->d_name);
            s_failures++;
        }
        else
            s_check (&vector);
        vector_free (&vector);
        checked++;
    }
    closedir (listing);
    printf ("vectors: %d checked, %d failed\n", checked, s_failures);
    CHECK (checked >= 20);
    return s_failures ? 1 : 0;
}
