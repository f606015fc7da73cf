/*  Reading docs/vectors (JSON files) (the format of docs/vectors/README.md). */
#ifndef ES_VECTORS_H_INCLUDED
#define ES_VECTORS_H_INCLUDED
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <eventstorm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  Reads a whole JSON file into BSON (NULL with ERROR set on failure). */
static bson_t *bson_new_from_json_file (const char *path, bson_error_t *error)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        bson_set_error (error, 0, 0, "cannot open %s", path);
        return NULL;
    }
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = malloc ((size_t) size + 1);
    size_t got = fread (text, 1, (size_t) size, file);
    fclose (file);
    text[got] = 0;
    bson_t *json = bson_new_from_json ((const uint8_t *) text, (ssize_t) got, error);
    free (text);
    return json;
}

typedef struct {
    char name[256];
    bson_t *json;               /* the whole file */
    size_t n_frames;
    uint8_t *frames[8];
    size_t sizes[8];
} vector_t;

static int s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*  Loads one vector; returns 0 on a file that does not follow the format. */
static int vector_load (const char *dir, const char *name, vector_t *vector)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    snprintf (vector->name, sizeof vector->name, "%s", name);
    bson_error_t error;
    vector->json = bson_new_from_json_file (path, &error);
    vector->n_frames = 0;
    if (!vector->json) {
        fprintf (stderr, "%s: %s\n", name, error.message);
        return 0;
    }
    bson_iter_t iter, frames;
    if (!bson_iter_init_find (&iter, vector->json, "frames") || !bson_iter_recurse (&iter, &frames))
        return 0;
    while (bson_iter_next (&frames) && vector->n_frames < 8) {
        uint32_t length;
        const char *hex = bson_iter_utf8 (&frames, &length);
        if (!hex || length % 2)
            return 0;
        uint8_t *bytes = malloc (length / 2 + 1);
        for (uint32_t i = 0; i < length / 2; i++) {
            int high = s_hex (hex[2 * i]), low = s_hex (hex[2 * i + 1]);
            if (high < 0 || low < 0) {
                free (bytes);
                return 0;
            }
            bytes[i] = (uint8_t) (high << 4 | low);
        }
        vector->frames[vector->n_frames] = bytes;
        vector->sizes[vector->n_frames++] = length / 2;
    }
    return 1;
}

static void vector_free (vector_t *vector)
{
    for (size_t i = 0; i < vector->n_frames; i++)
        free (vector->frames[i]);
    if (vector->json)
        bson_destroy (vector->json);
    vector->json = NULL;
    vector->n_frames = 0;
}

#endif
