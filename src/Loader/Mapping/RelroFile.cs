using Loader.Native;
using Microsoft.Win32.SafeHandles;

namespace Loader.Mapping;

/// <summary>
/// Files to hand to <see cref="LoadOptions.WriteRelro"/>: a memfd that accepts seals (sealed by the load once written)
/// or a POSIX shared memory object, whose name other processes can open. Any regular file opened read-write works too.
/// </summary>
public static class RelroFile
{
    /// <summary>memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING): /proc/PID/maps shows <c>/memfd:NAME</c>.</summary>
    /// <exception cref="ImageLoadException">memfd_create failed.</exception>
    public static SafeFileHandle CreateMemfd(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return SharedMemory.CreateMemfd(name, out int errno)
            ?? ThrowHelper.ImageLoad<SafeFileHandle>(name, "memfd_create", errno,
                $"memfd_create(\"{name}\", MFD_CLOEXEC|MFD_ALLOW_SEALING) failed: {Errno.Describe(errno)}");
    }

    /// <summary>shm_open(name, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600): a new object (a name already taken is refused);
    /// <paramref name="name"/> is <c>/something</c>. Unlink it with <see cref="UnlinkShm"/> when no one needs the name.</summary>
    /// <exception cref="ImageLoadException">shm_open failed (EEXIST: the name is taken).</exception>
    public static SafeFileHandle CreateShm(string name)
    {
        CheckShmName(name);
        return SharedMemory.CreateShm(name, out int errno)
            ?? ThrowHelper.ImageLoad<SafeFileHandle>(name, "shm_open", errno,
                $"shm_open(\"{name}\", O_RDWR|O_CREAT|O_EXCL) failed: {Errno.Describe(errno)}");
    }

    /// <summary>shm_unlink(name); false when there was no such object.</summary>
    public static bool UnlinkShm(string name)
    {
        CheckShmName(name);
        return SharedMemory.UnlinkShm(name, out _);
    }

    private static void CheckShmName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name[0] != '/' || name.IndexOf('/', 1) >= 0 || name.Contains('\0'))
            throw new ArgumentException($"A POSIX shared memory name is one '/' then a name without '/': '{name}'.", nameof(name));
    }
}
