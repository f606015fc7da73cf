/*  The codec: types, header layout, and every drop reason of "Validation". */
#include "check.h"
#include <eventstorm.h>
#include <string.h>

static uint8_t body[4096];
static size_t body_size;

static void s_add (const bson_t *doc)
{
    memcpy (body + body_size, bson_get_data (doc), doc->len);
    body_size += doc->len;
}

static es_drop_reason_t s_decode (const char *topic, const uint8_t *header, size_t header_size,
                                  const uint8_t *data, size_t size, es_message_t *message)
{
    const uint8_t *frames[3] = {(const uint8_t *) topic, header, data};
    size_t sizes[3] = {strlen (topic), header_size, size};
    if (!header) {
        frames[1] = data;
        sizes[1] = size;
        return es_message_decode (frames, sizes, 2, message);
    }
    return es_message_decode (frames, sizes, 3, message);
}

/*  An event with a sub-document nested LEVELS deep, decoded. */
static es_drop_reason_t s_nested (int levels, es_message_t *message)
{
    bson_t *chain = bson_new ();
    bson_t children[levels];
    bson_t *parent = chain;
    bson_append_utf8 (chain, "type", 4, "app.x", 5);
    bson_append_date_time (chain, "time", 4, 0);
    bson_append_utf8 (chain, "host", 4, "h", 1);
    for (int i = 0; i < levels; i++) {
        bson_append_document_begin (parent, "a", 1, &children[i]);
        parent = &children[i];
    }
    for (int i = levels - 1; i >= 0; i--)
        bson_append_document_end (i ? &children[i - 1] : chain, &children[i]);
    static uint8_t copy[1 << 20];
    memcpy (copy, bson_get_data (chain), chain->len);
    uint8_t header[ES_HEADER_SIZE];
    es_header_encode (header, 1, 9, 0);
    es_drop_reason_t reason = s_decode ("app.x", header, 24, copy, chain->len, message);
    bson_destroy (chain);
    return reason;
}

/*  Whether the one document of a decoded MESSAGE is delivered. */
static int s_delivered (const es_message_t *message)
{
    size_t offset = 0;
    bson_t document;
    if (!es_message_next (message, &offset, &document))
        return -1;
    return es_envelope_valid (&document, message->topic, message->topic_size);
}

/*  An event whose time, or a date in an array in a field, is MS, decoded.   */
static es_drop_reason_t s_dated (int64_t ms, bool in_field, es_message_t *message)
{
    bson_t event = BSON_INITIALIZER, array;
    bson_append_utf8 (&event, "type", 4, "app.x", 5);
    bson_append_date_time (&event, "time", 4, in_field ? 0 : ms);
    bson_append_utf8 (&event, "host", 4, "h", 1);
    bson_append_array_begin (&event, "at", 2, &array);
    bson_append_date_time (&array, "0", 1, in_field ? ms : 0);
    bson_append_array_end (&event, &array);
    static uint8_t copy[1024];
    memcpy (copy, bson_get_data (&event), event.len);
    uint8_t header[ES_HEADER_SIZE];
    es_header_encode (header, 1, 9, 0);
    es_drop_reason_t reason = s_decode ("app.x", header, 24, copy, event.len, message);
    bson_destroy (&event);
    return reason;
}

