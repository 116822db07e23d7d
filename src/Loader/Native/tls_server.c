/*
 * Loader's server of dynamic TLS blocks: the machine code behind Native/TlsServerCode.cs, which
 * scripts/gen-tls-server.sh compiles from this file (GenTlsServerTests checks that the two agree).
 *
 * A module whose block glibc does not have to place in static TLS gets a slot here instead of a TLS carrier: its
 * module ID is SLOT_MARK in the upper half and the slot in the lower, and the modules Loader maps call
 * tls_server_get_addr for __tls_get_addr. An ID without the mark is glibc's and goes to glibc's __tls_get_addr.
 * Each thread keeps a table of blocks, one per slot, reached through one pthread key and, when Loader has one, a
 * static TLS slot of its own. A block is allocated and filled from the module's relocated .tdata on the thread's
 * first access, and its first word records the slot's generation then. Loader changes a slot's generation whenever it
 * gives the slot to a module or takes it back, so a block a thread kept from an earlier module in the slot is filled
 * again (or replaced, when it is too small) before it is used. The key's destructor frees a thread's blocks and table
 * when it exits.
 *
 * The code is position-independent and has no relocations: libc's functions and the slots are reached through the
 * server's data, whose address the two entry stubs load into the second argument register (Loader patches it over the
 * placeholder). It is native code because the first access can come from a thread the .NET runtime has never seen,
 * from a forked child, or from a thread_local destructor while a thread exits.
 */
typedef unsigned long u64;

struct slot {
    u64 generation;  /* changed each time the slot is given to a module or taken back */
    u64 data_offset; /* where the TLS data starts in a block: after its two header words, aligned */
    u64 image;       /* the module's relocated .tdata */
    u64 image_size;  /* p_filesz */
    u64 size;        /* p_memsz */
    u64 alignment;   /* the block's alignment: p_align, at least 16 */
    u64 block_size;  /* data_offset + size, rounded up to the alignment */
    u64 reserved;
};

struct server {
    u64 key; /* the pthread key whose value is the calling thread's table */
    void *(*get_specific)(unsigned);
    int (*set_specific)(unsigned, const void *);
    void *(*aligned_alloc)(u64, u64);
    void *(*realloc)(void *, u64);
    void (*free)(void *);
    void *(*memcpy)(void *, const void *, u64);
    void *(*memset)(void *, int, u64);
    void (*abort)(void);
    void *(*glibc_get_addr)(const u64 *);
    long table_offset; /* where the thread's table pointer also lies in static TLS, from %fs; 0: only the key has it */
    u64 reserved[5];
    struct slot slots[];
};

#define SLOT_MARK 0x4c4f4144UL /* "LOAD" */

/* The calling thread's table: from its static TLS slot when Loader has one (one load, as glibc's own fast path), else
 * from the key (a call). */
static inline u64 *thread_table(struct server *s)
{
    if (s->table_offset != 0) {
        u64 *table;
        __asm__ volatile("movq %%fs:(%1), %0" : "=r"(table) : "r"(s->table_offset));
        return table;
    }
    return s->get_specific((unsigned)s->key);
}

static inline void set_thread_table(struct server *s, u64 *table)
{
    if (s->table_offset != 0)
        __asm__ volatile("movq %0, %%fs:(%1)" : : "r"(table), "r"(s->table_offset) : "memory");
}

/* A table is its capacity, then a block pointer per slot. A block is its generation, its size, then the data. */
__attribute__((noinline)) static void *allocate(const u64 *index, struct server *s)
{
    unsigned slot_index = (unsigned)index[0];
    struct slot *slot = &s->slots[slot_index];
    u64 *table = thread_table(s);
    if (table == 0 || slot_index >= table[0]) {
        u64 capacity = table ? table[0] : 0, larger = capacity ? capacity * 2 : 8;
        while (larger <= slot_index)
            larger *= 2;
        u64 *grown = s->realloc(table, 8 + larger * 8);
        if (grown == 0)
            s->abort(); /* as glibc's __tls_get_addr: there is no way to report it */
        s->memset(grown + 1 + capacity, 0, (larger - capacity) * 8);
        grown[0] = larger;
        if (s->set_specific((unsigned)s->key, grown) != 0) /* the key's value is what the destructor gets */
            s->abort();
        set_thread_table(s, grown);
        table = grown;
    }
    u64 *block = (u64 *)table[1 + slot_index];
    if (block != 0 && (block[1] < slot->block_size || ((u64)block & (slot->alignment - 1)) != 0)) {
        s->free(block); /* kept from an earlier module in the slot, and too small or misaligned for this one */
        block = 0;
    }
    if (block == 0) {
        block = s->aligned_alloc(slot->alignment, slot->block_size);
        if (block == 0)
            s->abort();
        block[1] = slot->block_size;
        table[1 + slot_index] = (u64)block;
    }
    char *data = (char *)block + slot->data_offset;
    s->memcpy(data, (const void *)slot->image, slot->image_size);
    s->memset(data + slot->image_size, 0, slot->size - slot->image_size);
    block[0] = slot->generation;
    return data + index[1];
}

