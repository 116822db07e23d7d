/* The glibc side of bench/Loader.Memory: holds the files listed in argv[1] (one path a line) through
 * dlopen(RTLD_NOW|RTLD_LOCAL), all at once. It speaks the same line protocol as the Loader side's child:
 *   "before" -> waits for a line -> loads -> "after LOADED FAILED" -> waits for a line -> "image START LENGTH" per
 *   object glibc mapped for them, "end" -> waits for a line -> exits. The parent reads /proc/PID/status and smaps meanwhile. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OBJECTS 65536
static unsigned long known[MAX_OBJECTS];
static int known_count;

static int is_known(unsigned long addr)
{
    for (int i = 0; i < known_count; i++)
        if (known[i] == addr)
            return 1;
    return 0;
}

static int remember(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size; (void)data;
    if (known_count < MAX_OBJECTS)
        known[known_count++] = (unsigned long)info->dlpi_addr + (unsigned long)info->dlpi_phdr;
    return 0;
}

static int print_new(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size; (void)data;
    if (is_known((unsigned long)info->dlpi_addr + (unsigned long)info->dlpi_phdr))
        return 0;
    unsigned long start = ~0UL, end = 0, page = 4096;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        unsigned long s = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
        unsigned long e = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
        if (s < start) start = s;
        if (e > end) end = e;
    }
    if (end > start)
        printf("image %lu %lu\n", start, end - start);
    return 0;
}

static void wait_for_line(void)
{
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: glibc-holder FILE-LIST [WARM-UP-FILE...]\n");
        return 2;
    }
    FILE *list = fopen(argv[1], "r");
    if (!list) {
        perror(argv[1]);
        return 2;
    }
    if (argc > 2) {
        /* The warm-up files loaded together and unloaded, before the first sample, as many rounds as the Loader side
         * makes (LoaderHolder.WarmUpRounds), and the same pause: what a process pays the first times it loads anything
         * (code paged in, buffers grown) is not counted as holding the set. */
        void *warm[argc];
        for (int round = 0; round < 50; round++) {
            for (int i = 2; i < argc; i++) {
                warm[i] = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
                if (!warm[i]) {
                    fprintf(stderr, "glibc-holder: warm-up: %s\n", dlerror());
                    return 2;
                }
            }
            for (int i = argc - 1; i >= 2; i--)
                dlclose(warm[i]);
        }
        sleep(1);
    }
    dl_iterate_phdr(remember, NULL);
    printf("before\n");
    fflush(stdout);
    wait_for_line();
    char path[4096];
    int loaded = 0, failed = 0;
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\n")] = 0;
        if (!*path)
            continue;
        if (dlopen(path, RTLD_NOW | RTLD_LOCAL))
            loaded++;
        else {
            failed++;
            fprintf(stderr, "glibc-holder: %s\n", dlerror());
        }
    }
    sleep(1); /* the Loader side's pause before its sample (LoaderHolder.WarmUpPause) */
    printf("after %d %d\n", loaded, failed);
    fflush(stdout);
    wait_for_line(); /* the parent samples now, and answers each line it is sent, as the Loader side's Say */
    dl_iterate_phdr(print_new, NULL);
    printf("end\n");
    fflush(stdout);
    wait_for_line();
    return 0;
}
