using System.Globalization;
using System.Text.Json.Nodes;
using RewardedSoups.Learning;
using RewardedSoups.Tasks;
using RewardedSoups.Tasks.Image;

namespace RewardedSoups.Tests;

/// <summary>The image task's settings records: the presets, the checks of records built in code, and the <c>image</c> section read from a configuration.</summary>
public sealed class ImageSettingsTests
{
    [Fact]
    public void Sizes_AreValid_AndNamed()
    {
        foreach (string name in ImageTaskSettings.SizeNames) ImageTaskSettings.Size(name).Validate();
        Assert.Equal("image task: unknown size 'huge'; sizes: tiny, built-in, large", Assert.Throws<SoupInputException>(() => ImageTaskSettings.Size("huge")).Message);
        Assert.Equal(ImageTaskSettings.PromptAndLastBlock, ImageTaskSettings.BuiltIn.FineTune.Trainable);
        ImageFineTuneSettings f = ImageTaskSettings.BuiltIn.FineTune;
        Assert.Equal((long)f.Rounds * f.ImagesPerPrompt * 10, f.ImagesGenerated);   // the cost: every prompt, every round
        Assert.Equal(16, (ImageTaskSettings.Tiny.FineTune with { ImagesPerPrompt = 31, KeepFraction = 0.5 }).KeptPerPrompt); // ⌈31 / 2⌉
        // A preset's fine-tuning samples with the preset's sampler.
        foreach (string name in ImageTaskSettings.SizeNames)
            Assert.Equal(ImageTaskSettings.Size(name).Sampler, ImageTaskSettings.Size(name).FineTune.Sampler);
    }

    [Fact]
    public void BuiltInTrainableSubset_IsAboutATenthOfTheParameters()
    {
        using var model = TorchRandom.Shared(() => new DiffusionUNet(ImageTaskSettings.BuiltIn.Pretrain.Channels));
        double share = model.ParameterCount(ImageTaskSettings.PromptAndLastBlock) / (double)model.ParameterCount();
        Assert.InRange(share, 0.08, 0.15);
    }

    [Theory]
    [InlineData("rounds", "'image.fine_tune': rounds must be ≥ 1, got 0")]
    [InlineData("k", "'image.fine_tune.images_per_prompt': expected a whole number ≥ 2, got 1")]
    [InlineData("keep", "'image.fine_tune.keep_fraction': must be in (0, 1], got 0")]
    [InlineData("lr", "'image.fine_tune.learning_rate': must be in (0, 1], got -1")]
    [InlineData("module", "'image.fine_tune.trainable': unknown module 'attn'; 'all' or a list of: time_mlp, class_emb, conv_in, down0, downsample, down1, mid, up1, upsample, up0, out_norm, conv_out")]
    [InlineData("steps", "'image.sampler.steps': expected a whole number ≥ 1, got 0")]
    [InlineData("guidance", "'image.sampler.guidance': expected a finite number, got \"NaN\"")]
    [InlineData("trainer", "'image.fine_tune.trainer': unknown trainer 'ppo'; trainers: rwr, ddpo, dpo")]
    [InlineData("ddpo-steps", "'image.sampler.steps': trainer ddpo needs at least 4 (it trains steps 1 … S − 3), got 3")]
    [InlineData("eta", "'image.fine_tune.eta': must be in (0, 1], got 0")]
    [InlineData("clip", "'image.fine_tune.clip_range': must be in (0, 1), got 1")]
    [InlineData("beta", "'image.fine_tune.dpo_beta': must be > 0, got -1")]
    [InlineData("batch", "'image.fine_tune.batch': must be at most 4096, got 5000")]
    public void FineTuneSettings_Invalid_SayWhich(string field, string message)
    {
        ImageFineTuneSettings s = ImageTaskSettings.Tiny.FineTune;
        s = field switch
        {
            "rounds" => s with { Rounds = 0 },
            "k" => s with { ImagesPerPrompt = 1 },
            "keep" => s with { KeepFraction = 0 },
            "lr" => s with { LearningRate = -1 },
            "module" => s with { Trainable = ["attn"] },
            "steps" => s with { Sampler = new SamplerSettings { Steps = 0 } },
            "trainer" => s with { Trainer = "ppo" },
            "ddpo-steps" => s with { Trainer = ImageFineTuneSettings.Ddpo, Sampler = new SamplerSettings { Steps = 3 } },
            "eta" => s with { Eta = 0 },
            "clip" => s with { ClipRange = 1 },
            "beta" => s with { DpoBeta = -1 },
            "batch" => s with { Batch = 5000 },
            _ => s with { Sampler = new SamplerSettings { Guidance = double.NaN } },
        };
        Assert.Equal(message, Assert.Throws<SoupInputException>(s.Validate).Message);
    }

