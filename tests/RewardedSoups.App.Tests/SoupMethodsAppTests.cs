using System.Text.Json;
using RewardedSoups.Cli;
using RewardedSoups.Runner;
using RewardedSoups.Tasks.Locomotion;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The tiny locomotion run with soups by four merge methods, served (about 15 s; the run SoupMethodsRunTests checks).</summary>
public sealed class MethodsAppFixture() : ServedRunFixture("tiny-methods.yaml", SharedRuns.TinyWithMethods());

[CollectionDefinition(nameof(MethodsAppCollection))]
public sealed class MethodsAppCollection : ICollectionFixture<MethodsAppFixture>;

/// <summary>A run's soup methods in the app: listed, chosen per request, and each live soup the very soup its job wrote.</summary>
[Collection(nameof(MethodsAppCollection))]
public sealed class SoupMethodsAppTests(MethodsAppFixture app, ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    [Fact]
    public async Task RunPage_MethodChosen_SoupColumnShowsThatMethodsSoup()
    {
        await using BrowserPage page = await BrowserPage.OpenAsync(chromium.Browser, app);
        await page.Page.WaitForFunctionAsync("() => replays.soup && replays.soup.method === 'linear' && replays.left && replays.right");
        Assert.Equal(["linear", "ties", "dare_ties", "slerp"], await page.Page.Locator("#method option").AllInnerTextsAsync());

        await page.Page.SelectOptionAsync("#method", "ties");
        await page.Page.WaitForFunctionAsync("() => replays.soup.method === 'ties'");

        (_, JsonElement ties) = await app.GetJsonAsync($"api/runs/{app.RunId}/soup?lambda=0.5,0.5&method=ties");
        Assert.Equal(ties.GetProperty("returns").EnumerateArray().Select(r => r.GetDouble()), await page.Page.EvaluateAsync<double[]>("() => replays.soup.returns"));
        Assert.Equal("soup λ = (0.50, 0.50), ties", await page.Page.InnerTextAsync("#soup-title"));
        // The expert columns stay the experts (linear one-hot soups), whatever the soup's method.
        Assert.Equal("linear", await page.Page.EvaluateAsync<string>("() => replays.left.method"));
        // Each method's front is drawn: RS (linear) soups, experts, init, MORL, then ties, dare_ties and slerp, and the output-space ensembles.
        Assert.Equal(8, await page.Page.Locator("#pareto .scatterlayer .trace").CountAsync());
        page.AssertNoErrors();
    }

    [Fact]
    public async Task Showcase_ListsTheRunsMethodsInOrder()
    {
        (int status, JsonElement body) = await app.GetJsonAsync($"api/runs/{app.RunId}/showcase");
        Assert.Equal(200, status);
        Assert.Equal(["linear/linear", "ties/ties", "dare_ties/dare_ties", "slerp/slerp"],
            body.GetProperty("methods").EnumerateArray().Select(m => $"{m.GetProperty("label").GetString()}/{m.GetProperty("method").GetString()}"));
    }

    [Theory]
    [InlineData("ties")]
    [InlineData("dare_ties")]
    [InlineData("slerp")]
    [InlineData("linear")]
    public async Task Soup_OfAMethod_IsTheSoupItsJobWrote(string method)
    {
        (int status, JsonElement body) = await app.GetJsonAsync($"api/runs/{app.RunId}/soup?lambda=0.5,0.5&method={method}");
        Assert.True(status == 200, body.ToString());
        Assert.Equal(method, body.GetProperty("method").GetString());
        SoupRollout live = body.Deserialize<SoupRollout>(AppFixture.Json)!;

        // The soup job of that method at λ = (0.5, 0.5), first training seed, recorded with the app's rollout seed.
        ExperimentPlan plan = ExperimentRunner.Open(app.RunDir, Families.Catalogue);
        string mode = method == "linear" ? "linear" : method;
        Job job = plan.Jobs.Single(j => j.Kind == JobKind.Soup && j.Seed == plan.Config.TrainingSeeds.First() && j.Mode == mode && j.Lambda?.SequenceEqual([0.5, 0.5]) == true);
        AppFixture.AssertReplays(plan.JobDir(job), live);
    }

    [Fact]
    public async Task Soup_MethodsDiffer_AndTheDefaultIsTheFirst()
    {
        (_, JsonElement plain) = await app.GetJsonAsync($"api/runs/{app.RunId}/soup?lambda=0.3,0.7");
        (_, JsonElement linear) = await app.GetJsonAsync($"api/runs/{app.RunId}/soup?lambda=0.3,0.7&method=linear");
        (_, JsonElement ties) = await app.GetJsonAsync($"api/runs/{app.RunId}/soup?lambda=0.3,0.7&method=ties");
        Assert.Equal("linear", plain.GetProperty("method").GetString());
        Assert.Equal(linear.GetProperty("frames").ToString(), plain.GetProperty("frames").ToString());
        Assert.NotEqual(linear.GetProperty("frames").ToString(), ties.GetProperty("frames").ToString());
    }

    [Theory]
    [InlineData("magic", "unknown soup method 'magic'; this run's: linear, ties, dare_ties, slerp")]
    [InlineData("", "unknown soup method ''; this run's: linear, ties, dare_ties, slerp")]
    public async Task Soup_UnknownMethod_Returns400NamingTheRunsMethods(string method, string expected)
    {
        (int status, JsonElement body) = await app.GetJsonAsync($"api/runs/{app.RunId}/soup?lambda=0.5,0.5&method={method}");
        Assert.Equal(400, status);
        Assert.Equal(expected, body.GetProperty("error").GetString());
    }
}