int main (void)
{
    CHECK (es_type_valid ("http.hit", 8));
    CHECK (es_type_valid ("a_b-c.0", 7));
    CHECK (!es_type_valid ("Http.hit", 8));
    CHECK (!es_type_valid ("http..hit", 9));
    CHECK (!es_type_valid (".http", 5));
    CHECK (!es_type_valid ("http.", 5));
    CHECK (!es_type_valid ("", 0));
    char long_type[300];
    memset (long_type, 'a', sizeof long_type);
    CHECK (es_type_valid (long_type, 255));
    CHECK (!es_type_valid (long_type, 256));

    uint8_t header[ES_HEADER_SIZE];
    es_header_encode (header, 3, 0x0102030405060708ull, 0x1112131415ull);
    const uint8_t expected[ES_HEADER_SIZE] = {0xE5, 1, 0, 0, 3, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1,
                                              0x15, 0x14, 0x13, 0x12, 0x11, 0, 0, 0};
    CHECK (memcmp (header, expected, ES_HEADER_SIZE) == 0);

    bson_t *good = BCON_NEW ("type", "app.x", "time", BCON_DATE_TIME (1), "host", "h");
    bson_t *bad_envelope = BCON_NEW ("type", "app.y", "time", BCON_DATE_TIME (1), "host", "h");
    s_add (good);
    s_add (bad_envelope);
    s_add (good);
    es_message_t message;
    es_header_encode (header, 3, 9, 4);
    CHECK_EQ (s_decode ("app.x", header, 24, body, body_size, &message), ES_DROP_NONE);
    CHECK_EQ (message.count, 3);
    CHECK_EQ (message.source, 9);
    CHECK_EQ (message.first, 4);
    size_t offset = 0;
    bson_t doc;
    int valid = 0, documents = 0;
    while (es_message_next (&message, &offset, &doc)) {
        documents++;
        valid += es_envelope_valid (&doc, message.topic, message.topic_size);
    }
    CHECK_EQ (documents, 3);
    CHECK_EQ (valid, 2);

    /* Each reason, in the order the protocol checks them. */
    const uint8_t *frames4[4] = {(const uint8_t *) "a", header, body, body};
    size_t sizes4[4] = {1, 24, body_size, body_size};
    CHECK_EQ (es_message_decode (frames4, sizes4, 4, &message), ES_DROP_FRAMES);
    CHECK_EQ (es_message_decode (frames4, sizes4, 1, &message), ES_DROP_FRAMES);
    CHECK_EQ (s_decode ("App", header, 24, body, body_size, &message), ES_DROP_TOPIC);
    CHECK_EQ (s_decode ("app.x", header, 23, body, body_size, &message), ES_DROP_HEADER_SIZE);
    uint8_t broken[ES_HEADER_SIZE];
    memcpy (broken, header, 24);
    broken[0] = 0xE6;
    CHECK_EQ (s_decode ("app.x", broken, 24, body, body_size, &message), ES_DROP_MAGIC);
    memcpy (broken, header, 24);
    broken[1] = 2;
    CHECK_EQ (s_decode ("app.x", broken, 24, body, body_size, &message), ES_DROP_VERSION);
    memcpy (broken, header, 24);
    broken[3] = 0x80;
    CHECK_EQ (s_decode ("app.x", broken, 24, body, body_size, &message), ES_DROP_FLAGS);
    es_header_encode (broken, 3, 9, ES_MAX_INDEX);
    CHECK_EQ (s_decode ("app.x", broken, 24, body, body_size, &message), ES_DROP_INDEX);
    es_header_encode (broken, 3, 9, ES_MAX_INDEX - 1);
    CHECK_EQ (s_decode ("app.x", broken, 24, body, body_size, &message), ES_DROP_NONE);
    CHECK_EQ (s_decode ("app.x", header, 24, body, body_size - 1, &message), ES_DROP_OVERSIZED);
    CHECK_EQ (s_decode ("app.x", header, 24, body, body_size + 0, &message), ES_DROP_NONE);
    uint8_t tail[4096];
    memcpy (tail, body, body_size);
    tail[body_size] = 7;
    CHECK_EQ (s_decode ("app.x", header, 24, tail, body_size + 3, &message), ES_DROP_TRUNCATED);
    memcpy (tail + body_size, "\x04\0\0\0", 4);
    CHECK_EQ (s_decode ("app.x", header, 24, tail, body_size + 4, &message), ES_DROP_BSON);
    memcpy (tail, body, body_size);
    tail[good->len - 1] = 1;     /* first document misses its final NUL */
    CHECK_EQ (s_decode ("app.x", header, 24, tail, body_size, &message), ES_DROP_BSON);
    es_header_encode (broken, 2, 9, 4);
    CHECK_EQ (s_decode ("app.x", broken, 24, body, body_size, &message), ES_DROP_COUNT);
    CHECK_EQ (s_decode ("app.x", NULL, 0, body, 0, &message), ES_DROP_COUNT);
    CHECK_EQ (s_decode ("app.x", NULL, 0, body, body_size, &message), ES_DROP_NONE);
    CHECK (!message.has_header);
    CHECK_EQ (message.count, 3);
    es_header_encode (broken, 0, 9, 4);
    CHECK_EQ (s_decode ("app.x", broken, 24, body, 0, &message), ES_DROP_NONE);

    /* A well-tiled document whose inside is not BSON, and invalid UTF-8. */
    memcpy (tail, body, body_size);
    tail[4] = 0x42;              /* unknown element type */
    CHECK_EQ (s_decode ("app.x", header, 24, tail, body_size, &message), ES_DROP_BSON);
    bson_t *latin = bson_new ();
    bson_append_utf8 (latin, "type", 4, "app.x", 5);
    bson_append_utf8 (latin, "host", 4, "h\xe9", 2);
    es_header_encode (broken, 1, 9, 0);
    CHECK_EQ (s_decode ("app.x", broken, 24, bson_get_data (latin), latin->len, &message),
              ES_DROP_BSON);

    /* Deeper than 100 levels (the top is 1) is rejected one by one, not
       recursed into, and does not drop its message; 100 levels pass. */
    CHECK_EQ (s_nested (20, &message), ES_DROP_NONE);
    CHECK_EQ (s_delivered (&message), 1);
    CHECK_EQ (s_nested (99, &message), ES_DROP_NONE);
    CHECK_EQ (s_delivered (&message), 1);
    CHECK_EQ (s_nested (100, &message), ES_DROP_NONE);
    CHECK_EQ (s_delivered (&message), 0);
    CHECK_EQ (s_nested (5000, &message), ES_DROP_NONE);
    CHECK_EQ (s_delivered (&message), 0);

    /* A date beyond a JavaScript Date's range, as the time or in a field, is
       rejected; at the edge it is delivered. */
    for (int in_field = 0; in_field < 2; in_field++) {
        CHECK_EQ (s_dated (8640000000000000LL, in_field, &message), ES_DROP_NONE);
        CHECK_EQ (s_delivered (&message), 1);
        CHECK_EQ (s_dated (-8640000000000000LL, in_field, &message), ES_DROP_NONE);
        CHECK_EQ (s_delivered (&message), 1);
        CHECK_EQ (s_dated (8640000000000001LL, in_field, &message), ES_DROP_NONE);
        CHECK_EQ (s_delivered (&message), 0);
        CHECK_EQ (s_dated (INT64_MIN, in_field, &message), ES_DROP_NONE);
        CHECK_EQ (s_delivered (&message), 0);
    }
    CHECK_EQ (strcmp (es_drop_reason_name (ES_DROP_HEADER_SIZE), "header_size"), 0);
    CHECK_EQ (strcmp (es_drop_reason_name (ES_DROP_COUNT), "count"), 0);
    bson_destroy (good);
    bson_destroy (bad_envelope);
    bson_destroy (latin);
    printf ("codec: ok\n");
    return 0;
}