    [Fact]
    public void PretrainSettings_Invalid_SayWhich()
    {
        Assert.Equal("'image.pretrain.channels': must be a multiple of 4, got 6", Assert.Throws<SoupInputException>(() => new ImagePretrainSettings { Channels = 6 }.Validate()).Message);
        Assert.Equal("'image.pretrain.label_dropout': must be in [0, 1), got 1", Assert.Throws<SoupInputException>(() => new ImagePretrainSettings { LabelDropout = 1 }.Validate()).Message);
        Assert.Equal("'pretrain.steps': the image pre-training needs at least 1 step, got 0", Assert.Throws<SoupInputException>(() => new ImagePretrainSettings { Steps = 0 }.Validate()).Message);
    }

    // The resolved settings of every preset and of configs/fashion-tiny.yaml's section, as the flat section and
    // its hand-written binder gave them before the section was nested (recorded from that code): the same numbers.
    [Theory]
    [InlineData("""{"size": "tiny"}""", 1200, 1920,
        "C 8; classifier 300 steps × 64 at 0.001; diffusion 1200 steps × 32 at 0.003; dropout 0.1; quality 4",
        "24 rounds × K 8 (keep 1, 8 kept); 15 steps × 16 at 0.001; anchor 1; dropout 0.1; rwr; eta 1; clip 0.01; advantage clip 5; dpo β 2000; trainable all; 1920 images",
        "6 steps, guidance 3")]
    [InlineData("""{"size": "built-in"}""", 1200, 1920,
        "C 16; classifier 1500 steps × 128 at 0.001; diffusion 1200 steps × 64 at 0.002; dropout 0.1; quality 20",
        "6 rounds × K 32 (keep 1, 32 kept); 60 steps × 32 at 0.0003; anchor 1; dropout 0.1; rwr; eta 1; clip 0.01; advantage clip 5; dpo β 2000; trainable class_emb,up0,out_norm,conv_out; 1920 images",
        "10 steps, guidance 3")]
    [InlineData("{}", 1200, 1920,
        "C 16; classifier 1500 steps × 128 at 0.001; diffusion 1200 steps × 64 at 0.002; dropout 0.1; quality 20",
        "6 rounds × K 32 (keep 1, 32 kept); 60 steps × 32 at 0.0003; anchor 1; dropout 0.1; rwr; eta 1; clip 0.01; advantage clip 5; dpo β 2000; trainable class_emb,up0,out_norm,conv_out; 1920 images",
        "10 steps, guidance 3")]
    [InlineData("""{"size": "built-in"}""", 150, 80,
        "C 16; classifier 1500 steps × 128 at 0.001; diffusion 150 steps × 64 at 0.002; dropout 0.1; quality 20",
        "1 rounds × K 32 (keep 1, 32 kept); 60 steps × 32 at 0.0003; anchor 1; dropout 0.1; rwr; eta 1; clip 0.01; advantage clip 5; dpo β 2000; trainable class_emb,up0,out_norm,conv_out; 320 images",
        "10 steps, guidance 3")]
    [InlineData("""{"size": "large"}""", 1200, 1920,
        "C 48; classifier 4000 steps × 128 at 0.001; diffusion 1200 steps × 128 at 0.001; dropout 0.1; quality 50",
        "3 rounds × K 64 (keep 1, 64 kept); 80 steps × 64 at 0.0003; anchor 1; dropout 0.1; rwr; eta 1; clip 0.01; advantage clip 5; dpo β 2000; trainable all; 1920 images",
        "20 steps, guidance 3")]
    [InlineData("""{"size": "tiny", "pretrain": {"classifier_steps": 100}, "fine_tune": {"images_per_prompt": 8, "steps_per_round": 5}}""", 150, 80,
        "C 8; classifier 100 steps × 64 at 0.001; diffusion 150 steps × 32 at 0.003; dropout 0.1; quality 4",
        "1 rounds × K 8 (keep 1, 8 kept); 5 steps × 16 at 0.001; anchor 1; dropout 0.1; rwr; eta 1; clip 0.01; advantage clip 5; dpo β 2000; trainable all; 80 images",
        "6 steps, guidance 3")]
    public void Section_PresetsAndFashionTiny_ResolveToTheSameNumbersAsBefore(string section, long pretrainSteps, long budget, string pretrain, string fineTune, string sampler)
    {
        ImageFamilySettings s = Read(section);
        Assert.Equal(pretrain, Describe(s.PretrainFor(pretrainSteps)));
        Assert.Equal(fineTune, Describe(s.FineTuneFor(budget)));
        Assert.Equal(sampler, Describe(s.Sampler));
        Assert.Equal(s.Sampler, s.FineTuneFor(budget).Sampler);   // fine-tuning samples as evaluation does
        SettingsSection.Validate(s, "image");
    }

