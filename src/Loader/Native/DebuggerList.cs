using System.Runtime.InteropServices;
using System.Text;

namespace Loader.Native;

/// <summary>
/// The raw memory of Loader's view for debuggers: one <c>struct r_debug_extended</c> (link.h, glibc 2.35+) chained
/// at the tail of glibc's <c>r_next</c> list, the way a <c>dlmopen</c> namespace is shown, and a <c>struct link_map</c>
/// per module Loader mapped, listed from its <c>r_map</c>. gdb walks that chain and reads only the public
/// <c>link_map</c> prefix (l_addr, l_name, l_ld, l_next, l_prev), which is all our entries have: they are never linked
/// into glibc's own lists, which glibc walks itself. Not thread-safe: its one owner (Linking/DebuggerView.cs)
/// serializes every call.
/// </summary>
internal sealed unsafe partial class DebuggerList
{
    /// <summary><c>enum r_state</c>: what the list is doing when <c>r_brk</c> is called.</summary>
    private enum RState
    {
        Consistent = 0,
        Add = 1,
        Delete = 2,
    }

    /// <summary><c>struct r_debug_extended</c> on x86_64: the <c>struct r_debug</c> of link.h, then <c>r_next</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct RDebugExtended
    {
        public int Version;
        public LinkMap* Map;
        public nint Brk;
        public RState State;
        public nint LdBase;
        public RDebugExtended* Next;
    }

    /// <summary>The public head of <c>struct link_map</c> (link.h): all a debugger reads.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct LinkMap
    {
        public nint Addr;
        public byte* Name;
        public nint Ld;
        public LinkMap* Next;
        public LinkMap* Prev;
    }

    // glibc walks at most a few namespaces (DL_NNS is 16); a longer chain is a cycle or not a chain at all.
    private const int MaxChainLength = 64;

    private readonly RDebugExtended* _node;
    private readonly delegate* unmanaged<void> _brk;
    private LinkMap* _tail;

    private DebuggerList(RDebugExtended* node, nint brk)
    {
        _node = node;
        _brk = (delegate* unmanaged<void>)brk;
    }

    /// <summary>The address of our <c>r_debug_extended</c>: the node a debugger finds in the chain.</summary>
    public nint Node => (nint)_node;

    /// <summary>
    /// Allocates our node and appends it to the <c>r_next</c> chain that starts at glibc's <c>r_debug</c>
    /// (<paramref name="glibcDebug"/>, from the main program's DT_DEBUG), with glibc's <c>r_brk</c> and
    /// <c>r_ldbase</c>. Null when that <c>r_debug</c> has no <c>r_brk</c> yet or the chain cannot be walked. The node
    /// is never freed nor unlinked: glibc appends later namespaces after it, writing its <c>r_next</c>.
    /// </summary>
    public static DebuggerList? Attach(nint glibcDebug)
    {
        var head = (RDebugExtended*)glibcDebug;
        if (head == null || head->Version < 1 || head->Brk == 0)
            return null;
        var node = (RDebugExtended*)NativeMemory.AllocZeroed((nuint)sizeof(RDebugExtended));
        node->Version = 2;
        node->Brk = head->Brk;
        node->LdBase = head->LdBase;
        node->State = RState.Consistent;
        for (int attempt = 0; attempt < MaxChainLength; attempt++)
        {
            var tail = Tail(head);
            if (tail == null)
                break;
            // glibc appends a dlmopen namespace under its own lock, which we cannot take: a compare-and-swap at
            // least never overwrites a namespace it linked first.
            if (Interlocked.CompareExchange(ref *(nint*)&tail->Next, (nint)node, 0) == 0)
            {
                // As glibc does when it chains its second namespace: r_version 2 says r_next is there to follow.
                Interlocked.CompareExchange(ref head->Version, 2, 1);
                return new DebuggerList(node, head->Brk);
            }
        }
        NativeMemory.Free(node); // never published
        return null;
    }

    /// <summary>
    /// Lists a mapped image: a new <c>link_map</c> at the tail, between two calls to <c>r_brk</c> (RT_ADD, then
    /// RT_CONSISTENT) so a debugger stopped there reads the list before and after. Returns the entry, for
    /// <see cref="Remove"/>.
    /// </summary>
    public nint Add(nint loadBias, string path, nint dynamic)
    {
        int length = Encoding.UTF8.GetByteCount(path);
        var name = (byte*)NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(path, new Span<byte>(name, length));
        name[length] = 0;
        var entry = (LinkMap*)NativeMemory.AllocZeroed((nuint)sizeof(LinkMap));
        entry->Addr = loadBias;
        entry->Name = name;
        entry->Ld = dynamic;

        Announce(RState.Add);
        entry->Prev = _tail;
        if (_tail == null)
            _node->Map = entry;
        else
            _tail->Next = entry;
        _tail = entry;
        Announce(RState.Consistent);
        return (nint)entry;
    }

    /// <summary>Unlists an entry <see cref="Add"/> returned (RT_DELETE, unlink, RT_CONSISTENT), then frees it.</summary>
    public void Remove(nint handle)
    {
        var entry = (LinkMap*)handle;
        Announce(RState.Delete);
        if (entry->Prev == null)
            _node->Map = entry->Next;
        else
            entry->Prev->Next = entry->Next;
        if (entry->Next == null)
            _tail = entry->Prev;
        else
            entry->Next->Prev = entry->Prev;
        Announce(RState.Consistent);
        NativeMemory.Free(entry->Name);
        NativeMemory.Free(entry);
    }

    /// <summary><c>gnu_get_libc_version()</c>: "2.36"; the <c>r_next</c> field exists from 2.35 on.</summary>
    public static string LibcVersion() => Marshal.PtrToStringUTF8(gnu_get_libc_version()) ?? "";

    /// <summary>The state a debugger reads when it stops in <c>r_brk</c>, which is where it stops.</summary>
    private void Announce(RState state)
    {
        _node->State = state;
        _brk();
    }

    /// <summary>The last node of the chain from <paramref name="head"/>, or null when it does not end.</summary>
    private static RDebugExtended* Tail(RDebugExtended* head)
    {
        var node = head;
        for (int i = 0; i < MaxChainLength; i++)
        {
            var next = (RDebugExtended*)Volatile.Read(ref *(nint*)&node->Next);
            if (next == null)
                return node;
            node = next;
        }
        return null;
    }

    [LibraryImport("libc.so.6")]
    private static partial nint gnu_get_libc_version();
}
