using System.Text.Json;
using Microsoft.Playwright;
using RewardedSoups.Tasks.Text;
using RewardedSoups.Tests.Fixtures;
using Xunit.Abstractions;

namespace RewardedSoups.Tests;

/// <summary>A finished tiny text run (real GPT, LM-PPO, LoRA soups) served by the real app.</summary>
public sealed class TextAppFixture() : ServedRunFixture("text-tiny");

/// <summary>The text showcase: continuations of a held-out prompt by expert 1, the soup θ(λ) (live) and expert 2.</summary>
public sealed class TextShowcaseTests(TextAppFixture app, ChromiumFixture chromium, ITestOutputHelper output) : IClassFixture<TextAppFixture>, IClassFixture<ChromiumFixture>
{
    private string Api(string path) => $"api/runs/{app.RunId}{path}";

    [Fact]
    public async Task Showcase_ListsHeldOutPrompts_AndTheSamplingSeeds()
    {
        (int status, JsonElement body) = await app.GetJsonAsync(Api("/showcase"));
        Assert.Equal(200, status);
        Assert.Equal("text", body.GetProperty("kind").GetString());
        JsonElement options = body.GetProperty("options");
        Assert.Equal(TextShowcase.PromptCount, options.GetProperty("prompts").GetArrayLength());
        Assert.Equal([0, 1, 2], options.GetProperty("seeds").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("delta", options.GetProperty("soup_mode").GetString());
        (_, JsonElement runs) = await app.GetJsonAsync("api/runs");
        Assert.Equal("text", runs[0].GetProperty("showcase").GetString());
    }

    [Fact]
    public async Task Soup_OneHotLambda_SamplesExactlyWhatItsExpertSamples()
    {
        (int status, JsonElement shown) = await app.GetJsonAsync(Api("/soup?lambda=1,0&prompt=3"));
        Assert.Equal(200, status);
        Assert.Equal(3, shown.GetProperty("promptIndex").GetInt32());
        var texts = shown.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("text").GetString()!).ToList();
        Assert.Equal(3, texts.Count);

        // Expert 1 loaded from its job folder and sampled with the showcase's seeds: the same texts.
        string init = Path.Combine(app.RunDir, "jobs", "s1-init", "model");
        using Gpt2Model expert = TextFamily.LoadPolicy(init, Path.Combine(app.RunDir, "jobs", "s1-expert-1"));
        var settings = TextFamily.Settings(Runner.ExperimentRunner.Open(app.RunDir, Cli.Families.Catalogue).Config.Settings);
        string prompt = TextTokenizers.EndOfText + shown.GetProperty("prompt").GetString();
        var tokenizer = TextTokenizers.ForModel(init, expert.Config);
        var direct = TextFamily.ShowcaseSeeds.Select(seed => Gpt2Sampling.GenerateText(expert, tokenizer, [prompt], settings.PromptTokens + 1, TextFamily.Sampling(settings), seed)[0]).ToList();
        Assert.Equal(direct.Select(TextRewards.Review), texts);
        Assert.Equal(direct.Select(d => d.Contains(TextTokenizers.EndOfText)), shown.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("ended").GetBoolean()));
        Assert.All(texts, t => Assert.DoesNotContain(TextTokenizers.EndOfText, t));

        // Each sample carries both rewards; faithfulness is a cosine similarity.
        foreach (JsonElement s in shown.GetProperty("samples").EnumerateArray())
        {
            Assert.Equal(2, s.GetProperty("rewards").GetArrayLength());
            Assert.InRange(s.GetProperty("rewards")[1].GetDouble(), -1, 1);
        }
        Assert.Equal(shown.GetProperty("samples").EnumerateArray().Average(s => s.GetProperty("rewards")[0].GetDouble()), shown.GetProperty("means")[0].GetDouble(), 9);

