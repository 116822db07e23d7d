/* The glibc reference for the cold-start benchmark (ColdStartBenchmarks): a fresh process times its first
 * dlopen(RTLD_NOW|RTLD_LOCAL) of libz (and the dlclose after it) with CLOCK_MONOTONIC and prints the same lines as
 * bench/Loader.ColdStart: first-load-us, first-dispose-us, and since-spawn-us when LOADER_COLDSTART_SPAWNED holds the
 * parent's Stopwatch timestamp (nanoseconds of CLOCK_MONOTONIC on Linux). Built by the benchmark with gcc -O2. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/usr/lib/x86_64-linux-gnu/libz.so.1";
    long long start = now_ns();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    long long loaded = now_ns();
    if (handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    dlclose(handle);
    long long closed = now_ns();
    printf("first-load-us %lld\n", (loaded - start) / 1000);
    printf("first-dispose-us %lld\n", (closed - loaded) / 1000);
    const char *spawned = getenv("LOADER_COLDSTART_SPAWNED");
    if (spawned != NULL)
        printf("since-spawn-us %lld\n", (loaded - atoll(spawned)) / 1000);
    return 0;
}