    [Fact]
    public void Section_AnOverride_KeepsThePresetsOtherDefaults()
    {
        ImageFamilySettings s = Read("""{"size": "tiny", "fine_tune": {"batch": 4}}""");
        Assert.Equal(ImageTaskSettings.Tiny.FineTune with { Batch = 4 }, s.FineTune);
        Assert.Equal(ImageTaskSettings.Tiny.Pretrain, s.Pretrain);
        Assert.Equal(ImageTaskSettings.Tiny.Sampler, s.Sampler);
        Assert.Equal(ImagePretrainSettings.MaxChannels, Read("""{"size": "tiny", "pretrain": {"channels": 256}}""").Pretrain.Channels);
        // The preset itself is untouched.
        Assert.Equal(16, ImageTaskSettings.Tiny.FineTune.Batch);
    }

    [Fact]
    public void Section_TrainableAll_IsEveryModule_AndTheBuiltInDefaultIsItsSubset()
    {
        Assert.Equal(ImageTaskSettings.PromptAndLastBlock, Read("{}").FineTune.Trainable);
        JsonObject section = JsonNode.Parse("""{"fine_tune": {"trainable": "all"}}""")!.AsObject();
        Assert.Empty(ImageFamilySettings.Read(section, new ConfigReader("x.yaml"), "image").FineTune.Trainable);
        Assert.Equal("all", section["fine_tune"]!["trainable"]!.GetValue<string>());   // the configuration's own node is not rewritten
        Assert.Equal(["up0", "conv_out"], Read("""{"fine_tune": {"trainable": ["up0", "conv_out"]}}""").FineTune.Trainable);
        Assert.Equal("x.yaml: 'image.fine_tune.trainable': expected a list", Error("""{"fine_tune": {"trainable": "every"}}"""));
    }