/* __tls_get_addr(tls_index *): { module ID, offset in the block }. */
__attribute__((used)) static void *get_addr(const u64 *index, struct server *s)
{
    u64 module = index[0];
    if ((module >> 32) != SLOT_MARK)
        return s->glibc_get_addr(index);
    unsigned slot_index = (unsigned)module;
    u64 *table = thread_table(s);
    if (table != 0 && slot_index < table[0]) {
        u64 *block = (u64 *)table[1 + slot_index];
        struct slot *slot = &s->slots[slot_index];
        if (block != 0 && block[0] == slot->generation)
            return (char *)block + slot->data_offset + index[1];
    }
    return allocate(index, s);
}

/* The key's destructor, when a thread exits (after its thread_local destructors): its blocks, then its table. A later
 * destructor's access starts a new table, which glibc then destroys in its next round. */
__attribute__((used)) static void release_thread(u64 *table, struct server *s)
{
    set_thread_table(s, 0);
    for (u64 i = 0; i < table[0]; i++)
        s->free((void *)table[1 + i]);
    s->free(table);
}

/* The offsets the entry's fast path below reads. */
_Static_assert(__builtin_offsetof(struct server, glibc_get_addr) == 0x48, "glibc_get_addr");
_Static_assert(__builtin_offsetof(struct server, table_offset) == 0x50, "table_offset");
_Static_assert(__builtin_offsetof(struct server, slots) == 0x80, "slots");
_Static_assert(sizeof(struct slot) == 64 && __builtin_offsetof(struct slot, data_offset) == 8, "slot");

/* The entry points, first in the code: the server's address as the second argument, then the function.
 * tls_server_get_addr is get_addr's common case without a frame, as glibc's own fast path: a served block this thread
 * already has, found through the static slot; anything else goes to glibc's or to get_addr with both arguments. */
__asm__(".globl tls_server_get_addr\n"
        "tls_server_get_addr:\n"
        "    movabs $0x5245565245535344, %rsi\n"
        "    movq (%rdi), %rax\n"            /* the module ID */
        "    movq %rax, %rdx\n"
        "    shrq $32, %rdx\n"
        "    cmpl $0x4c4f4144, %edx\n"
        "    jne 1f\n"
        "    movq 0x50(%rsi), %rcx\n"        /* table_offset */
        "    testq %rcx, %rcx\n"
        "    jz 2f\n"
        "    movq %fs:(%rcx), %rcx\n"        /* the thread's table */
        "    testq %rcx, %rcx\n"
        "    jz 2f\n"
        "    movl %eax, %edx\n"              /* the slot */
        "    cmpq (%rcx), %rdx\n"
        "    jae 2f\n"
        "    movq 8(%rcx,%rdx,8), %rcx\n"    /* the thread's block of the slot */
        "    testq %rcx, %rcx\n"
        "    jz 2f\n"
        "    shlq $6, %rdx\n"
        "    movq 0x80(%rsi,%rdx), %r8\n"    /* the slot's generation */
        "    cmpq %r8, (%rcx)\n"
        "    jne 2f\n"
        "    addq 0x88(%rsi,%rdx), %rcx\n"   /* + data_offset */
        "    movq 8(%rdi), %rax\n"
        "    addq %rcx, %rax\n"              /* + the offset in the block */
        "    ret\n"
        "1:  jmp *0x48(%rsi)\n"              /* glibc's module: glibc's __tls_get_addr */
        "2:  jmp get_addr\n"
        ".globl tls_server_release_thread\n"
        "tls_server_release_thread:\n"
        "    movabs $0x5245565245535344, %rsi\n"
        "    jmp release_thread\n");
