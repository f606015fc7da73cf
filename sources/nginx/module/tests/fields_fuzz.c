/*
 * fields_fuzz.c - feeds random and mutated variable values (request lines, headers,
 * upstream lists) of every kind to es_field_append, under ASan + UBSan when built so:
 * every document must stay valid BSON with valid UTF-8 strings.
 *
 *   cc -fsanitize=address,undefined fields_fuzz.c ../ngx_http_eventstorm_fields.c \
 *      $(pkg-config --cflags --libs libbson-1.0) -lm -o fields_fuzz && ./fields_fuzz 1000000
 */
#include "../ngx_http_eventstorm_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t state = 42;

static uint32_t next (void)   /* xorshift32: reproducible runs */
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static const char *seeds[] = {
    "GET /a?b=1 HTTP/1.1", "POST * HTTP/2.0", "get /x", "\x16\x03\x01\x00\xa5", "-", "",
    "0.001, 0.002 : 0.003", "-, 0.5", "200", "502, 404", "caf\xc3\xa9 \xe2\x9c\x93",
    "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "1e308", "99999999999", "0.0005, -",
    "OPTIONS  HTTP/1.1", "A B C HTTP/1.", " : , ", "HTTP/1.1",
};

int main (int argc, char **argv)
{
    long rounds = argc > 1 ? atol (argv[1]) : 100000;
    static const es_field_kind_t kinds[] = {
        ES_KIND_STRING, ES_KIND_REQUEST, ES_KIND_INTEGER, ES_KIND_DECIMAL,
        ES_KIND_LIST_SUM, ES_KIND_LIST_SUM_INT, ES_KIND_LIST_LAST
    };
    unsigned char buffer[512];
    for (long round = 0; round < rounds; round++) {
        size_t len;
        if (next () % 2) {
            const char *seed = seeds[next () % (sizeof seeds / sizeof seeds[0])];
            len = strlen (seed);
            memcpy (buffer, seed, len);
            size_t mutations = next () % 4;
            for (size_t m = 0; m < mutations && len < sizeof buffer - 1; m++) {
                size_t at = len ? next () % (len + 1) : 0;
                if (next () % 2 && at < len)
                    buffer[at] = (unsigned char) next ();
                else {
                    memmove (buffer + at + 1, buffer + at, len - at);
                    buffer[at] = " ,:-.0123456789?/H\xc3\xff"[next () % 20];
                    len++;
                }
            }
        }
        else {
            len = next () % 64;
            for (size_t i = 0; i < len; i++)
                buffer[i] = (unsigned char) (next () % 4 ? (uint32_t) " ,:-.0123456789?/HTP"[next () % 20]
                                                         : next ());
        }
        bson_t doc = BSON_INITIALIZER;
        es_field_append (&doc, "field", kinds[next () % 7], buffer, len);
        size_t offset;
        if (!bson_validate (&doc, BSON_VALIDATE_UTF8 | BSON_VALIDATE_UTF8_ALLOW_NULL, &offset)) {
            fprintf (stderr, "round %ld: invalid BSON at offset %zu from %zu bytes\n", round,
                     offset, len);
            return 1;
        }
        bson_destroy (&doc);
    }
    /* Numbers: whatever path reads them, the value is strtod's, bit for bit. */
    for (long round = 0; round < rounds; round++) {
        char text[40];
        size_t len = 0;
        size_t whole = 1 + next () % 17, fraction = next () % 3 ? next () % 8 : 0;
        for (size_t i = 0; i < whole; i++)
            text[len++] = (char) ('0' + next () % 10);
        if (fraction) {
            text[len++] = '.';
            for (size_t i = 0; i < fraction; i++)
                text[len++] = (char) ('0' + next () % 10);
        }
        text[len] = '\0';
        char *end;
        double expected = strtod (text, &end);
        bson_t doc = BSON_INITIALIZER;
        es_field_append (&doc, "n", ES_KIND_DECIMAL, (const unsigned char *) text, len);
        bson_iter_t iter;
        if (!bson_iter_init_find (&iter, &doc, "n")) {
            fprintf (stderr, "number %s: no field\n", text);
            return 1;
        }
        double got = BSON_ITER_HOLDS_DOUBLE (&iter) ? bson_iter_double (&iter)
                                                    : (double) bson_iter_as_int64 (&iter);
        if (memcmp (&got, &expected, sizeof got) != 0) {
            fprintf (stderr, "number %s: %.17g, strtod %.17g\n", text, got, expected);
            return 1;
        }
        bson_destroy (&doc);
    }
    printf ("fields_fuzz: %ld values, every document valid; %ld numbers as strtod reads them\n",
            rounds, rounds);
    return 0;
}