    [Theory]
    [InlineData("""{"fine_tune": {"lr": 0.001}}""", "x.yaml: 'image.fine_tune.lr': unknown key; valid here: images_per_prompt, keep_fraction, steps_per_round, batch, learning_rate, anchor_weight, label_dropout, trainer, eta, clip_range, advantage_clip, dpo_beta, trainable")]
    [InlineData("""{"channels": 16}""", "x.yaml: 'image.channels': unknown key; valid here: size, pretrain, fine_tune, sampler")]
    [InlineData("""{"pretrain": {"steps": 100}}""", "x.yaml: 'image.pretrain.steps': unknown key; valid here: channels, classifier_steps, classifier_batch, classifier_learning_rate, batch, learning_rate, label_dropout, quality_samples_per_prompt")]
    [InlineData("""{"fine_tune": {"rounds": 3}}""", "x.yaml: 'image.fine_tune.rounds': unknown key; valid here: images_per_prompt, keep_fraction, steps_per_round, batch, learning_rate, anchor_weight, label_dropout, trainer, eta, clip_range, advantage_clip, dpo_beta, trainable")]
    [InlineData("""{"fine_tune": {"trainer": "ddpo"}, "sampler": {"steps": 3}}""", "x.yaml: 'image.sampler.steps': trainer ddpo needs at least 4 (it trains steps 1 … S − 3), got 3")]
    [InlineData("""{"size": "tiny", "fine_tune": {"trainer": "ddpo"}}""", null)]
    [InlineData("""{"sampler": {"steps": 1001}}""", "x.yaml: 'image.sampler.steps': must be at most 1000, got 1001")]
    [InlineData("""{"size": "huge", "fine_tune": {"batch": 4}}""", "x.yaml: 'image.size': unknown size 'huge'; sizes: tiny, built-in, large")]
    [InlineData("""{"size": 3}""", "x.yaml: 'image.size': expected a non-empty text")]
    [InlineData("""{"pretrain": {"channels": 10}}""", "x.yaml: 'image.pretrain.channels': must be a multiple of 4, got 10")]
    [InlineData("""{"pretrain": {"quality_samples_per_prompt": 2000}}""", "x.yaml: 'image.pretrain.quality_samples_per_prompt': must be at most 1024, got 2000")]
    [InlineData("""{"fine_tune": {"anchor_weight": -1}}""", "x.yaml: 'image.fine_tune.anchor_weight': must be ≥ 0, got -1")]
    [InlineData("""{"sampler": "fast"}""", "x.yaml: 'image.sampler': expected a mapping of keys")]
    public void Section_Invalid_OneLineNamingTheKey(string section, string? expected)
    {
        if (expected is null)
        {
            Assert.Equal(6, Read(section).Sampler.Steps);   // tiny's 6 sampler steps are enough for DDPO
            return;
        }
        string message = Error(section);
        Assert.Equal(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Section_ItsJson_ReadsBackToTheSameSettings()
    {
        foreach (string section in new[] { "{}", """{"size": "large", "fine_tune": {"trainer": "dpo", "trainable": ["up0"]}, "sampler": {"guidance": 1.5}}""" })
        {
            ImageFamilySettings s = Read(section);
            JsonObject json = SettingsSection.ToJson(s);
            Assert.Equal(["size", "pretrain", "fine_tune", "sampler"], json.Select(p => p.Key));
            Assert.Equal(json.ToJsonString(), SettingsSection.ToJson(ImageFamilySettings.Read(json, new ConfigReader("resolved"), "image")).ToJsonString());
        }
    }

    private static ImageFamilySettings Read(string section) =>
        ImageFamilySettings.Read(JsonNode.Parse(section)!.AsObject(), new ConfigReader("x.yaml"), "image");

    private static string Error(string section) => Assert.Throws<SoupInputException>(() => Read(section)).Message;

    private static string Describe(ImagePretrainSettings p) => string.Create(CultureInfo.InvariantCulture,
        $"C {p.Channels}; classifier {p.ClassifierSteps} steps × {p.ClassifierBatch} at {p.ClassifierLearningRate}; diffusion {p.Steps} steps × {p.Batch} at {p.LearningRate}; dropout {p.LabelDropout}; quality {p.QualitySamplesPerPrompt}");

    private static string Describe(ImageFineTuneSettings f) => string.Create(CultureInfo.InvariantCulture,
        $"{f.Rounds} rounds × K {f.ImagesPerPrompt} (keep {f.KeepFraction}, {f.KeptPerPrompt} kept); {f.StepsPerRound} steps × {f.Batch} at {f.LearningRate}; anchor {f.AnchorWeight}; dropout {f.LabelDropout}; {f.Trainer}; eta {f.Eta}; clip {f.ClipRange}; advantage clip {f.AdvantageClip}; dpo β {f.DpoBeta}; trainable {(f.Trainable.Count == 0 ? "all" : string.Join(",", f.Trainable))}; {f.ImagesGenerated} images");

    private static string Describe(SamplerSettings s) => string.Create(CultureInfo.InvariantCulture, $"{s.Steps} steps, guidance {s.Guidance}");
}
