using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The text family's parts that need no model: settings, budgets, policy paths, the init's details, and the refusals before any work.</summary>
public sealed class TextFamilyTests : IDisposable
{
    private readonly TextFamily _family = new();
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ISettingsSection Settings(string? json = null) =>
        _family.ReadSettings(TextFamily.Task, json is null ? null : JsonNode.Parse(json)!.AsObject(), new ConfigReader("cfg.yaml"));

    [Fact]
    public void ReadSettings_RoundTripsThroughItsSection()
    {
        ISettingsSection resolved = Settings("""{"ppo": {"batch": 12, "minibatches": 3}, "soup_modes": ["factors"]}""");
        TextSettings s = TextFamily.Settings(resolved);
        Assert.Equal((12, 3), (s.Ppo.Batch, s.Ppo.Minibatches));
        // The section as the resolved configuration writes it reads back to the same record.
        Assert.Equal(SettingsSection.ToJson(s).ToJsonString(),
            SettingsSection.ToJson(_family.ReadSettings(TextFamily.Task, SettingsSection.ToJson(s), new ConfigReader("resolved"))).ToJsonString());
        Assert.Equal(["factors"], _family.SoupModes(resolved));
        Assert.Equal(["delta", "factors"], _family.SoupModes(Settings()));
        Assert.Throws<SoupInputException>(() => Settings("""{"ppo": {"batch": 0}}"""));
    }

    [Theory]
    [InlineData(TrainRole.Init, 1000, 0)]     // the language-model training is not counted
    [InlineData(TrainRole.Expert, 64, 64)]    // whole PPO batches of 32 responses
    [InlineData(TrainRole.Expert, 65, 96)]
    [InlineData(TrainRole.Morl, 1, 32)]
    public void SpentBudget_InWholePpoBatches_InitFree(TrainRole role, long asked, long spent) =>
        Assert.Equal(spent, _family.SpentBudget(role, asked, Settings()));

    [Fact]
    public void SpentBudget_OtherBatch_RoundsToIt() =>
        Assert.Equal(3 * 12, _family.SpentBudget(TrainRole.Expert, 25, Settings("""{"ppo": {"batch": 12}}""")));

    [Fact]
    public void Description_TermsRewardsAndCost()
    {
        Assert.Equal(["positivity", "faithfulness"], _family.RewardTerms(TextFamily.Task));
        Assert.Equal(["positive", "faithful"], _family.NamedRewards(TextFamily.Task).Select(r => r.Name));
        Assert.False(_family.InitUsesReward);
        Assert.Equal("RL responses", _family.CostUnit);
        Assert.Equal(["reviews"], _family.Tasks);
        Assert.Equal("text", _family.SettingsKey);
    }

    [Fact]
    public void PolicyPath_InitsModelOthersAdapter()
    {
        Assert.Equal(Path.Combine("job", TextInit.ModelDir), _family.PolicyPath("job", TrainRole.Init));
        Assert.Equal(Path.Combine("job", LmPpoRun.AdapterFolder), _family.PolicyPath("job", TrainRole.Expert));
        Assert.Equal(Path.Combine("job", LmPpoRun.AdapterFolder), _family.PolicyPath("job", TrainRole.Morl));
        Assert.Equal(Path.Combine("job", LmPpoRun.AdapterFolder), _family.PolicyPath("job", null)); // a soup
    }

    [Fact]
    public void Train_GivenModelWithAPretrainBudget_RefusedBeforeLoadingIt()
    {
        string model = _dir.File("gpt2");
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "config.json"), "{}"); // enough for the settings; never loaded
        ISettingsSection settings = Settings($$"""{"model": {{JsonSerializer.Serialize(model)}}}""");
        var spec = new TrainJobSpec(TextFamily.Task, TrainRole.Init, _dir.File("init"), null, null, 100, 1, settings);
        var e = Assert.Throws<SoupInputException>(() => _family.Train(spec, null, CancellationToken.None));
        Assert.Contains("set pretrain.steps to 0", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir.File("init"), TextInit.ReportFile)));
    }

    [Fact]
    public void Train_ExpertWithoutReward_Refused()
    {
        var spec = new TrainJobSpec(TextFamily.Task, TrainRole.Expert, _dir.File("expert"), _dir.File("init"), null, 32, 1, Settings());
        Assert.Contains("needs a reward", Assert.Throws<SoupInputException>(() => _family.Train(spec, null, CancellationToken.None)).Message);
    }

    [Fact]
    public void Soup_UnknownMode_RefusedNamingTheModes()
    {
        var spec = new SoupJobSpec(TextFamily.Task, [_dir.File("e1"), _dir.File("e2")], [0.5, 0.5], "linear", _dir.File("soup"), _dir.File("init"), Settings());
        var e = Assert.Throws<SoupInputException>(() => _family.Soup(spec, CancellationToken.None));
        Assert.Contains("text soups are 'delta' or 'factors', not 'linear'", e.Message);
    }

    [Fact]
    public void InitDetails_FromInitJson_WithPerplexities()
    {
        Assert.Null(_family.InitDetails(_dir.Path));
        var report = new TextInitReport("built-in", 1234, 8193, 5000, 10, PretrainValidLoss: null, SftSteps: 20, SftValidLossBefore: 3, SftValidLoss: 2, Seconds: 1.5);
        File.WriteAllText(_dir.File(TextInit.ReportFile), JsonSerializer.Serialize(report));
        JsonObject details = _family.InitDetails(_dir.Path)!;
        // Perplexity is e^loss: e² for the reviews' held-out stream; none without pre-training.
        Assert.Equal(7.38905609893065, details["sft_valid_perplexity"]!.GetValue<double>(), 12);
        Assert.Null(details["pretrain_valid_perplexity"]);
        Assert.Equal(1234, details["parameters"]!.GetValue<int>());
        Assert.Equal(Math.Exp(1.5), (report with { PretrainValidLoss = 1.5 }).PretrainValidPerplexity!.Value, 12);
    }

    [Fact]
    public void SamplingAndPpo_FromTheSettings_PromptCountsTheEndOfText()
    {
        TextSettings s = TextFamily.Settings(Settings("""{"prompt_tokens": 3, "response_min": 6, "response_max": 9, "temperature": 0.8, "ppo": {"batch": 16, "epochs": 2}}"""));
        SamplingSettings sampling = TextFamily.Sampling(s);
        Assert.Equal((0.8, 0, 6, 9), (sampling.Temperature, sampling.TopK, sampling.MinNewTokens, sampling.MaxNewTokens));
        LmPpoSettings ppo = s.Trainer;
        // <|endoftext|> then 3 tokens of the review.
        Assert.Equal(4, ppo.PromptTokens);
        Assert.Equal((16, 2, 6, 9, 0.8), (ppo.Batch, ppo.Epochs, ppo.ResponseMin, ppo.ResponseMax, ppo.Temperature));
        LoraSettings lora = s.Lora;
        Assert.Equal((8, 16.0), (lora.Rank, lora.Alpha));
        Assert.Equal(["c_attn", "c_proj", "c_fc"], lora.Targets);
    }
}
