/* libloader_demo.c: the sample library `loader demo` (and `loader` with no argument) maps.
 *
 * Small, but with every kind of region a loader handles: code (.text), read-only data (.rodata),
 * a table of pointers that lands in RELRO (.data.rel.ro), writable data (.data), and a .bss large
 * enough to need anonymous zero pages beyond the last file page. It calls nothing from libc, so it
 * has no DT_NEEDED, and its exports can be called once linking lands.
 *
 * Built by the BuildDemoSample target in Loader.Cli.csproj:
 *   gcc -shared -fPIC -O2 -g0 -Wl,-soname,libloader_demo.so -o libloader_demo.so libloader_demo.c
 */

/* .rodata */
static const char greeting_text[] = "Hello from libloader_demo.so, mapped by Loader!";

/* .data.rel.ro: pointers the loader relocates, then makes read-only (PT_GNU_RELRO). */
const char *const demo_words[] = { "reserve", "overlay", "zero", "protect", "unmap", 0 };

/* .data: initialized, writable. */
int demo_counter = 42;

/* .bss: 64 KiB of zeros, most of it anonymous pages past the end of the file (exported and written, so the
 * compiler keeps it). */
unsigned char demo_scratch[64 * 1024];

/* Exports. */
int demo_add(int a, int b) { return a + b; }

const char *demo_greeting(void) { return greeting_text; }

int demo_bump(void) { return ++demo_counter; }

const char *demo_word(int index)
{
    return index >= 0 && index < (int)(sizeof demo_words / sizeof demo_words[0]) - 1 ? demo_words[index] : 0;
}

/* Writes into the scratch area; returns how many bytes it wrote. */
int demo_fill(unsigned char value, int count)
{
    int n = count < 0 ? 0 : count > (int)sizeof demo_scratch ? (int)sizeof demo_scratch : count;
    for (int i = 0; i < n; i++)
        demo_scratch[i] = value;
    return n;
}

/* Sums the scratch area, which must read zero after a correct load; touching it keeps it in .bss. */
unsigned demo_scratch_sum(void)
{
    unsigned sum = 0;
    for (unsigned i = 0; i < sizeof demo_scratch; i++)
        sum += demo_scratch[i];
    return sum;
}
