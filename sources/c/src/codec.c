/*  The message format of docs/protocol.md: header, validation, documents. */
#include "internal.h"

#include <string.h>

/*  Deeper documents are rejected before libbson sees them: its validator
    recurses, and a 16 MiB message of nested documents would exhaust the
    stack of the host program.                                               */
#define MAX_DEPTH 100

typedef es_shape_t shape_t;

static const char *s_reason_names[ES_DROP_REASONS] = {
    "none", "frames", "topic", "header_size", "magic", "version", "flags",
    "index", "bson", "oversized", "truncated", "count", "owner"};

const char *es_drop_reason_name (es_drop_reason_t reason)
{
    if ((int) reason < 0 || reason >= ES_DROP_REASONS)
        return "unknown";
    return s_reason_names[reason];
}

int es_type_valid (const char *type, size_t length)
{
    if (!type || length == 0 || length > ES_MAX_TYPE_BYTES)
        return 0;
    bool segment_empty = true;
    for (size_t i = 0; i < length; i++) {
        char c = type[i];
        if (c == '.') {
            if (segment_empty)
                return 0;
            segment_empty = true;
        }
        else
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
            segment_empty = false;
        else
            return 0;
    }
    return !segment_empty;
}

void es_header_encode (uint8_t header[ES_HEADER_SIZE], uint32_t count, uint64_t source,
                       uint64_t first)
{
    if (!header)
        return;
    header[0] = ES_MAGIC;
    header[1] = ES_PROTOCOL_VERSION;
    header[2] = header[3] = 0;
    for (int i = 0; i < 4; i++)
        header[4 + i] = (uint8_t) (count >> (8 * i));
    for (int i = 0; i < 8; i++) {
        header[8 + i] = (uint8_t) (source >> (8 * i));
        header[16 + i] = (uint8_t) (first >> (8 * i));
    }
}

/*  Size of an element's value starting at V with LEFT bytes, or -1. Nested
    documents report their own length (walked by the caller).              */
static int64_t s_value_size (uint8_t kind, const uint8_t *v, int64_t left)
{
    switch (kind) {
        case 0x01: case 0x09: case 0x11: case 0x12: return 8;
        case 0x10: return 4;
        case 0x08: return 1;
        case 0x07: return 12;
        case 0x13: return 16;
        case 0x06: case 0x0A: case 0x7F: case 0xFF: return 0;
        case 0x02: case 0x0D: case 0x0E:
            return left < 4 ? -1 : 4 + (int64_t) (int32_t) es_le32 (v);
        case 0x03: case 0x04: case 0x0F:
            return left < 4 ? -1 : (int64_t) (int32_t) es_le32 (v);
        case 0x05: return left < 4 ? -1 : 5 + (int64_t) (int32_t) es_le32 (v);
        case 0x0B: {
            const uint8_t *end1 = memchr (v, 0, (size_t) left);
            if (!end1)
                return -1;
            const uint8_t *end2 = memchr (end1 + 1, 0, (size_t) (left - (end1 + 1 - v)));
            return end2 ? end2 + 1 - v : -1;
        }
        case 0x0C: return left < 4 ? -1 : 4 + (int64_t) (int32_t) es_le32 (v) + 12;
        default: return -1;
    }
}

/*  Strict UTF-8 (no overlong forms, surrogates or code points past
    U+10FFFF), the receivers' rule; libbson's check is laxer on some libbson
    versions.                                                                */
static inline bool s_utf8 (const uint8_t *text, size_t size)
{
    for (size_t i = 0; i < size;) {
        /* Most text is ASCII: eight bytes at a time while it is. */
        uint64_t word;
        while (i + 8 <= size && (memcpy (&word, text + i, 8), !(word & 0x8080808080808080ull)))
            i += 8;
        if (i == size)
            break;
        uint8_t c = text[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t code;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            code = c & 0x1F;
        }
        else
        if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            code = c & 0x0F;
        }
        else
        if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            code = c & 0x07;
        }
        else
            return false;
        if (size - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((text[i + k] & 0xC0) != 0x80)
                return false;
            code = code << 6 | (text[i + k] & 0x3F);
        }
        if ((n == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
            (n == 3 && (code < 0x10000 || code > 0x10FFFF)))
            return false;
        i += n + 1;
    }
    return true;
}

