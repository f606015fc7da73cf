/*  Errors, comma lists, clocks and fork detection. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Thread_local char s_last_error[ES_ERROR_SIZE];

const char *es_last_error (void)
{
    return s_last_error;
}

/*  Both keep errno: a constructor's caller reads it after the message is made. */
void es_format_error (char *buffer, const char *format, ...)
{
    int code = errno;
    va_list args;
    va_start (args, format);
    vsnprintf (buffer, ES_ERROR_SIZE, format, args);
    va_end (args);
    errno = code;
}

void *es_fail (const char *format, ...)
{
    int code = errno;
    va_list args;
    va_start (args, format);
    vsnprintf (s_last_error, sizeof s_last_error, format, args);
    va_end (args);
    errno = code;
    return NULL;
}

void *es_null_errno (int code)
{
    errno = code;
    return NULL;
}

/*  Not isspace (): the program's locale could make a byte of a UTF-8 path
    blank, and the TypeScript and nginx sides trim ASCII blanks.             */
static bool s_blank (char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

void es_list_start (es_list_t *list, const char *text)
{
    list->next = text;
    list->index = 0;
}

es_list_step_t es_list_next (es_list_t *list, char *entry, size_t size)
{
    const char *start = list->next;
    if (!start)
        return ES_LIST_END;
    const char *comma = strchr (start, ',');
    size_t length = comma ? (size_t) (comma - start) : strlen (start);
    list->next = comma ? comma + 1 : NULL;
    list->index++;
    while (length && s_blank (*start)) {
        start++;
        length--;
    }
    while (length && s_blank (start[length - 1]))
        length--;
    if (size)
        entry[0] = 0;
    if (length == 0 || length >= size) {
        errno = EINVAL;
        return length == 0 ? ES_LIST_EMPTY : ES_LIST_TOO_LONG;
    }
    memcpy (entry, start, length);
    entry[length] = 0;
    return ES_LIST_ENTRY;
}

/*  getpid () is a system call on current glibc: too slow for every emit at
    millions per second, so the child side of fork bumps a counter instead. */
static volatile unsigned s_generation;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_in_child (void)
{
    s_generation++;
}

static void s_register (void)
{
    pthread_atfork (NULL, NULL, s_in_child);
}

unsigned es_fork_generation (void)
{
    pthread_once (&s_once, s_register);
    return s_generation;
}

int64_t es_monotonic_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t es_coarse_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t es_realtime_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
