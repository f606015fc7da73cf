/*  What both fuzzers do with a message: decode it, and walk a valid one as a
    collector and a sink would. Shared so the two exercise the same code. */
#ifndef ES_WALK_H_INCLUDED
#define ES_WALK_H_INCLUDED
#include <eventstorm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Decodes FRAMES and renders each event a receiver would deliver; returns
    the drop reason, and adds the events delivered to *EVENTS.              */
static inline es_drop_reason_t walk_message (const uint8_t *const *frames,
                                             const size_t *sizes, size_t n_frames, long *events)
{
    es_message_t message;
    es_drop_reason_t reason = es_message_decode (frames, sizes, n_frames, &message);
    if (reason != ES_DROP_NONE)
        return reason;
    size_t offset = 0;
    bson_t document;
    while (es_message_next (&message, &offset, &document)) {
        if (es_envelope_valid (&document, message.topic, message.topic_size)) {
            /* What a sink does next: render it (may refuse, never crash). */
            char *json = bson_as_canonical_extended_json (&document, NULL);
            bson_free (json);
            (*events)++;
        }
    }
    return reason;
}

/*  The libFuzzer input format of a message: one byte whose low two bits are
    the frame count less one, then each frame but the last as a 16-bit
    little-endian length and its bytes, then the last frame (the rest).
    Any input reads as some message: a short length takes what is left.     */
#define WALK_MAX_FRAMES 4

/*  Splits DATA into frames, each copied to an allocation of its exact size
    (so ASan sees a read past a frame's end); returns the frame count.      */
static inline size_t walk_read_input (const uint8_t *data, size_t size,
                                      uint8_t *frames[WALK_MAX_FRAMES],
                                      size_t sizes[WALK_MAX_FRAMES])
{
    size_t n = size ? 1 + (data[0] & 3) : 1;
    if (size) {
        data++;
        size--;
    }
    for (size_t i = 0; i < n; i++) {
        size_t length = size;
        if (i + 1 < n && size >= 2) {
            length = (size_t) data[0] | (size_t) data[1] << 8;
            data += 2;
            size -= 2;
            if (length > size)
                length = size;
        }
        frames[i] = malloc (length ? length : 1);
        memcpy (frames[i], data, length);
        sizes[i] = length;
        data += length;
        size -= length;
    }
    return n;
}

/*  Writes a message of 1 to 4 frames (each but the last under 64 KiB) as
    one libFuzzer input file at PATH; returns 0 on success.                 */
static inline int walk_write_input (const char *path, const uint8_t *const *frames,
                                    const size_t *sizes, size_t n)
{
    FILE *file = fopen (path, "wb");
    if (!file)
        return -1;
    uint8_t count = (uint8_t) (n - 1);
    fwrite (&count, 1, 1, file);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n) {
            uint8_t length[2] = {(uint8_t) sizes[i], (uint8_t) (sizes[i] >> 8)};
            fwrite (length, 1, 2, file);
        }
        fwrite (frames[i], 1, sizes[i], file);
    }
    return fclose (file);
}
#endif
