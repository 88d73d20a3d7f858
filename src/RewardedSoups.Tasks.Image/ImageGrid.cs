using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// Renders 28 × 28 images as one greyscale PNG grid, drawn as the dataset's convention is usually
/// shown: dark ink on white (pixel 0 → white). Each image is enlarged by an integer
/// <c>scale</c> (nearest neighbour) and separated by a gap of mid grey. A minimal PNG encoder (one
/// IHDR, one zlib IDAT, IEND) keeps the task free of an imaging dependency.
/// </summary>
public static class ImageGrid
{
    /// <summary>The grid as PNG bytes: <paramref name="images"/> (each 784 values in [0, 1]) row by row, <paramref name="columns"/> per row.</summary>
    public static byte[] Png(IReadOnlyList<float[]> images, int columns, int scale = 2, int gap = 2)
    {
        (byte[] pixels, int width, int height) = Render(images, columns, scale, gap);
        return EncodePng(pixels, width, height);
    }

    /// <summary>The grid as 8-bit grey pixels, row-major, with its size (for a caller that draws itself).</summary>
    public static (byte[] Pixels, int Width, int Height) Render(IReadOnlyList<float[]> images, int columns, int scale = 2, int gap = 2)
    {
        if (images.Count == 0) throw new SoupInputException("a grid needs at least one image");
        if (columns < 1) throw new SoupInputException($"grid columns must be ≥ 1, got {columns}");
        if (scale < 1 || scale > 16) throw new SoupInputException($"grid scale must be in [1, 16], got {scale}");
        if (gap < 0 || gap > 64) throw new SoupInputException($"grid gap must be in [0, 64], got {gap}");
        int side = FashionMnist.Side * scale;
        int cols = Math.Min(columns, images.Count);
        int rows = (images.Count + cols - 1) / cols;
        int width = cols * side + (cols + 1) * gap, height = rows * side + (rows + 1) * gap;
        var pixels = new byte[width * height];
        Array.Fill(pixels, (byte)160);
        for (int k = 0; k < images.Count; k++)
        {
            float[] image = images[k];
            if (image.Length != FashionMnist.Pixels) throw new SoupInputException($"grid image {k} has {image.Length} values, not {FashionMnist.Pixels}");
            int x0 = gap + (k % cols) * (side + gap), y0 = gap + (k / cols) * (side + gap);
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    float v = image[(y / scale) * FashionMnist.Side + x / scale];
                    float ink = float.IsFinite(v) ? Math.Clamp(v, 0f, 1f) : 0f;
                    pixels[(y0 + y) * width + x0 + x] = (byte)Math.Round(255 * (1 - ink));
                }
        }
        return (pixels, width, height);
    }

    private static byte[] EncodePng(byte[] grey, int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (grey), compression 0, filter 0, interlace 0
        Chunk(png, "IHDR", header);
        using (var raw = new MemoryStream())
        {
            using (var zlib = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
                for (int y = 0; y < height; y++)
                {
                    zlib.WriteByte(0); // filter "none" for each scanline
                    zlib.Write(grey, y * width, width);
                }
            Chunk(png, "IDAT", raw.ToArray());
        }
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, data.Length);
        png.Write(buffer);
        byte[] typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        uint crc = Crc32(Crc32(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(buffer, crc);
        png.Write(buffer);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    private static uint Crc32(uint crc, byte[] data)
    {
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}
