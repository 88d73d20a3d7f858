using System.Runtime.InteropServices;
using System.Text;

namespace RewardedSoups.Checkpoints;

/// <summary>What a path names, as <c>stat</c> sees it once symbolic links are followed.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Folder,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
}

/// <summary>
/// Checks made of an input path before it is opened. Only regular files are read: opening a FIFO
/// blocks until some process writes to it (ignoring Ctrl+C, which cannot interrupt the open), and a
/// device such as <c>/dev/zero</c> never ends. .NET cannot tell a FIFO or a device from a regular file
/// (both report <c>FileAttributes.Normal</c>), so the file type comes from Linux's <c>statx</c>, as the
/// build targets linux-x64 only. Between the check and the open a path could still be swapped; these
/// checks are against mistakes and hostile downloads, not against a local attacker racing us.
/// </summary>
public static class InputFiles
{
    /// <summary>The kind of file at <paramref name="path"/>, following symbolic links.</summary>
    public static FileKind KindOf(string path)
    {
        var buffer = new byte[256];
        if (statx(AtCurrentDirectory, NullTerminated(path), 0, StatxType, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                ENOENT or ENOTDIR => FileKind.Missing,
                EACCES => throw new SoupInputException($"{path}: permission denied"),
                ELOOP => throw new SoupInputException($"{path}: too many levels of symbolic links"),
                _ => throw new SoupInputException($"{path}: cannot be examined ({Marshal.GetPInvokeErrorMessage(errno)})"),
            };
        }
        // struct statx: stx_mode is the 16-bit field at byte 28, the same on every architecture.
        return (BitConverter.ToUInt16(buffer, 28) & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Folder,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => throw new SoupInputException($"{path}: is not a regular file"),
        };
    }

    /// <summary>Throws, naming the path and what it is, unless it is a regular file (or a link to one).</summary>
    public static void RequireRegular(string path)
    {
        FileKind kind = KindOf(path);
        if (kind != FileKind.Regular) throw new SoupInputException($"{path}: {Describe(kind)}");
    }

    /// <summary>What is wrong with a path of this kind, as the end of a message.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "no such file",
        FileKind.Folder => "is a folder, not a file",
        FileKind.Fifo => "is a FIFO (named pipe), not a regular file",
        FileKind.CharacterDevice => "is a character device, not a regular file",
        FileKind.BlockDevice => "is a block device, not a regular file",
        FileKind.Socket => "is a socket, not a regular file",
        _ => "is a regular file",
    };

    /// <summary>A small regular file read whole, refused when it is larger than <paramref name="maxBytes"/>.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        RequireRegular(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long length = stream.Length;
        if (length > maxBytes)
            throw new SoupInputException($"{path}: {length} bytes, more than the limit of {maxBytes}");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The absolute path with every symbolic link resolved (<c>realpath</c>), or null when it cannot be resolved.</summary>
    public static string? RealPath(string path)
    {
        var resolved = new byte[PathMax];
        if (realpath(NullTerminated(path), resolved) == 0) return null;
        return Encoding.UTF8.GetString(resolved, 0, Array.IndexOf(resolved, (byte)0));
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or lies under it (both already resolved).</summary>
    public static bool IsInside(string path, string folder) =>
        path.StartsWith(folder.EndsWith('/') ? folder : folder + "/", StringComparison.Ordinal);

    private static byte[] NullTerminated(string path)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(path) + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 1;
    private const int PathMax = 4096;
    private const int ENOENT = 2, EACCES = 13, ENOTDIR = 20, ELOOP = 40;

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, byte[] path, int flags, uint mask, [Out] byte[] statxBuffer);

    [DllImport("libc", SetLastError = true)]
    private static extern nint realpath(byte[] path, [Out] byte[] resolved);
}