bool es_utf8_check (const uint8_t *text, size_t size)
{
    return s_utf8 (text, size);
}

/*  Structural walk of one document without recursion: element sizes fit,
    names and strings are UTF-8, nesting stays within MAX_DEPTH levels (the
    top level is 1), dates within ES_MAX_DATE_MS. libbson then checks the rest.
    With SEEN (the emitter's check), a bool other than 0 or 1 is malformed
    too, and *SEEN gets SEEN_RARE when an element needs libbson's iterator
    (the types whose inner layout or strings this walk does not read), and
    SEEN_ENVELOPE when a top-level name is type, time or host.              */
#define SEEN_RARE 1
#define SEEN_ENVELOPE 2
static shape_t s_shape (const uint8_t *doc, size_t size, unsigned *seen)
{
    if (size < 5 || size > INT32_MAX || (size_t) (int32_t) es_le32 (doc) != size ||
        doc[size - 1] != 0)
        return SHAPE_MALFORMED;
    size_t ends[MAX_DEPTH];     /* end offset of each open document */
    int depth = 0;
    bool far_date = false;
    ends[0] = size;
    size_t at = 4;
    while (true) {
        size_t end = ends[depth];
        if (at >= end)
            return SHAPE_MALFORMED;
        uint8_t kind = doc[at++];
        if (kind == 0) {
            if (at != end)
                return SHAPE_MALFORMED;
            if (depth == 0)
                return far_date ? SHAPE_FAR_DATE : SHAPE_OK;
            depth--;
            continue;
        }
        /* Names are short and mostly ASCII: scanned inline, decoded only
           when a byte has its high bit set. */
        const uint8_t *name = doc + at, *name_end = name, *stop = doc + end;
        uint8_t high = 0;
        while (name_end < stop && *name_end)
            high |= *name_end++;
        if (name_end == stop || ((high & 0x80) && !s_utf8 (name, (size_t) (name_end - name))))
            return SHAPE_MALFORMED;
        at = (size_t) (name_end - doc) + 1;
        int64_t left = (int64_t) (end - at);
        int64_t value = s_value_size (kind, doc + at, left);
        if (value < 0 || value > left)
            return SHAPE_MALFORMED;
        if (kind == 0x03 || kind == 0x04) {
            if (value < 5 || doc[at + (size_t) value - 1] != 0)
                return SHAPE_MALFORMED;
            if (depth + 1 >= MAX_DEPTH)
                return SHAPE_TOO_DEEP;
            ends[++depth] = at + (size_t) value;
            at += 4;
            continue;
        }
        if ((kind == 0x02 || kind == 0x0D || kind == 0x0E) &&
            (value < 5 || doc[at + (size_t) value - 1] != 0 ||
             !s_utf8 (doc + at + 4, (size_t) value - 5)))
            return SHAPE_MALFORMED;
        if (kind == 0x09) {
            int64_t ms = (int64_t) es_le64 (doc + at);
            if (ms > ES_MAX_DATE_MS || ms < -ES_MAX_DATE_MS)
                far_date = true;
        }
        if (seen) {
            if (kind == 0x08 && doc[at] > 1)
                return SHAPE_MALFORMED;
            if (kind == 0x0B || kind == 0x0C || kind == 0x0F || (kind == 0x05 && doc[at + 4] == 2))
                *seen |= SEEN_RARE;
            if (depth == 0 && name_end - name == 4 &&
                (!memcmp (name, "type", 4) || !memcmp (name, "time", 4) ||
                 !memcmp (name, "host", 4)))
                *seen |= SEEN_ENVELOPE;
        }
        at += (size_t) value;
    }
}

