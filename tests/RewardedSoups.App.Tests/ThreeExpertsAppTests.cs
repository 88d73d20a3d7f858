using Microsoft.Playwright;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The tiny locomotion run with three experts (risky, cautious, tall) on a simplex grid, served (about 15 s).</summary>
public sealed class ThreeExpertsAppFixture() : ServedRunFixture("tiny-three.yaml", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "configs", "tiny.yaml"))
    .Replace("  rewards: [risky, cautious]\n", "  rewards: [risky, cautious, {name: tall, terms: {height: 1}}]\n", StringComparison.Ordinal)
    .Replace("soups:\n  step: 0.5\n", "soups:\n  divisions: 2\n", StringComparison.Ordinal)
    .Replace("  preferences: [0.5]\n", "  preferences: [[0.4, 0.3, 0.3]]\n", StringComparison.Ordinal));

[CollectionDefinition(nameof(ThreeExpertsAppCollection))]
public sealed class ThreeExpertsAppCollection : ICollectionFixture<ThreeExpertsAppFixture>;

/// <summary>
/// A run with three rewards in the browser: every expert has a panel, the plot shows every pair of rewards
/// with the soups as markers (no lines joining a simplex grid), and the triangle picks λ, marks it and the
/// evaluated soups, and the soup panel and the plots follow.
/// </summary>
[Collection(nameof(ThreeExpertsAppCollection))]
public sealed class ThreeExpertsAppTests(ThreeExpertsAppFixture app, ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task RunPage_ThreeRewards_ShowsEveryExpertAndEveryPairOfRewards()
    {
        await using BrowserPage page = await OpenAsync();

        // The soup, the experts' output-space ensemble of the same λ (the run measured ensembles), then every expert.
        Assert.Equal(["soup λ = (0.33, 0.33, 0.33)", "ensemble λ = (0.33, 0.33, 0.33) (outputs combined)", "expert 1: risky (λ = (1.00, 0.00, 0.00))", "expert 2: cautious (λ = (0.00, 1.00, 0.00))", "expert 3: tall (λ = (0.00, 0.00, 1.00))"],
            await page.Page.Locator(".row .panel h3").AllInnerTextsAsync());
        Assert.Equal("0,1,0", await page.Page.GetAttributeAsync("#rewards-expert-2", "data-lambda"));
        // Three panels (risky–cautious, risky–tall, cautious–tall), each with the 6 soups of divisions 2 and the soup of
        // MORL's μ = (0.4, 0.3, 0.3) (every MORL preference joins the λ grid) as markers only.
        Assert.Equal(3, await page.Page.Locator("#pareto .cartesianlayer .subplot").CountAsync());
        string[] modes = await page.Page.EvaluateAsync<string[]>("() => document.getElementById('pareto').data.filter(t => t.name.startsWith('RS soups')).map(t => t.mode + ':' + t.x.length)");
        Assert.Equal(["markers:7", "markers:7", "markers:7"], modes);
        await page.ScreenshotAsync("app-three-experts.png");
        page.AssertNoErrors();
    }

    [Fact]
    public async Task Triangle_Clicked_PicksThatLambdaAndMarksIt()
    {
        await using BrowserPage page = await OpenAsync();

        // A click at expert 2's vertex (bottom left of the triangle, drawn at (14, 196) of its 240 × 210 canvas).
        ILocator triangle = page.Page.Locator("#triangle");
        await triangle.ScrollIntoViewIfNeededAsync();
        LocatorBoundingBoxResult box = (await triangle.BoundingBoxAsync())!;
        // Its drawing area starts inside a 1-pixel border and is drawn at its own size (240 × 210).
        await page.Page.Mouse.ClickAsync((float)(box.X + 1 + 14), (float)(box.Y + 1 + 196));
        await page.Page.WaitForFunctionAsync("() => document.getElementById('rewards-soup').dataset.lambda === '0,1,0'");

        Assert.Equal("soup λ = (0.00, 1.00, 0.00)", await page.Page.InnerTextAsync("#soup-title"));
        // The soup at a vertex is the expert: the same rollout as expert 2's panel.
        Assert.Equal(await page.Page.EvaluateAsync<double[]>("() => replays['expert-2'].returns"), await page.Page.EvaluateAsync<double[]>("() => replays.soup.returns"));
        // Every plot panel rings the chosen soup, at expert 2's evaluated means.
        Assert.Equal("0,1,0", await page.Page.GetAttributeAsync("#pareto", "data-chosen"));
        // The triangle draws a ring at λ: its pixel at the ring's edge is dark.
        int[] pixel = await page.Page.EvaluateAsync<int[]>("() => Array.from(document.getElementById('triangle').getContext('2d').getImageData(14 + 8, 196, 1, 1).data)");
        Assert.True(pixel[3] > 0 && pixel[0] < 100, $"no ring drawn at λ: pixel {string.Join(",", pixel)}");
        page.AssertNoErrors();
    }

    [Fact]
    public async Task MuTriangle_Clicked_AsksTheServerForLambdaStar_AndPlaysIt()
    {
        await using BrowserPage page = await OpenAsync();
        (_, System.Text.Json.JsonElement expected) = await app.GetJsonAsync($"api/runs/{app.RunId}/prefer?mu=0,0,1");
        double[] star = expected.GetProperty("lambda_star").EnumerateArray().Select(e => e.GetDouble()).ToArray();

        // A click at reward 3's vertex of the μ triangle (bottom right, drawn at (226, 196)): μ = (0, 0, 1).
        ILocator triangle = page.Page.Locator("#mu-triangle");
        await triangle.ScrollIntoViewIfNeededAsync();
        LocatorBoundingBoxResult box = (await triangle.BoundingBoxAsync())!;
        await page.Page.Mouse.ClickAsync((float)(box.X + 1 + 226), (float)(box.Y + 1 + 196));
        await page.Page.WaitForFunctionAsync("() => document.getElementById('preference').value === 'any'");
        Assert.Equal("μ = (0.00, 0.00, 1.00) (any μ)", await page.Page.InnerTextAsync("#preference option[value=any]"));
        string lambdaStar = "(" + string.Join(", ", star.Select(l => l.ToString("F2", System.Globalization.CultureInfo.InvariantCulture))) + ")";
        Assert.StartsWith($"λ*(μ) = {lambdaStar}: utility μ · R ", await page.Page.InnerTextAsync("#preference-note"));
        // The triangle rings μ: the pixel at the ring's left edge is dark.
        int[] pixel = await page.Page.EvaluateAsync<int[]>("() => Array.from(document.getElementById('mu-triangle').getContext('2d').getImageData(226 - 7, 196, 1, 1).data)");
        Assert.True(pixel[3] > 0 && pixel[0] < 100, $"no ring drawn at μ: pixel {string.Join(",", pixel)}");
        await page.Page.ClickAsync("#play-star");
        await page.Page.WaitForFunctionAsync($"() => document.getElementById('rewards-soup').dataset.lambda === '{string.Join(",", star.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)))}'");
        page.AssertNoErrors();
    }

    private async Task<BrowserPage> OpenAsync()
    {
        BrowserPage page = await BrowserPage.OpenAsync(chromium.Browser, app);
        await page.Page.WaitForFunctionAsync("() => replays.soup && replays.left && replays.right && replays['expert-2']");
        return page;
    }
}
