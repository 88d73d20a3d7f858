using System.Buffers.Binary;
using System.Text;
using RewardedSoups.Tasks.Text;

namespace RewardedSoups.Tests;

/// <summary>The reader of R's serialisation, on bytes written here by R's rules (R Internals 1.8) and on the installed janeaustenr.</summary>
public sealed class RDataTests
{
    /// <summary>Writes R's XDR serialisation, version 3, item by item.</summary>
    private sealed class XdrWriter
    {
        private readonly MemoryStream _out = new();

        public XdrWriter()
        {
            _out.Write("X\n"u8);
            Int(3).Int(0x040201).Int(0x030500).Int(5);
            _out.Write("UTF-8"u8);
        }

        public XdrWriter Int(int v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32BigEndian(b, v);
            _out.Write(b);
            return this;
        }

        public XdrWriter Chars(string? s)
        {
            if (s is null) return Int(9).Int(-1);
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            Int(9 | (1 << 3 << 12)).Int(bytes.Length); // CHARSXP, UTF-8
            _out.Write(bytes);
            return this;
        }

        public XdrWriter Strings(params string?[] values)
        {
            Int(16).Int(values.Length);
            foreach (string? v in values) Chars(v);
            return this;
        }

        public byte[] Bytes() => _out.ToArray();
    }

    [Fact]
    public void CharacterVector_WithNA_AndUnicode()
    {
        byte[] data = new XdrWriter().Strings("Elinor", null, "café", "").Bytes();
        var v = Assert.IsType<RData.RObject>(RData.Deserialize(data));
        Assert.Equal(["Elinor", null, "café", ""], v.Strings.AsEnumerable());
        Assert.Empty(v.Attributes);
    }

    [Fact]
    public void NamedList_OfIntegerVectors_NamesThroughAnAttributePairlist_SymbolsByReference()
    {
        // list(a = c(1L, NA), b = 7L) with attribute names, then a second attribute whose tag is a reference to symbol "names".
        var w = new XdrWriter();
        w.Int(19 | (1 << 9)).Int(2);                      // VECSXP with attributes, 2 elements
        w.Int(13).Int(2).Int(1).Int(int.MinValue);         // INTSXP c(1L, NA)
        w.Int(13).Int(1).Int(7);                           // INTSXP 7L
        w.Int(2 | (1 << 10));                              // LISTSXP with tag: names = c("a", "b")
        w.Int(1).Chars("names");                           // SYMSXP "names" (reference 1)
        w.Strings("a", "b");
        w.Int(2 | (1 << 10));                              // next pair: extra = "x"
        w.Int(1).Chars("extra");                           // SYMSXP (reference 2)
        w.Strings("x");
        w.Int(254);                                        // end of the pairlist
        var list = Assert.IsType<RData.RObject>(RData.Deserialize(w.Bytes()));
        Assert.Equal([1, null], list["a"]!.Values);
        Assert.Equal([7], list["b"]!.Values);
        Assert.Equal(["x"], list.Attributes["extra"]!.Strings.AsEnumerable());

        // A reference (REFSXP, index in the flags' upper bits) names the symbol read first.
        var withRef = new XdrWriter();
        withRef.Int(19 | (1 << 9)).Int(1).Strings("inner");
        withRef.Int(2 | (1 << 10)).Int(1).Chars("names").Strings("first");
        withRef.Int(2 | (1 << 10)).Int(255 | (1 << 8)).Strings("again"); // tag: reference 1 = "names", overriding
        withRef.Int(254);
        var o = Assert.IsType<RData.RObject>(RData.Deserialize(withRef.Bytes()));
        Assert.Equal(["again"], o.Attributes["names"]!.Strings.AsEnumerable());
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("huge length")]
    [InlineData("closure")]
    [InlineData("deep")]
    [InlineData("not xdr")]
    public void DamagedOrHostileData_IsAnErrorNamingIt_NotACrashOrAHugeAllocation(string kind)
    {
        byte[] data = kind switch
        {
            "truncated" => new XdrWriter().Strings("Emma", "Harriet").Bytes()[..^3],
            "huge length" => new XdrWriter().Int(16).Int(int.MaxValue).Bytes(),      // 2³¹ strings promised by a few bytes
            "closure" => new XdrWriter().Int(3).Bytes(),
            "deep" => Deep(100_000),
            _ => "RDX2\n"u8.ToArray(),
        };
        var e = Assert.ThrowsAny<Exception>(() => RData.Deserialize(data));
        Assert.True(e is InvalidDataException or EndOfStreamException, $"{e.GetType().Name}: {e.Message}");
        Assert.Contains(kind switch
        {
            "truncated" => "ends at byte",
            "huge length" => "remaining bytes",
            "closure" => "type 3",
            "deep" => "nested more than",
            _ => "XDR",
        }, e.Message);

        static byte[] Deep(int depth)
        {
            var w = new XdrWriter();
            for (int i = 0; i < depth; i++) w.Int(19).Int(1);
            w.Int(254);
            return w.Bytes();
        }
    }

    [Fact]
    public void LazyLoadDatabase_OfJaneaustenr_HoldsTheSixNovels()
    {
        string rdx = TextData.DebianFile("r-cran-janeaustenr", "usr/lib/R/site-library/janeaustenr/data/Rdata.rdx");
        var novels = RData.ReadLazyLoadDatabase(rdx);
        Assert.Equal(Corpora.AustenNovels.Order(), novels.Keys.Order());
        Assert.Equal("EMMA", novels["emma"].Strings[0]);
        Assert.All(novels.Values, n => Assert.True(n.Strings.Length > 7_000, $"{n.Strings.Length} lines"));
    }

    [Fact]
    public void LazyLoadDatabase_CorruptObject_IsAnErrorNamingTheFile()
    {
        string source = TextData.DebianFile("r-cran-janeaustenr", "usr/lib/R/site-library/janeaustenr/data/Rdata.rdx");
        string dir = Directory.CreateTempSubdirectory("rdata-").FullName;
        try
        {
            string rdx = Path.Combine(dir, "Rdata.rdx");
            File.Copy(source, rdx);
            byte[] rdb = File.ReadAllBytes(Path.ChangeExtension(source, ".rdb"));
            rdb[4] = 0x00; // the first object's zlib header
            File.WriteAllBytes(Path.Combine(dir, "Rdata.rdb"), rdb[..1000]);
            var e = Assert.Throws<InvalidDataException>(() => RData.ReadLazyLoadDatabase(rdx));
            Assert.Contains(rdx, e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
