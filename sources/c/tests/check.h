/*  A minimal assertion for the CTest programs: prints where and exits 1. */
#ifndef ES_CHECK_H_INCLUDED
#define ES_CHECK_H_INCLUDED
#include <stdio.h>
#include <stdlib.h>

#define CHECK(condition)                                                                \
    do {                                                                                \
        if (!(condition)) {                                                             \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            exit (1);                                                                   \
        }                                                                               \
    } while (0)

#define CHECK_EQ(actual, expected)                                                      \
    do {                                                                                \
        long long a_ = (long long) (actual), e_ = (long long) (expected);               \
        if (a_ != e_) {                                                                 \
            fprintf (stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__,  \
                     #actual, a_, e_);                                                  \
            exit (1);                                                                   \
        }                                                                               \
    } while (0)
#endif
