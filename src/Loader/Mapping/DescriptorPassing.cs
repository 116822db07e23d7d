using System.Net.Sockets;
using Loader.Native;
using Microsoft.Win32.SafeHandles;

namespace Loader.Mapping;

/// <summary>
/// Hands a descriptor (a shared RELRO file) to another process over a connected Unix domain socket: one message of
/// data with an <c>SCM_RIGHTS</c> control message (unix(7)); the receiver gets its own descriptor for the same open
/// file, close-on-exec.
/// </summary>
public static class DescriptorPassing
{
    /// <summary>Sends <paramref name="payload"/> (at least one byte) with <paramref name="descriptor"/>.</summary>
    /// <exception cref="ArgumentException">The socket is not a Unix domain socket, or the payload is empty.</exception>
    /// <exception cref="IOException">sendmsg failed or sent part of the payload.</exception>
    public static void Send(Socket socket, ReadOnlySpan<byte> payload, SafeFileHandle descriptor)
    {
        CheckUnix(socket);
        ArgumentNullException.ThrowIfNull(descriptor);
        long sent = UnixSocket.SendDescriptor(socket.SafeHandle, payload, descriptor, out int errno);
        if (sent < 0)
            throw new IOException($"sendmsg with SCM_RIGHTS failed: {Errno.Describe(errno)}");
        if (sent < payload.Length)
            throw new IOException($"sendmsg with SCM_RIGHTS sent {sent} of {payload.Length} bytes");
    }

    /// <summary>
    /// Receives exactly <paramref name="payload"/>'s length of bytes, the first message with the descriptor sent with
    /// it (null when none came, e.g. the sender's process limit on descriptors was reached).
    /// </summary>
    /// <exception cref="IOException">recvmsg failed, or the stream ended before the payload was complete.</exception>
    public static SafeFileHandle? Receive(Socket socket, Span<byte> payload)
    {
        CheckUnix(socket);
        long received = UnixSocket.ReceiveDescriptor(socket.SafeHandle, payload, out var descriptor, out int errno);
        if (received < 0)
            throw new IOException($"recvmsg failed: {Errno.Describe(errno)}");
        int total = (int)received;
        while (total < payload.Length)
        {
            int n = socket.Receive(payload[total..]);
            if (n == 0)
            {
                descriptor?.Dispose();
                throw new IOException($"the stream ended after {total} of {payload.Length} bytes");
            }
            total += n;
        }
        return descriptor;
    }

    private static void CheckUnix(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.AddressFamily != AddressFamily.Unix)
            throw new ArgumentException("Descriptors travel over Unix domain sockets only.", nameof(socket));
    }
}
