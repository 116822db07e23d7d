using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Loader.Native;

/// <summary>
/// Handing a descriptor to another process over a Unix domain socket: sendmsg and recvmsg with one
/// <c>SCM_RIGHTS</c> control message (unix(7)). The receiver gets its own descriptor for the same open file.
/// </summary>
internal static unsafe partial class UnixSocket
{
    private const int SOL_SOCKET = 1, SCM_RIGHTS = 1;

    /// <summary>The received descriptor is close-on-exec, like every descriptor .NET opens.</summary>
    private const int MSG_CMSG_CLOEXEC = 0x40000000;

    /// <summary>CMSG_SPACE(sizeof(int)): the 16-byte header, then the int padded to 8 bytes.</summary>
    private const int ControlSpace = 24;

    /// <summary>CMSG_LEN(sizeof(int)).</summary>
    private const int ControlLength = 20;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ControlHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [LibraryImport("libc.so.6", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint sendmsg(SafeHandle socket, MessageHeader* message, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint recvmsg(SafeHandle socket, MessageHeader* message, int flags);

    /// <summary>Sends <paramref name="payload"/> (at least one byte: a descriptor travels with data) and
    /// <paramref name="descriptor"/>. Returns the bytes sent, or -1 with errno.</summary>
    public static long SendDescriptor(SafeHandle socket, ReadOnlySpan<byte> payload, SafeFileHandle descriptor, out int errno)
    {
        if (payload.IsEmpty)
            throw new ArgumentException("A descriptor is sent with at least one byte of data.", nameof(payload));
        byte* control = stackalloc byte[ControlSpace];
        new Span<byte>(control, ControlSpace).Clear();
        bool added = false;
        descriptor.DangerousAddRef(ref added);
        try
        {
            *(ControlHeader*)control = new ControlHeader { Length = ControlLength, Level = SOL_SOCKET, Type = SCM_RIGHTS };
            *(int*)(control + sizeof(ControlHeader)) = (int)descriptor.DangerousGetHandle();
            fixed (byte* data = payload)
            {
                var vector = new IoVector { Base = data, Length = (nuint)payload.Length };
                var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = ControlSpace };
                nint sent = sendmsg(socket, &message, 0);
                errno = sent < 0 ? Errno.Last : 0;
                return sent;
            }
        }
        finally
        {
            if (added)
                descriptor.DangerousRelease();
        }
    }

    /// <summary>
    /// Receives up to <paramref name="payload"/>'s length and the descriptor sent with it, if any (null when the
    /// message carried none). Returns the bytes received (0 at end of stream), or -1 with errno.
    /// </summary>
    public static long ReceiveDescriptor(SafeHandle socket, Span<byte> payload, out SafeFileHandle? descriptor, out int errno)
    {
        descriptor = null;
        byte* control = stackalloc byte[ControlSpace];
        new Span<byte>(control, ControlSpace).Clear();
        fixed (byte* data = payload)
        {
            var vector = new IoVector { Base = data, Length = (nuint)payload.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = ControlSpace };
            nint received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
            errno = received < 0 ? Errno.Last : 0;
            if (received < 0)
                return -1;
            var header = (ControlHeader*)control;
            if (message.ControlLength >= ControlLength && header->Level == SOL_SOCKET && header->Type == SCM_RIGHTS)
                descriptor = new SafeFileHandle(*(int*)(control + sizeof(ControlHeader)), ownsHandle: true);
            return received;
        }
    }
}
