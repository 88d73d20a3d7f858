using System.Text.Json;
using Microsoft.Playwright;
using RewardedSoups.Tasks.Image;
using RewardedSoups.Tests.Fixtures;
using Xunit.Abstractions;

namespace RewardedSoups.Tests;

/// <summary>A finished tiny image run (real diffusion model and classifier, fine-tuned experts, linear soups) served by the real app.</summary>
public sealed class ImageAppFixture() : ServedRunFixture("fashion-tiny");

/// <summary>The image showcase: a grid of one garment by expert 1, the soup θ(λ) (live, in memory) and expert 2, with the same noise.</summary>
public sealed class ImageShowcaseTests(ImageAppFixture app, ChromiumFixture chromium, ITestOutputHelper output) : IClassFixture<ImageAppFixture>, IClassFixture<ChromiumFixture>
{
    private string Api(string path) => $"api/runs/{app.RunId}{path}";

    [Fact]
    public async Task Showcase_ListsTheTenGarments_AndTheGrid()
    {
        (int status, JsonElement body) = await app.GetJsonAsync(Api("/showcase"));
        Assert.Equal(200, status);
        Assert.Equal("image", body.GetProperty("kind").GetString());
        JsonElement options = body.GetProperty("options");
        Assert.Equal(FashionMnist.Prompts, options.GetProperty("prompts").EnumerateArray().Select(p => p.GetProperty("prompt").GetString()));
        Assert.Equal(ImageShowcase.GridSize, options.GetProperty("grid").GetInt32());
        (_, JsonElement runs) = await app.GetJsonAsync("api/runs");
        Assert.Equal("image", runs[0].GetProperty("showcase").GetString());
    }

    [Fact]
    public async Task Soup_OneHotLambda_DrawsExactlyWhatItsExpertDraws()
    {
        (int status, JsonElement shown) = await app.GetJsonAsync(Api("/soup?lambda=1,0&prompt=3"));
        Assert.Equal(200, status);
        Assert.Equal(3, shown.GetProperty("promptIndex").GetInt32());
        Assert.Equal(FashionMnist.Prompts[3], shown.GetProperty("prompt").GetString());
        string png = shown.GetProperty("png").GetString()!;
        Assert.StartsWith("data:image/png;base64,", png);
        Assert.Equal(ImageShowcase.GridSize, shown.GetProperty("samples").GetArrayLength());

        // Expert 1 loaded from its job folder and sampled with the showcase's seed and the run's sampler: the same grid.
        var settings = ImageFamily.Settings(Runner.ExperimentRunner.Open(app.RunDir, Cli.Families.Catalogue).Config.Settings);
        using DiffusionUNet expert = ImageModel.Load(Path.Combine(app.RunDir, "jobs", "s1-expert-1", ImageModel.FileName));
        float[][] direct = ImageEvaluation.Sample(expert, 3, ImageShowcase.GridSize, ImageShowcase.Seed, settings.Sampler);
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(ImageGrid.Png(direct, ImageShowcase.Columns, scale: 3)), png);

        // Each image carries both rewards in [0, 1]; the means are their means.
        foreach (JsonElement s in shown.GetProperty("samples").EnumerateArray())
        {
            Assert.Equal(2, s.GetProperty("rewards").GetArrayLength());
            foreach (JsonElement v in s.GetProperty("rewards").EnumerateArray()) Assert.InRange(v.GetDouble(), 0, 1);
        }
        Assert.Equal(shown.GetProperty("samples").EnumerateArray().Average(s => s.GetProperty("rewards")[1].GetDouble()), shown.GetProperty("means")[1].GetDouble(), 9);

        // Each image's verdict by the independent checker (the init's checker.safetensors), and the grid's share.
        using FashionClassifier checker = FashionClassifier.Load(Path.Combine(app.RunDir, "jobs", "s1-init", ImagePretraining.CheckerFile));
        int[] top = ImageEvaluation.TopClasses(checker, direct.SelectMany(x => x).ToArray(), direct.Length);
        Assert.Equal(top.Select(c => c == 3), shown.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("recognised").GetBoolean()));
        Assert.Equal(top.Count(c => c == 3) / (double)direct.Length, shown.GetProperty("recognised").GetDouble(), 12);

        (_, JsonElement again) = await app.GetJsonAsync(Api("/soup?lambda=1,0&prompt=3"));
        Assert.True(again.GetProperty("cached").GetBoolean());
        Assert.Equal(png, again.GetProperty("png").GetString());
    }

    [Theory]
    [InlineData("/soup?lambda=0.5,0.5&prompt=10", "prompt must be a whole number in [0, 9]")]
    [InlineData("/soup?lambda=0.5,0.5&prompt=-1", "prompt must be a whole number")]
    [InlineData("/soup?lambda=0.5,0.5&prompt=bag", "prompt must be a whole number")]
    [InlineData("/soup?lambda=0.5,0.5&guidance=2", "unknown parameter 'guidance'")]
    [InlineData("/soup?lambda=0.5,0.6&prompt=1", "lambda sums to 1.1")]
    public async Task Soup_BadRequest_400WithOneLine(string path, string expected)
    {
        (int status, JsonElement body) = await app.GetJsonAsync(Api(path));
        Assert.Equal(400, status);
        Assert.Contains(expected, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task RunPage_ImageRun_ShowsThreeGrids_PromptChooserReloadsThem()
    {
        await using BrowserPage browser = await BrowserPage.OpenAsync(chromium.Browser, app);
        IPage page = browser.Page;
        foreach (string slot in new[] { "left", "soup", "right" })
            await page.WaitForFunctionAsync("s => document.querySelector(`#image-${s} img`).src.startsWith('data:image/png')", slot);
        Assert.True(await page.IsHiddenAsync("#canvas-soup"));
        Assert.True(await page.IsHiddenAsync("#playback"));
        Assert.True(await page.IsHiddenAsync("#text-soup"));

        await page.SelectOptionAsync("#prompt", "8");
        await page.WaitForFunctionAsync("() => ['left', 'soup', 'right'].every(s => document.querySelector(`#image-${s} img`).dataset.prompt === '8')");
        (_, JsonElement soup) = await app.GetJsonAsync(Api("/soup?lambda=0.5,0.5&prompt=8"));
        Assert.Equal(soup.GetProperty("png").GetString(), await page.GetAttributeAsync("#image-soup img", "src"));
        Assert.Contains("a bag", await page.GetAttributeAsync("#image-soup img", "alt"));
        output.WriteLine($"screenshot: {await browser.ScreenshotAsync("app-image-run-page.png")}");

        // The checker's share is named in the header, counted in images, and each point's hover gives its value.
        string summary = await page.InnerTextAsync("#summary");
        Assert.Contains("20 images per policy", summary);
        Assert.Contains("measured beside the rewards: recognised", summary);
        (_, JsonElement results) = await app.GetJsonAsync(Api("/results"));
        JsonElement init = results.GetProperty("policies").EnumerateArray().First(p => p.GetProperty("kind").GetString() == "init");
        double recognised = init.GetProperty("measures").GetProperty("recognised").GetProperty("mean").GetDouble();
        string initHover = await page.EvaluateAsync<string>("() => document.getElementById('pareto').data.find(t => t.name === 'shared init').text[0]");
        Assert.Contains($"recognised: {recognised.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)} [", initHover);
        browser.AssertNoErrors();
    }
}
