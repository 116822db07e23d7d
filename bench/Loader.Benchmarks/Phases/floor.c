/* The physical floor of a load, for docs/benchmarks.md ("Where the time goes"): what any loader of this library must
 * pay, and nothing else. Per fresh copy of the file: open, one pread of the headers, fstat, one PROT_NONE
 * reservation, one MAP_FIXED overlay per PT_LOAD (a writable one of eight pages or more with MAP_POPULATE, as Loader maps
 * it: its copies made in the mmap, not a page fault each at the first write), the .bss (zero the tail of the last file page, anonymous pages for
 * the rest), close; then one pass over DT_RELA writing every target (a RELATIVE value is base + addend; a symbolic one
 * gets a placeholder: no symbol is looked up), mprotect of PT_GNU_RELRO, and munmap of the whole range. No symbol
 * lookup, no initializer, no bookkeeping. Compiled and run by `Loader.Benchmarks --phases`.
 *
 * usage: floor LIBRARY ROUNDS TMPDIR   (prints the median in microseconds)
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define DOWN(x) ((x) & ~(PAGE - 1))
#define UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    struct stat st;
    if (in < 0 || out < 0 || fstat(in, &st) != 0) { perror("copy"); exit(1); }
    off_t offset = 0;
    while (offset < st.st_size)
        if (sendfile(out, in, &offset, st.st_size - offset) <= 0) { perror("sendfile"); exit(1); }
    close(in);
    close(out);
}

static int prot_of(uint32_t flags)
{
    return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) | ((flags & PF_X) ? PROT_EXEC : 0);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* One load and unload of PATH; returns 0 on success. */
static int load_once(const char *path)
{
    unsigned char headers[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (pread(fd, headers, sizeof headers, 0) < (ssize_t)sizeof(Elf64_Ehdr)) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    Elf64_Ehdr *eh = (Elf64_Ehdr *)headers;
    if (eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr) > sizeof headers) return -1;
    Elf64_Phdr *ph = (Elf64_Phdr *)(headers + eh->e_phoff);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD) {
            if (DOWN(ph[i].p_vaddr) < lo) lo = DOWN(ph[i].p_vaddr);
            if (UP(ph[i].p_vaddr + ph[i].p_memsz) > hi) hi = UP(ph[i].p_vaddr + ph[i].p_memsz);
        }
    char *reserve = mmap(NULL, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserve == MAP_FAILED) return -1;
    char *base = reserve - lo;
    Elf64_Dyn *dynamic = NULL;
    Elf64_Phdr *relro = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr *p = &ph[i];
        if (p->p_type == PT_DYNAMIC) dynamic = (Elf64_Dyn *)(base + p->p_vaddr);
        if (p->p_type == PT_GNU_RELRO) relro = p;
        if (p->p_type != PT_LOAD) continue;
        uint64_t start = DOWN(p->p_vaddr), file_end = p->p_vaddr + p->p_filesz;
        int prot = prot_of(p->p_flags);
        int populate = (prot & PROT_WRITE) && (UP(file_end) - start) / PAGE >= 8 ? MAP_POPULATE : 0;
        if (p->p_filesz > 0 && mmap(base + start, UP(file_end) - start, prot, MAP_PRIVATE | MAP_FIXED | populate, fd, DOWN(p->p_offset)) == MAP_FAILED)
            return -1;
        if (p->p_memsz > p->p_filesz) {
            if ((prot & PROT_WRITE) && file_end % PAGE)
                memset(base + file_end, 0, PAGE - file_end % PAGE);
            uint64_t anon = UP(file_end), end = UP(p->p_vaddr + p->p_memsz);
            if (end > anon && mmap(base + anon, end - anon, prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
                return -1;
        }
    }
    close(fd);
    uint64_t rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0;
    for (Elf64_Dyn *d = dynamic; d && d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_RELA) rela = d->d_un.d_ptr;
        if (d->d_tag == DT_RELASZ) relasz = d->d_un.d_val;
        if (d->d_tag == DT_JMPREL) jmprel = d->d_un.d_ptr;
        if (d->d_tag == DT_PLTRELSZ) pltrelsz = d->d_un.d_val;
    }
    uint64_t tables[2][2] = {{rela, relasz}, {jmprel, pltrelsz}};
    for (int t = 0; t < 2; t++) {
        Elf64_Rela *r = (Elf64_Rela *)(base + tables[t][0]);
        for (uint64_t i = 0; tables[t][0] && i < tables[t][1] / sizeof *r; i++) {
            uint64_t *target = (uint64_t *)(base + r[i].r_offset);
            *target = ELF64_R_TYPE(r[i].r_info) == R_X86_64_RELATIVE ? (uint64_t)base + r[i].r_addend : (uint64_t)base;
        }
    }
    if (relro && mprotect(base + DOWN(relro->p_vaddr), DOWN(relro->p_vaddr + relro->p_memsz) - DOWN(relro->p_vaddr), PROT_READ) != 0)
        return -1;
    return munmap(reserve, hi - lo);
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: floor LIBRARY ROUNDS TMPDIR\n"); return 2; }
    int rounds = atoi(argv[2]);
    double *times = calloc(rounds, sizeof *times);
    char copy[4096];
    for (int i = -20; i < rounds; i++) {
        snprintf(copy, sizeof copy, "%s/floor-%d.so", argv[3], i);
        copy_file(argv[1], copy);
        double start = now_us();
        if (load_once(copy) != 0) { fprintf(stderr, "floor: %s: load failed\n", copy); return 1; }
        double elapsed = now_us() - start;
        unlink(copy);
        if (i >= 0) times[i] = elapsed;
    }
    qsort(times, rounds, sizeof *times, compare);
    printf("%.1f\n", times[rounds / 2]);
    return 0;
}