        (_, JsonElement again) = await app.GetJsonAsync(Api("/soup?lambda=1,0&prompt=3"));
        Assert.True(again.GetProperty("cached").GetBoolean());
        Assert.Equal(texts, again.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("text").GetString()!));
    }

    [Theory]
    [InlineData("ties", "s1-soup-ties-02")]
    [InlineData("slerp", "s1-soup-slerp-02")]
    public async Task Soup_OtherMergeMethod_SamplesWhatTheRunsSoupOfThatMethodSamples(string method, string job)
    {
        (int status, JsonElement shown) = await app.GetJsonAsync(Api($"/soup?lambda=0.5,0.5&prompt=2&method={method}"));
        Assert.Equal(200, status);
        var texts = shown.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("text").GetString()!).ToList();

        // The live soup is the run's soup job of that method at λ = (0.5, 0.5): the same adapter, the same texts.
        string init = Path.Combine(app.RunDir, "jobs", "s1-init", "model");
        using Gpt2Model soup = TextFamily.LoadPolicy(init, Path.Combine(app.RunDir, "jobs", job));
        var settings = TextFamily.Settings(Runner.ExperimentRunner.Open(app.RunDir, Cli.Families.Catalogue).Config.Settings);
        string prompt = TextTokenizers.EndOfText + shown.GetProperty("prompt").GetString();
        var tokenizer = TextTokenizers.ForModel(init, soup.Config);
        var direct = TextFamily.ShowcaseSeeds.Select(seed => Gpt2Sampling.GenerateText(soup, tokenizer, [prompt], settings.PromptTokens + 1, TextFamily.Sampling(settings), seed)[0]).ToList();
        Assert.Equal(direct.Select(TextRewards.Review), texts);
    }

    [Theory]
    [InlineData("/soup?lambda=0.5,0.5&prompt=999", "prompt must be a whole number in [0, 23]")]
    [InlineData("/soup?lambda=0.5,0.5&prompt=-1", "prompt must be a whole number")]
    [InlineData("/soup?lambda=0.5,0.5&prompt=two", "prompt must be a whole number")]
    [InlineData("/soup?lambda=0.5,0.5&temperature=2", "unknown parameter 'temperature'")]
    [InlineData("/soup?lambda=0.5,0.6&prompt=1", "lambda sums to 1.1")]
    public async Task Soup_BadRequest_400WithOneLine(string path, string expected)
    {
        (int status, JsonElement body) = await app.GetJsonAsync(Api(path));
        Assert.Equal(400, status);
        Assert.Contains(expected, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task RunPage_TextRun_ShowsThreePanelsOfContinuations_PromptChooserReloadsThem()
    {
        await using BrowserPage browser = await BrowserPage.OpenAsync(chromium.Browser, app);
        IPage page = browser.Page;
        foreach (string slot in new[] { "left", "soup", "right" })
            await page.WaitForSelectorAsync($"#text-{slot} p:nth-child(3)");
        Assert.True(await page.IsHiddenAsync("#canvas-soup"));
        Assert.True(await page.IsHiddenAsync("#playback"));
        (_, JsonElement options) = await app.GetJsonAsync(Api("/showcase"));
        string prompt1 = options.GetProperty("options").GetProperty("prompts")[1].GetProperty("prompt").GetString()!;

        await page.SelectOptionAsync("#prompt", "1");
        await page.WaitForFunctionAsync("p => document.querySelector('#text-soup p b').textContent === p", prompt1);
        (_, JsonElement soup) = await app.GetJsonAsync(Api("/soup?lambda=0.5,0.5&prompt=1"));
        string first = soup.GetProperty("samples")[0].GetProperty("text").GetString()!;
        Assert.StartsWith(prompt1 + first, await page.InnerTextAsync("#text-soup p"));
        Assert.Equal(prompt1, await page.InnerTextAsync("#text-left p b"));
        output.WriteLine($"screenshot: {await browser.ScreenshotAsync("app-text-run-page.png")}");
        browser.AssertNoErrors();
    }
}
