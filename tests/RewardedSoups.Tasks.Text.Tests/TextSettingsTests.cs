using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The <c>text</c> section of a configuration: its documented defaults, what a section sets, and each refusal naming the file and key.</summary>
public sealed class TextSettingsTests : IDisposable
{
    private const string Source = "cfg.yaml";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static TextSettings Parse(JsonObject? section) => TextFamily.Settings(new TextFamily().ReadSettings(TextFamily.Task, section, new ConfigReader(Source)));

    private static TextSettings Parse(string json) => Parse(JsonNode.Parse(json)!.AsObject());

    [Fact]
    public void Parse_NoSection_TheDocumentedDefaults()
    {
        TextSettings s = Parse((JsonObject?)null);
        // GPT-2 layout, 4 layers × 128 wide, 4 heads, a 64-token context, GPT-2's BPE cut to 8,192 tokens.
        Assert.Equal(("builtin", 8192, 4, 128, 4, 64), (s.Model, s.Vocab, s.Layers, s.Width, s.Heads, s.Context));
        Assert.True(s.IsBuiltIn);
        Assert.Equal(["delta", "factors"], s.SoupModes);
        Assert.Equal(["c_attn", "c_proj", "c_fc"], s.Lora.Targets);
        Assert.Equal(5, s.PromptTokens);
        Assert.Equal(32, s.Ppo.Batch);
        Assert.Equal(JsonSerializer.Serialize(s), JsonSerializer.Serialize(Parse("{}")));
    }

    [Fact]
    public void Parse_Section_SetsItsKeysKeepsTheOthers()
    {
        TextSettings s = Parse("""
            {"layers": 2, "width": 64, "heads": 2, "prompt_tokens": 3, "response_min": 4, "response_max": 8, "temperature": 0.7,
             "lora": {"rank": 4, "alpha": 8, "targets": ["attn.c_proj"]}, "ppo": {"batch": 12, "minibatches": 3, "responses_per_prompt": 4, "kl_init": 0, "adaptive_kl": false},
             "soup_modes": ["factors"]}
            """);
        Assert.Equal((2, 64, 2, 3, 4, 8, 0.7), (s.Layers, s.Width, s.Heads, s.PromptTokens, s.ResponseMin, s.ResponseMax, s.Temperature));
        Assert.Equal((4, 8.0), (s.Lora.Rank, s.Lora.Alpha));
        Assert.Equal(["attn.c_proj"], s.Lora.Targets);
        Assert.Equal((12, 3, 4, 0.0, false), (s.Ppo.Batch, s.Ppo.Minibatches, s.Ppo.ResponsesPerPrompt, s.Ppo.KlInit, s.Ppo.AdaptiveKl));
        Assert.Equal(["factors"], s.SoupModes);
        Assert.Equal((8192, 64, 3e-3), (s.Vocab, s.Context, s.Ppo.Lr)); // untouched keys keep their defaults
    }

    [Theory]
    [InlineData("""{"colour": 1}""", "'text.colour': unknown key")]
    [InlineData("""{"ppo": {"kl_coef": 1}}""", "'text.ppo.kl_coef': unknown key")]
    [InlineData("""{"lora": {"rank_pattern": 1}}""", "'text.lora.rank_pattern': unknown key")]
    [InlineData("""{"ppo": {"gamma": 1.5}}""", "'text.ppo.gamma': must be in (0, 1], got 1.5")]
    [InlineData("""{"width": 130}""", "'text.width': 130 is not a multiple of text.heads 4")]
    [InlineData("""{"response_min": 20}""", "'text.response_min': 20 exceeds text.response_max 16")]
    [InlineData("""{"context": 16}""", "'text.response_max': prompt (5 + 1) and response (16) tokens exceed the context of 16")]
    [InlineData("""{"ppo": {"batch": 30, "minibatches": 4}}""", "'text.ppo.minibatches': 4 does not divide text.ppo.batch 30")]
    [InlineData("""{"ppo": {"responses_per_prompt": 3}}""", "'text.ppo.responses_per_prompt': 3 does not divide text.ppo.batch 32")]
    [InlineData("""{"soup_modes": ["delta", "delta"]}""", "'text.soup_modes': a list of distinct modes")]
    [InlineData("""{"soup_modes": []}""", "'text.soup_modes': a list of distinct modes")]
    [InlineData("""{"soup_modes": ["linear"]}""", "'text.soup_modes': a list of distinct modes")]
    [InlineData("""{"lora": {"targets": ["q_proj"]}}""", "'text.lora.targets': 'q_proj' is not a GPT-2 layer")]
    [InlineData("""{"ppo": {"lr": 0}}""", "'text.ppo.lr': must be > 0")]
    [InlineData("""{"temperature": -1}""", "'text.temperature': must be > 0")]
    [InlineData("""{"ppo": {"kl_init": -0.5}}""", "'text.ppo.kl_init': must be ≥ 0")]
    [InlineData("""{"model": "/no/such/model"}""", "'text.model': '/no/such/model' is neither 'builtin' nor a folder with config.json")]
    public void Parse_BadSection_OneErrorNamingFileAndKey(string json, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => Parse(json));
        Assert.StartsWith(Source + ": ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("vocab", 255, 256, TextSettings.MaxVocab)]
    [InlineData("layers", 0, 1, TextSettings.MaxLayers)]
    [InlineData("context", 7, 8, TextSettings.MaxContext)]
    [InlineData("batch", 0, 1, TextSettings.MaxBatch)]
    public void Parse_SizesOutsideTheirRange_Refused(string key, int below, int min, int max)
    {
        // Context 8 leaves room for a 1-token prompt and response only.
        string rest = key == "context" ? """, "prompt_tokens": 1, "response_min": 1, "response_max": 6""" : "";
        Assert.Throws<SoupInputException>(() => Parse($$"""{"{{key}}": {{below}}{{rest}}}"""));
        Assert.Throws<SoupInputException>(() => Parse($$"""{"{{key}}": {{max + 1}}{{rest}}}"""));
        Parse($$"""{"{{key}}": {{min}}{{rest}}}""");
    }

    [Fact]
    public void Parse_ModelFolder_KeptAsAFullPathNotBuiltIn()
    {
        Directory.CreateDirectory(_dir.File("gpt2"));
        File.WriteAllText(Path.Combine(_dir.File("gpt2"), "config.json"), "{}");
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, _dir.File("gpt2"));
        TextSettings s = Parse($$"""{"model": {{JsonSerializer.Serialize(relative)}}}""");
        Assert.Equal(_dir.File("gpt2"), s.Model);
        Assert.False(s.IsBuiltIn);
    }
}
