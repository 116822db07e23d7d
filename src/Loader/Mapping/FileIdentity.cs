namespace Loader.Mapping;

/// <summary>The file an image was mapped from, as the kernel knows it (<c>st_dev</c>, <c>st_ino</c>): the same pair
/// /proc/self/maps shows for the image's file-backed regions, and what tells two paths to one file apart.</summary>
/// <param name="Device">st_dev.</param>
/// <param name="Inode">st_ino.</param>
public readonly record struct FileIdentity(ulong Device, ulong Inode);
