using System.Globalization;
using Microsoft.Playwright;
using RewardedSoups.Tasks.Locomotion;
using RewardedSoups.Tests.Fixtures;
using Xunit.Abstractions;

namespace RewardedSoups.Tests;

/// <summary>The run page in a real browser (headless Chromium) against the real server: plot, replays, λ controls.</summary>
[Collection(nameof(AppCollection))]
public sealed class RunPageTests(AppFixture app, ChromiumFixture chromium, ITestOutputHelper output) : IClassFixture<ChromiumFixture>
{
    /// <summary>Where the screenshot of the run page is saved (beside the test binaries).</summary>
    public static string ScreenshotPath => Path.Combine(AppContext.BaseDirectory, "TestResults", "app-run-page.png");

    [Fact]
    public async Task RunPage_Opened_PlotsTheFrontAndShowsEachColumnsRollout()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);

        Assert.Equal("tiny-cheetah", await page.Page.InnerTextAsync("#title"));
        // One training seed: the summary says there is no interval between seeds rather than printing one.
        Assert.EndsWith("One training seed: no interval between seeds.", await page.Page.InnerTextAsync("#summary"));
        // The RS front: one marker per soup of the run (λ₂ = 0, 0.5, 1).
        Assert.Equal(3, await page.Page.Locator("#pareto .scatterlayer .trace").First.Locator(".points path").CountAsync());
        // Each column shows the server's numbers for its λ: expert 1, the soup (0.5, 0.5), expert 2.
        Assert.Equal("1,0", await page.Page.GetAttributeAsync("#rewards-left", "data-lambda"));
        Assert.Equal("0,1", await page.Page.GetAttributeAsync("#rewards-right", "data-lambda"));
        Assert.Equal("0.5,0.5", await page.Page.GetAttributeAsync("#rewards-soup", "data-lambda"));
        Assert.Equal(await ExpectedLines("1,0"), await page.RewardLines("left"));
        Assert.Equal(await ExpectedLines("0,1"), await page.RewardLines("right"));
        Assert.Equal(await ExpectedLines("0.5,0.5"), await page.RewardLines("soup"));
        Assert.StartsWith("risky: ", await page.Page.InnerTextAsync("#rewards-left"));

        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        await page.Page.ScreenshotAsync(new PageScreenshotOptions { Path = ScreenshotPath, FullPage = true });
        output.WriteLine($"screenshot: {ScreenshotPath}");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(ScreenshotPath)[..4]);
        page.AssertNoErrors();
    }

    [Fact]
    public async Task RunPage_SliderMoved_SoupColumnShowsTheNewLambdasRollout()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);

        await page.MoveSlider("0.3");
        await page.WaitForSoupLambda("0.7,0.3");

        // The page holds the new λ's rollout (the tiny run's soups differ below the shown 0.1 precision).
        Assert.Equal((await app.SoupAsync("0.7,0.3")).Returns, await page.SoupReturns());
        Assert.NotEqual((await app.SoupAsync("0.5,0.5")).Returns, await page.SoupReturns());
        Assert.Equal(await ExpectedLines("0.7,0.3"), await page.RewardLines("soup"));
        Assert.Equal("soup λ = (0.70, 0.30)", await page.Page.InnerTextAsync("#soup-title"));
        page.AssertNoErrors();
    }

    [Fact]
    public async Task RunPage_FrontPointClicked_SoupColumnShowsThatPointsLambda()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);
        await page.MoveSlider("0.8"); // away from every point of the front first
        await page.WaitForSoupLambda("0.19999999999999996,0.8");

        // A real mouse click on the middle soup marker of the RS front (trace 0, point 1: λ = (0.5, 0.5)).
        // plotly.js reports a click on the point its hover picked, so hover over the marker first and
        // wait for plotly to report that hover (its hover handling is throttled), then click.
        ILocator marker = page.Page.Locator("#pareto .scatterlayer .trace").First.Locator(".points path").Nth(1);
        double[] expected = await page.Page.EvaluateAsync<double[]>("() => document.getElementById('pareto').data[0].customdata[1]");
        // Hovered points are known by their λ: the ensembles' path passes (nearly) through the same place in this tiny run,
        // and a click on either point of λ = (0.5, 0.5) plays that λ.
        await page.Page.EvaluateAsync("() => { window.hovered = []; document.getElementById('pareto').on('plotly_hover', ev => { window.hovered = ev.points.map(p => String(p.customdata)); }); }");
        LocatorBoundingBoxResult box = (await marker.BoundingBoxAsync())!;
        (float x, float y) = ((float)(box.X + box.Width / 2), (float)(box.Y + box.Height / 2));
        await page.Page.Mouse.MoveAsync(x, y, new MouseMoveOptions { Steps = 4 });
        await page.Page.WaitForFunctionAsync("() => window.hovered.includes('0.5,0.5')");
        await page.Page.Mouse.ClickAsync(x, y);
        await page.WaitForSoupLambda(string.Join(",", expected.Select(l => l.ToString(CultureInfo.InvariantCulture))));

        Assert.Equal([0.5, 0.5], expected);
        Assert.Equal((await app.SoupAsync("0.5,0.5")).Returns, await page.SoupReturns());
        Assert.Equal(await ExpectedLines("0.5,0.5"), await page.RewardLines("soup"));
        Assert.Equal("0.5", await page.Page.InputValueAsync("#slider")); // the slider follows the chosen point
        page.AssertNoErrors();
    }

    /// <summary>
    /// Chooses MORL's μ = (0.5, 0.5) in the preference control: its index, the number of preferences results.json lists,
    /// and its λ*(μ) (whichever soup the validation episodes chose).
    /// </summary>
    private async Task<(int Index, int Count, double[] Star)> ChooseMorlPreference(RunPage page)
    {
        (_, System.Text.Json.JsonElement results) = await app.GetJsonAsync($"api/runs/{app.RunId}/results");
        var items = results.GetProperty("preferences").GetProperty("items").EnumerateArray().ToList();
        int k = items.FindIndex(i => i.GetProperty("sources").EnumerateArray().Any(s => s.GetString() == "morl"));
        double[] star = items[k].GetProperty("lambda_star").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        await page.Page.SelectOptionAsync("#preference", k.ToString(CultureInfo.InvariantCulture));
        return (k, items.Count, star);
    }

    /// <summary>λ as the server's query and the panels' data-lambda write it.</summary>
    private static string Lambda(double[] weights) => string.Join(",", weights.Select(l => l.ToString(CultureInfo.InvariantCulture)));

    [Fact]
    public async Task RunPage_PreferenceChosen_PlaysLambdaStarThenLambdaEqualsMu()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);
        (int k, int count, double[] star) = await ChooseMorlPreference(page);
        Assert.Equal(count, await page.Page.Locator("#preference option").CountAsync());
        Assert.Equal("μ = (0.50, 0.50) (MORL trained one)", await page.Page.InnerTextAsync($"#preference option:nth-child({k + 1})"));
        string note = await page.Page.InnerTextAsync("#preference-note");
        Assert.StartsWith($"λ*(μ) = ({string.Join(", ", star.Select(l => l.ToString("F2", CultureInfo.InvariantCulture)))}): utility μ · R ", note);
        Assert.Contains("MORL for μ: ", note);

        await page.MoveSlider("0.3");
        await page.WaitForSoupLambda("0.7,0.3");
        await page.Page.ClickAsync("#play-star");
        await page.WaitForSoupLambda(Lambda(star));
        await page.Page.ClickAsync("#play-mu");
        await page.WaitForSoupLambda("0.5,0.5");
        Assert.Equal((await app.SoupAsync("0.5,0.5")).Returns, await page.SoupReturns());
        page.AssertNoErrors();
    }

    [Fact]
    public async Task RunPage_PreferenceBeside_PlaysLambdaStarAndLambdaEqualsMuSideBySide()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);
        (_, _, double[] star) = await ChooseMorlPreference(page);
        Assert.False(await page.Page.IsVisibleAsync("#panel-mu"));

        await page.Page.ClickAsync("#play-beside");
        await page.WaitForSoupLambda(Lambda(star));
        await page.Page.WaitForFunctionAsync("() => document.getElementById('rewards-mu') && document.getElementById('rewards-mu').dataset.lambda === '0.5,0.5'");
        Assert.Equal("soup λ = μ = (0.50, 0.50)", await page.Page.InnerTextAsync("#mu-title"));
        // The λ = μ panel is the live soup of μ: the server's rollout, step for step; the soup panel plays λ*(μ).
        Assert.Equal((await app.SoupAsync("0.5,0.5")).Returns, await page.Page.EvaluateAsync<double[]>("() => replays.mu.returns"));
        Assert.Equal((await app.SoupAsync(Lambda(star))).Returns, await page.SoupReturns());
        // Moving λ moves the soup panel only: the λ = μ panel keeps μ.
        await page.MoveSlider("0.8");
        await page.WaitForSoupLambda("0.19999999999999996,0.8");
        Assert.Equal("0.5,0.5", await page.Page.GetAttributeAsync("#rewards-mu", "data-lambda"));
        page.AssertNoErrors();
    }

    [Fact]
    public async Task RunPage_AnyMuSlider_AsksTheServerForLambdaStar_AndPlaysIt()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);
        (_, System.Text.Json.JsonElement expected) = await app.GetJsonAsync($"api/runs/{app.RunId}/prefer?mu=0.63,0.37");
        double[] star = expected.GetProperty("lambda_star").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        // A drag of the any-μ slider ends at μ₂ = 0.37: the chooser gains that μ and the note gives the server's λ*(μ).
        await page.Page.Locator("#mu-any").EvaluateAsync("el => { el.value = '0.37'; el.dispatchEvent(new Event('change')); }");
        await page.Page.WaitForFunctionAsync("() => document.getElementById('preference').value === 'any'");
        Assert.Equal("μ = (0.63, 0.37) (any μ)", await page.Page.InnerTextAsync("#preference option[value=any]"));
        Assert.StartsWith($"λ*(μ) = ({string.Join(", ", star.Select(l => l.ToString("F2", CultureInfo.InvariantCulture)))}): utility μ · R ",
            await page.Page.InnerTextAsync("#preference-note"));
        await page.MoveSlider("0.8");
        await page.WaitForSoupLambda("0.19999999999999996,0.8");
        await page.Page.ClickAsync("#play-star");
        await page.WaitForSoupLambda(Lambda(star));
        page.AssertNoErrors();
    }

    [Fact]
    public async Task RunPage_UnknownRunId_ShowsTheErrorAlone()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app, path: "run.html?id=no-such-run");
        await page.Page.WaitForFunctionAsync("() => document.getElementById('error').textContent !== ''");

        Assert.StartsWith("could not load run: ", await page.Page.InnerTextAsync("#error"));
        Assert.Contains("no-such-run", await page.Page.InnerTextAsync("#error"));
        // No empty plot frame, controls or panels under the error.
        Assert.False(await page.Page.IsVisibleAsync("#pareto"));
        Assert.False(await page.Page.IsVisibleAsync("#controls"));
        Assert.False(await page.Page.IsVisibleAsync("#panel-soup"));
    }

    [Fact]
    public async Task RunPage_Replay_SaysItIsOneEpisodeNotThePlanesMean()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app);

        string[] lines = (await page.Page.InnerTextAsync("#rewards-left")).Split('\n');
        Assert.Equal("one episode (reset seed 0, training seed 1); the plane: means of 2 episodes", lines[^1]);
        page.AssertNoErrors();
    }

    [Fact]
    public async Task HomePage_RunLinkClicked_OpensThatRunsPage()
    {
        await using var page = await RunPage.OpenAsync(chromium.Browser, app, path: "");

        await page.Page.ClickAsync("#runs a");
        await page.WaitUntilReadyAsync();

        Assert.EndsWith($"/run.html?id={app.RunId}", page.Page.Url);
        Assert.Equal("tiny-cheetah", await page.Page.InnerTextAsync("#title"));
        page.AssertNoErrors();
    }

    /// <summary>The two reward lines the page should show for λ, from the API, formatted as the page does (toFixed(1)).</summary>
    private async Task<string[]> ExpectedLines(string lambda)
    {
        SoupRollout soup = await app.SoupAsync(lambda);
        return soup.Rewards.Select((name, i) => $"{name}: {soup.Returns[i].ToString("F1", CultureInfo.InvariantCulture)}").ToArray();
    }

    /// <summary>The run page of the locomotion run (a <see cref="BrowserPage"/>) and what the tests do on it.</summary>
    private sealed class RunPage(BrowserPage browser) : IAsyncDisposable
    {
        public IPage Page => browser.Page;

        /// <summary>Opens run.html for the fixture's run (or <paramref name="path"/>, then waits for a run page).</summary>
        public static async Task<RunPage> OpenAsync(IBrowser browser, AppFixture app, string? path = null)
        {
            var page = new RunPage(await BrowserPage.OpenAsync(browser, app, path));
            if (path is null) await page.WaitUntilReadyAsync();
            return page;
        }

        /// <summary>Returns once the front is plotted and all three columns show a rollout.</summary>
        public async Task WaitUntilReadyAsync()
        {
            await Page.WaitForSelectorAsync("#pareto .plotly");
            foreach (string slot in new[] { "left", "soup", "right" })
                await Page.WaitForSelectorAsync($"#rewards-{slot}[data-lambda]");
        }

        /// <summary>Sets the λ₂ slider as a user's drag ends: value, then the 'change' event.</summary>
        public Task MoveSlider(string value) =>
            Page.Locator("#slider").EvaluateAsync("(el, v) => { el.value = v; el.dispatchEvent(new Event('change')); }", value);

        public Task WaitForSoupLambda(string lambda) =>
            Page.WaitForFunctionAsync("l => document.getElementById('rewards-soup').dataset.lambda === l", lambda);

        /// <summary>The reward lines of a column ("risky: 12.3"), without its length/timing line.</summary>
        public async Task<string[]> RewardLines(string slot) =>
            (await Page.InnerTextAsync($"#rewards-{slot}")).Split('\n')[..2];

        /// <summary>The returns of the rollout the soup column is replaying, at full precision.</summary>
        public Task<double[]> SoupReturns() => Page.EvaluateAsync<double[]>("() => replays.soup.returns");

        public void AssertNoErrors() => browser.AssertNoErrors();

        public ValueTask DisposeAsync() => browser.DisposeAsync();
    }
}
