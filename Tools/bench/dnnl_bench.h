// What the hand-run oneDNN benches in this folder share: a check that stops at the first failed
// oneDNN call, naming it, a monotonic clock in nanoseconds, and memory filled with a fixed
// pattern.
#ifndef ZOO_DNNL_BENCH_H
#define ZOO_DNNL_BENCH_H

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        dnnl_status_t status_ = (call);                                              \
        if (status_ != dnnl_success) {                                               \
            fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #call, status_); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static inline double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

/// A memory object of `md` on `engine`, its floats spread evenly over [low, low + span).
static inline dnnl_memory_t filled_memory(dnnl_engine_t engine, const dnnl_memory_desc_t *md, float low, float span) {
    dnnl_memory_t memory;
    CHECK(dnnl_memory_create(&memory, md, engine, DNNL_MEMORY_ALLOCATE));
    float *data;
    CHECK(dnnl_memory_get_data_handle(memory, (void **)&data));
    size_t count = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t i = 0; i < count; i++) data[i] = low + span * (float)((i * 2654435761u) % 1000) / 1000.0f;
    return memory;
}

#endif