/*  Every element through libbson's iterator, which checks each element's
    own encoding (what bson_validate checks with the receivers' flags, at a
    tenth of its cost: bson_validate takes about 1 us for an event of 230
    bytes on libbson 1.23), and the UTF-8 of the strings that s_shape does
    not read: regular expressions, DBPointer names, code with scope (whose
    scope is walked as a document). DEPTH bounds the recursion.             */
static bool s_walk (bson_iter_t *iter, int depth)
{
    if (depth > MAX_DEPTH)
        return false;
    while (bson_iter_next (iter)) {
        switch (bson_iter_type (iter)) {
            case BSON_TYPE_DOCUMENT:
            case BSON_TYPE_ARRAY: {
                bson_iter_t child;
                if (!bson_iter_recurse (iter, &child) || !s_walk (&child, depth + 1))
                    return false;
                break;
            }
            case BSON_TYPE_REGEX: {
                const char *options;
                const char *pattern = bson_iter_regex (iter, &options);
                if (!es_utf8_check ((const uint8_t *) pattern, strlen (pattern)) ||
                    !es_utf8_check ((const uint8_t *) options, strlen (options)))
                    return false;
                break;
            }
            case BSON_TYPE_DBPOINTER: {
                uint32_t length;
                const char *collection;
                const bson_oid_t *oid;
                bson_iter_dbpointer (iter, &length, &collection, &oid);
                if (!collection || !es_utf8_check ((const uint8_t *) collection, length))
                    return false;
                break;
            }
            case BSON_TYPE_CODEWSCOPE: {
                uint32_t length, scope_length;
                const uint8_t *scope;
                const char *code = bson_iter_codewscope (iter, &length, &scope_length, &scope);
                bson_t inner;
                bson_iter_t child;
                if (!code || !es_utf8_check ((const uint8_t *) code, length) ||
                    s_shape (scope, scope_length, NULL) != SHAPE_OK ||
                    !bson_init_static (&inner, scope, scope_length) ||
                    !bson_iter_init (&child, &inner) || !s_walk (&child, depth + 1))
                    return false;
                break;
            }
            default:
                break;
        }
    }
    return iter->err_off == 0;
}

es_shape_t es_fields_shape (const bson_t *fields, bool *envelope)
{
    *envelope = false;
    /* A bson_t that bson_init_static refused holds no data to look at. */
    if (fields->len < 5)
        return SHAPE_MALFORMED;
    unsigned seen = 0;
    shape_t shape = s_shape (bson_get_data (fields), fields->len, &seen);
    if (shape != SHAPE_OK && shape != SHAPE_FAR_DATE)
        return shape;
    bson_iter_t iter;
    if ((seen & SEEN_RARE) && (!bson_iter_init (&iter, fields) || !s_walk (&iter, 1)))
        return SHAPE_MALFORMED;
    *envelope = (seen & SEEN_ENVELOPE) != 0;
    return shape;
}

static bool s_document_ok (const uint8_t *doc, size_t size)
{
    shape_t shape = s_shape (doc, size, NULL);
    if (shape == SHAPE_MALFORMED)
        return false;
    if (shape == SHAPE_TOO_DEEP)
        return true;            /* rejected by es_envelope_valid, never decoded */
    bson_t bson;
    if (!bson_init_static (&bson, doc, size))
        return false;
    return bson_validate (&bson, BSON_VALIDATE_UTF8 | BSON_VALIDATE_UTF8_ALLOW_NULL, NULL);
}

