using System.Buffers.Binary;
using System.IO.Compression;

namespace RewardedSoups.Tasks.Image;

/// <summary>Which half of Fashion-MNIST: 60,000 training or 10,000 test images.</summary>
public enum FashionMnistSplit
{
    Train,
    Test,
}

/// <summary>
/// One split of Fashion-MNIST in memory: <see cref="Count"/> images of 28 × 28 bytes (0 = background,
/// 255 = full ink), row-major, one after another, and their labels 0–9.
/// </summary>
public sealed class FashionMnistSet
{
    internal FashionMnistSet(FashionMnistSplit split, byte[] pixels, byte[] labels)
    {
        Split = split;
        Pixels = pixels;
        Labels = labels;
    }

    public FashionMnistSplit Split { get; }

    /// <summary>[count × 784] bytes.</summary>
    public byte[] Pixels { get; }

    /// <summary>[count] class indices 0–9.</summary>
    public byte[] Labels { get; }

    public int Count => Labels.Length;

    /// <summary>Image <paramref name="index"/>'s 784 bytes.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * FashionMnist.Pixels, FashionMnist.Pixels);
}

/// <summary>
/// Fashion-MNIST (Xiao et al., 2017) from Debian's <c>dataset-fashion-mnist</c> package, which ships the
/// four original IDX files gzipped in <c>/usr/share/datasets/fashion-mnist</c>; <c>SOUP_FASHION_MNIST</c>
/// names another folder holding the same files (gzipped or not). The files are checked strictly: magic
/// numbers, dimensions, counts, the exact length, labels in range; every failure is one line naming the file.
/// </summary>
public static class FashionMnist
{
    public const int Side = 28;
    public const int Pixels = Side * Side;
    public const int Classes = 10;
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";
    public const string FolderVariable = "SOUP_FASHION_MNIST";

    /// <summary>The dataset's class names, in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The prompt of each class (what the app shows and the conditioning stands for), in label order.</summary>
    public static IReadOnlyList<string> Prompts { get; } =
        ["a t-shirt", "a pair of trousers", "a pullover", "a dress", "a coat", "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"];

    /// <summary>The class a prompt or class name stands for; an unknown one is an error listing the prompts.</summary>
    public static int PromptIndex(string prompt)
    {
        for (int c = 0; c < Classes; c++)
            if (string.Equals(Prompts[c], prompt, StringComparison.OrdinalIgnoreCase) || string.Equals(ClassNames[c], prompt, StringComparison.OrdinalIgnoreCase))
                return c;
        throw new SoupInputException($"unknown prompt '{prompt}'; the image task has: {string.Join(", ", Prompts.Select(p => $"'{p}'"))}");
    }

    /// <summary>The folder holding the IDX files: <c>SOUP_FASHION_MNIST</c>, else Debian's; a one-line error says how to install it.</summary>
    public static string Folder()
    {
        string? fromEnv = Environment.GetEnvironmentVariable(FolderVariable);
        if (!string.IsNullOrEmpty(fromEnv))
            return Directory.Exists(fromEnv) ? fromEnv : throw new SoupInputException($"{FolderVariable}={fromEnv}: no such folder");
        if (Directory.Exists(DebianFolder)) return DebianFolder;
        throw new SoupInputException($"Fashion-MNIST not installed ({DebianFolder}): run ./soup or ./test.sh, or: sudo apt-get install -y dataset-fashion-mnist; or set {FolderVariable}");
    }

    /// <summary>Loads a split from <see cref="Folder"/>.</summary>
    public static FashionMnistSet Load(FashionMnistSplit split) => Load(split, Folder());

    /// <summary>Loads a split from <paramref name="folder"/> (files <c>train-images-idx3-ubyte[.gz]</c>, …).</summary>
    public static FashionMnistSet Load(FashionMnistSplit split, string folder)
    {
        string prefix = split == FashionMnistSplit.Train ? "train" : "t10k";
        int expected = split == FashionMnistSplit.Train ? 60000 : 10000;
        string imagesPath = Find(folder, $"{prefix}-images-idx3-ubyte");
        string labelsPath = Find(folder, $"{prefix}-labels-idx1-ubyte");
        byte[] pixels = ReadIdx(imagesPath, 0x0803, [expected, Side, Side]);
        byte[] labels = ReadIdx(labelsPath, 0x0801, [expected]);
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= Classes)
                throw new SoupInputException($"{labelsPath}: label {labels[i]} of item {i} is not a class 0–9");
        return new FashionMnistSet(split, pixels, labels);
    }

    private static string Find(string folder, string name)
    {
        foreach (string candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return path;
        }
        throw new SoupInputException($"{Path.Combine(folder, name)}.gz: missing (Fashion-MNIST file; install dataset-fashion-mnist or set {FolderVariable})");
    }

    /// <summary>
    /// An IDX file of unsigned bytes: a big-endian magic (0x08 = ubyte, then the number of dimensions),
    /// one big-endian int32 per dimension, then exactly the product of the dimensions in bytes.
    /// </summary>
    internal static byte[] ReadIdx(string path, int magic, int[] dims)
    {
        byte[] bytes = ReadMaybeGzipped(path);
        int header = 4 + 4 * dims.Length;
        if (bytes.Length < header)
            throw new SoupInputException($"{path}: truncated IDX header ({bytes.Length} bytes)");
        int actualMagic = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (actualMagic != magic)
            throw new SoupInputException($"{path}: IDX magic 0x{actualMagic:X8}, expected 0x{magic:X8}");
        long total = 1;
        for (int d = 0; d < dims.Length; d++)
        {
            int size = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (size != dims[d])
                throw new SoupInputException($"{path}: dimension {d} is {size}, expected {dims[d]}");
            total *= size;
        }
        if (bytes.Length - header != total)
            throw new SoupInputException($"{path}: {bytes.Length - header} data bytes, expected {total} ({(bytes.Length - header < total ? "truncated" : "trailing bytes")})");
        return bytes.AsSpan(header).ToArray();
    }

    private static byte[] ReadMaybeGzipped(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            bool gzip = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
            file.Position = 0;
            if (!gzip) return File.ReadAllBytes(path);
            using var unzip = new GZipStream(file, CompressionMode.Decompress);
            using var memory = new MemoryStream();
            unzip.CopyTo(memory);
            return memory.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new SoupInputException($"{path}: corrupt gzip data ({e.Message})", e);
        }
        catch (EndOfStreamException e)
        {
            throw new SoupInputException($"{path}: truncated gzip data", e);
        }
    }
}
