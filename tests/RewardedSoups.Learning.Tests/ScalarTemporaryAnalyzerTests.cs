using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using RewardedSoups.Analyzers;

namespace RewardedSoups.Tests;

/// <summary>
/// The build's rule SOUP001 on real TorchSharp code: a Scalar made as a temporary is reported, one held in a
/// <c>using</c> local or a field is not.
/// </summary>
public sealed class ScalarTemporaryAnalyzerTests
{
    [Theory]
    [InlineData("Tensor F(Tensor x) => x.clamp(-1, 1);", 2)]
    [InlineData("Tensor F(Tensor x) => x.pow(3);", 1)]
    [InlineData("Tensor F(Tensor x, double t) => x.div(t);", 1)]
    [InlineData("Tensor F(Tensor x) => x.add_(x, alpha: 0.5);", 1)]
    [InlineData("Tensor F(Tensor x, double t) => x.mul(t.ToScalar());", 1)]
    [InlineData("Tensor F(Tensor x) { Scalar s = 0.5; return x.mul(s); }", 1)]
    public void Temporary_IsReported(string member, int expected)
    {
        ImmutableArray<Diagnostic> found = Analyse(member);
        Assert.Equal(expected, found.Length);
        Assert.All(found, d => Assert.Equal("SOUP001", d.Id));
    }

    [Theory]
    [InlineData("Tensor F(Tensor x, double t) { using Scalar s = t.ToScalar(); return x.mul(s); }")]
    [InlineData("Tensor F(Tensor x) { using Scalar low = -1, high = 1; return x.clamp(low, high); }")]
    [InlineData("static readonly Scalar Half = 0.5; Tensor F(Tensor x) => x.mul(Half);")]
    [InlineData("readonly Scalar _s = 2.0; Tensor F(Tensor x) => x.mul(_s);")]
    [InlineData("Tensor F(Tensor x) => x.square();")]
    public void HeldScalar_IsNotReported(string member) => Assert.Empty(Analyse(member));

    private static ImmutableArray<Diagnostic> Analyse(string member)
    {
        string source = $$"""
            using TorchSharp;
            using static TorchSharp.torch;
            public sealed class C
            {
                {{member}}
            }
            """;
        string runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        MetadataReference[] references =
        [
            .. new[] { "System.Runtime.dll", "System.Private.CoreLib.dll", "System.Runtime.Numerics.dll", "netstandard.dll" }.Select(f => MetadataReference.CreateFromFile(Path.Combine(runtime, f))),
            MetadataReference.CreateFromFile(typeof(TorchSharp.Scalar).Assembly.Location),
        ];
        var compilation = CSharpCompilation.Create("probe", [CSharpSyntaxTree.ParseText(source)], references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        return compilation.WithAnalyzers([new ScalarTemporaryAnalyzer()]).GetAnalyzerDiagnosticsAsync().Result;
    }
}