es_drop_reason_t es_message_decode (const uint8_t *const *frames, const size_t *sizes,
                                    size_t n_frames, es_message_t *message)
{
    if (!message)
        return ES_DROP_FRAMES;
    memset (message, 0, sizeof *message);
    if ((n_frames != 2 && n_frames != 3) || !frames || !sizes)
        return ES_DROP_FRAMES;
    for (size_t i = 0; i < n_frames; i++)
        if (!frames[i] && sizes[i])
            return ES_DROP_FRAMES;
    if (!es_type_valid ((const char *) frames[0], sizes[0]))
        return ES_DROP_TOPIC;
    message->topic = frames[0];
    message->topic_size = sizes[0];
    if (n_frames == 3) {
        const uint8_t *h = frames[1];
        if (sizes[1] != ES_HEADER_SIZE)
            return ES_DROP_HEADER_SIZE;
        if (h[0] != ES_MAGIC)
            return ES_DROP_MAGIC;
        if (h[1] != ES_PROTOCOL_VERSION)
            return ES_DROP_VERSION;
        message->flags = (uint16_t) (h[2] | h[3] << 8);
        if (message->flags != 0)
            return ES_DROP_FLAGS;
        message->count = es_le32 (h + 4);
        message->source = es_le64 (h + 8);
        message->first = es_le64 (h + 16);
        if (message->first >= ES_MAX_INDEX)
            return ES_DROP_INDEX;
        message->has_header = 1;
    }
    const uint8_t *body = frames[n_frames - 1];
    size_t size = sizes[n_frames - 1];
    message->body = body;
    message->body_size = size;
    uint64_t documents = 0;
    for (size_t at = 0; at < size;) {
        size_t left = size - at;
        if (left < 4)
            return ES_DROP_TRUNCATED;
        int32_t length = (int32_t) es_le32 (body + at);
        if (length < 5)
            return ES_DROP_BSON;
        if ((size_t) length > left)
            return ES_DROP_OVERSIZED;
        if (body[at + (size_t) length - 1] != 0)
            return ES_DROP_BSON;
        at += (size_t) length;
        documents++;
    }
    if (!message->has_header) {
        if (documents == 0)
            return ES_DROP_COUNT;
        message->count = (uint32_t) documents;
    }
    else
    if (documents != message->count)
        return ES_DROP_COUNT;
    for (size_t at = 0; at < size;) {
        size_t length = es_le32 (body + at);
        if (!s_document_ok (body + at, length))
            return ES_DROP_BSON;
        at += length;
    }
    return ES_DROP_NONE;
}

int es_message_next (const es_message_t *message, size_t *offset, bson_t *document)
{
    if (!message || !offset || !document || *offset + 4 > message->body_size)
        return 0;
    size_t length = es_le32 (message->body + *offset);
    if (!bson_init_static (document, message->body + *offset, length))
        return 0;
    *offset += length;
    return 1;
}

int es_envelope_valid (const bson_t *document, const uint8_t *topic, size_t topic_size)
{
    /* 0, not ES_EINVAL, for NULL: callers test it as a truth value. */
    if (!document || (!topic && topic_size))
        return 0;
    if (s_shape (bson_get_data (document), document->len, NULL) != SHAPE_OK)
        return 0;
    bson_iter_t iter;
    if (!bson_iter_init (&iter, document))
        return 0;
    int seen = 0;
    while (bson_iter_next (&iter)) {
        const char *key = bson_iter_key (&iter);
        if (strcmp (key, "type") == 0) {
            uint32_t length;
            if (!BSON_ITER_HOLDS_UTF8 (&iter))
                return 0;
            const char *type = bson_iter_utf8 (&iter, &length);
            if (length != topic_size || memcmp (type, topic, topic_size) != 0)
                return 0;
            seen |= 1;
        }
        else
        if (strcmp (key, "time") == 0) {
            if (!BSON_ITER_HOLDS_DATE_TIME (&iter))
                return 0;
            seen |= 2;
        }
        else
        if (strcmp (key, "host") == 0) {
            if (!BSON_ITER_HOLDS_UTF8 (&iter))
                return 0;
            seen |= 4;
        }
    }
    return seen == 7;
}
