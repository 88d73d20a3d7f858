using System.Text.Json;
using RewardedSoups.Cli;
using RewardedSoups.Environments;
using RewardedSoups.Runner;
using RewardedSoups.Tasks.Locomotion;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The JSON API over real HTTP, on the tiny run: listing, results, live soups, validation, errors.</summary>
[Collection(nameof(AppCollection))]
public sealed class AppServerTests(AppFixture app)
{
    [Fact]
    public async Task Runs_OneRunServed_ListsItsIdNameRewardsAndPolicyCount()
    {
        (int status, string body) = await app.GetAsync("api/runs");

        Assert.Equal(200, status);
        using JsonDocument doc = JsonDocument.Parse(body);
        JsonElement run = Assert.Single(doc.RootElement.EnumerateArray().ToList());
        Assert.Equal(app.RunId, run.GetProperty("id").GetString());
        Assert.Equal("tiny-cheetah", run.GetProperty("name").GetString());
        Assert.Equal("cheetah", run.GetProperty("task").GetString());
        Assert.Equal(["risky", "cautious"], run.GetProperty("rewards").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([1], run.GetProperty("training_seeds").EnumerateArray().Select(e => e.GetInt32()));
        // init, 2 experts, 3 soups, 1 ensemble, 1 MORL, and the λ search's soups (2 to 4: which proposals stay on the simplex depends on the training).
        using JsonDocument results = JsonDocument.Parse(File.ReadAllText(Path.Combine(app.RunDir, "results.json")));
        int searched = results.RootElement.GetProperty("policies").EnumerateArray().Count(p => p.GetProperty("kind").GetString() == "search");
        Assert.InRange(searched, 2, 4);
        Assert.Equal(8 + searched, run.GetProperty("policies").GetInt32());
    }

    [Fact]
    public async Task Results_KnownRun_ReturnsTheRunsResultsJsonVerbatim()
    {
        using HttpResponseMessage response = await app.Http.GetAsync($"api/runs/{app.RunId}/results");

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(File.ReadAllText(Path.Combine(app.RunDir, ResultsBuilder.ResultsFile)), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("0.5,0.5", new[] { 0.5, 0.5 })]      // a soup of the run's grid
    [InlineData("0.37,0.63", new[] { 0.37, 0.63 })]  // between grid points
    [InlineData(" 0.9 , 0.1 ", new[] { 0.9, 0.1 })]  // spaces around weights are allowed
    public async Task Soup_ValidLambda_RollsOutOneWholeEpisode(string lambda, double[] expected)
    {
        SoupRollout soup = await app.SoupAsync(lambda);

        Assert.Equal(expected, soup.Lambda);
        Assert.Equal(["risky", "cautious"], soup.Rewards);
        Assert.InRange(soup.Length, 1, 1000);
        Assert.True(soup.Fell || soup.Length == 1000, $"an episode that did not fall runs to the time limit; length {soup.Length}");
        Assert.True(soup.Dt > 0);
        // [frames][bodies * 3]: the start, then one frame per step while the episode lasts.
        Assert.Contains(soup.Frames.Length, new[] { soup.Length, soup.Length + 1 });
        Assert.Equal(soup.Bodies.Count, soup.Parents.Count);
        Assert.All(soup.Parents, p => Assert.InRange(p, 0, soup.Bodies.Count - 1));
        Assert.All(soup.Frames, f =>
        {
            Assert.Equal(soup.Bodies.Count * 3, f.Length);
            Assert.All(f, x => Assert.True(float.IsFinite(x)));
        });
        // Each reward's return is its weighted sum of the episode's reward terms (risky: forward; cautious: forward − control).
        Assert.Equal(2, soup.Returns.Length);
        for (int i = 0; i < soup.Rewards.Length; i++)
        {
            RewardFunction reward = Families.Catalogue.NamedReward("cheetah", soup.Rewards[i]);
            double expectedReturn = reward.Weights.Sum(w => w.Value * soup.Terms[w.Key]);
            Assert.True(double.IsFinite(soup.Returns[i]), $"{soup.Rewards[i]}: {soup.Returns[i]}");
            Assert.Equal(expectedReturn, soup.Returns[i], 1e-9 * Math.Max(1, Math.Abs(expectedReturn)));
        }
    }

    [Fact]
    public async Task Soup_SameLambdaTwice_SecondIsServedFromTheCacheUnchanged()
    {
        SoupRollout first = await app.SoupAsync("0.23,0.77");
        SoupRollout second = await app.SoupAsync("0.23,0.77");

        Assert.False(first.Cached);
        Assert.True(first.ServerMs > 0);
        Assert.True(second.Cached);
        Assert.Equal(0, second.ServerMs);
        Assert.Equal(first.Returns, second.Returns);
        Assert.Equal(first.Frames, second.Frames);
        Assert.Single(Directory.GetFiles(Path.Combine(app.RunDir, "app-cache"), "soup-*.json"), f => File.ReadAllText(f).Contains("[0.23,0.77]"));
    }

    [Fact]
    public async Task Soup_LambdasThatLookTheSame_ShareOneComputationAndCacheEntry()
    {
        // The page shows λ to two decimals; these are all (0.00, 1.00).
        string[] variants = ["0,1", "-0,1", "1e-320,1", "0.000001,0.999999", "0.004,0.996"];

        SoupRollout[] soups = [.. await Task.WhenAll(variants.Select(v => app.SoupAsync(v)))];

        Assert.All(soups, s => Assert.Equal([0.0, 1.0], s.Lambda));
        Assert.All(soups, s => Assert.False(double.IsNegative(s.Lambda[0]), "λ is answered without −0"));
        Assert.All(soups, s => Assert.Equal(soups[0].Frames, s.Frames));
        Assert.Single(Directory.GetFiles(Path.Combine(app.RunDir, "app-cache"), "soup-*.json"), f => File.ReadAllText(f).Contains("\"lambda\":[0,1]"));
        SoupRollout[] computed = soups.Where(s => !s.Cached).ToArray();
        // Asked all at once: one computation shared (the same server time), or its cached copy.
        Assert.All(computed, s => Assert.Equal(computed[0].ServerMs, s.ServerMs));
    }

    [Fact]
    public async Task Soup_OneHotLambda_ReplaysItsExpertExactly()
    {
        SoupRollout soup = await app.SoupAsync("1,0");

        // Expert 1 of the first training seed, recorded directly from its checkpoint with the app's rollout seed.
        ExperimentPlan plan = ExperimentRunner.Open(app.RunDir, Cli.Families.Catalogue);
        AppFixture.AssertReplays(plan.JobDir(plan.Get("s1-expert-1")), soup);
    }

    [Fact]
    public async Task Ensemble_OneHotLambdaIsItsExpert_ElsewhereItCombinesOutputsNotWeights()
    {
        // One member with λ = 1: exactly the expert's episode, as its one-hot soup.
        SoupRollout expert = await app.SoupAsync("1,0");
        SoupRollout alone = await app.EnsembleAsync("1,0");
        Assert.Equal(expert.Frames, alone.Frames);
        Assert.Equal(expert.Returns, alone.Returns);
        // At (0.5, 0.5) the mean action of the two experts is not the action of their averaged weights (tanh layers).
        SoupRollout soup = await app.SoupAsync("0.5,0.5");
        SoupRollout ensemble = await app.EnsembleAsync("0.5,0.5");
        Assert.NotEqual(soup.Frames, ensemble.Frames);
        Assert.Equal([0.5, 0.5], ensemble.Lambda);
        // Cached apart from the soup of the same λ.
        Assert.True((await app.EnsembleAsync("0.5,0.5")).Cached);
        (int status, string body) = await app.GetAsync($"api/runs/{app.RunId}/ensemble?lambda=0.5,0.5&method=linear");
        Assert.Equal(400, status);
        Assert.Contains("takes no soup method", body);
        (status, body) = await app.GetAsync($"api/runs/{app.RunId}/ensemble?lambda=0.5,0.6");
        Assert.Equal(400, status);
        Assert.Contains("lambda sums to 1.1", body);
    }

    [Fact]
    public async Task Prefer_AnyMu_ChoosesAsTheResultsDoForTheirMu_AndRefusesABadOne()
    {
        // μ = (0.5, 0.5) is in results.json (the expected-utility grid, MORL's μ): the endpoint gives the same choice and utilities.
        (_, JsonElement results) = await app.GetJsonAsync($"api/runs/{app.RunId}/results");
        JsonElement known = results.GetProperty("preferences").GetProperty("items").EnumerateArray()
            .First(i => i.GetProperty("mu").EnumerateArray().Select(x => x.GetDouble()).SequenceEqual([0.5, 0.5]));
        (int status, JsonElement half) = await app.GetJsonAsync($"api/runs/{app.RunId}/prefer?mu=0.5,0.5");
        Assert.Equal(200, status);
        static double[] Values(JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();
        // mean, low, high (low and high null in this tiny run: one test return per evaluation has no interval).
        static string[] Measure(JsonElement e) => new[] { "mean", "low", "high" }.Select(k => e.GetProperty(k) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "null").ToArray();
        Assert.Equal(Values(known.GetProperty("lambda_star")), Values(half.GetProperty("lambda_star")));
        Assert.Equal(Measure(known.GetProperty("test_star")), Measure(half.GetProperty("test_star")));
        Assert.Contains("asked", half.GetProperty("sources").EnumerateArray().Select(x => x.GetString()));
        // μ = (0.37, 0.63) is on no grid: λ* is one of the run's soups, μ as asked.
        (status, JsonElement other) = await app.GetJsonAsync($"api/runs/{app.RunId}/prefer?mu=0.37,0.63");
        Assert.Equal(200, status);
        Assert.Equal([0.37, 0.63], other.GetProperty("mu").EnumerateArray().Select(x => x.GetDouble()));
        double[] star = other.GetProperty("lambda_star").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Contains(results.GetProperty("policies").EnumerateArray(), p => p.GetProperty("kind").GetString() is "soup" or "expert"
            && p.GetProperty("lambda").EnumerateArray().Select(x => x.GetDouble()).SequenceEqual(star));
        Assert.Equal(JsonValueKind.Null, other.GetProperty("test_mu").ValueKind);   // no soup was evaluated at (0.37, 0.63)
        (status, string body) = await app.GetAsync($"api/runs/{app.RunId}/prefer?mu=0.5,0.6");
        Assert.Equal(400, status);
        Assert.Contains("mu sums to 1.1, not 1", body);
    }

    [Fact]
    public async Task Soup_OneHotLambdaRecomputed_SameReturnsAsFirstRequest()
    {
        string cache = Path.Combine(app.RunDir, "app-cache");
        SoupRollout first = await app.SoupAsync("1,0");
        Directory.Delete(cache, recursive: true); // force a second computation rather than a cache hit
        SoupRollout second = await app.SoupAsync("1.0,0.0");
        SoupRollout other = await app.SoupAsync("0,1");

        Assert.False(second.Cached);
        Assert.Equal(first.Returns, second.Returns);
        Assert.Equal(first.Frames, second.Frames);
        Assert.NotEqual(first.Returns, other.Returns); // the two experts are different policies
    }

    [Theory]
    [InlineData(null, "lambda is required: 2 comma-separated weights")]
    [InlineData(" ", "lambda is required")]
    [InlineData("0.5", "lambda has 1 weight; this run has 2 experts")]
    [InlineData("0.2,0.3,0.5", "lambda has 3 weights; this run has 2 experts")]
    [InlineData("0.5,nan", "lambda[1] = 'nan' is not a finite number")]
    [InlineData("0.5,Infinity", "lambda[1] = 'Infinity' is not a finite number")]
    [InlineData("1e400,0", "lambda[0] = '1e400' is not a finite number")]
    [InlineData("a,b", "lambda[0] = 'a' is not a finite number")]
    [InlineData("0.5,", "lambda[1] = '' is not a finite number")]
    [InlineData("0x1,0", "lambda[0] = '0x1' is not a finite number")]
    [InlineData("-0.5,1.5", "lambda[0] = -0.5 is negative")]
    [InlineData("-1e-320,1", "lambda[0] = -1E-320 is negative")]
    [InlineData("0.5,0.6", "lambda sums to 1.1, not 1")]
    [InlineData("0.5,0.4999", "lambda sums to 0.9999, not 1")]
    public async Task Soup_MalformedLambda_Returns400NamingTheProblem(string? lambda, string expected)
    {
        string query = lambda is null ? "" : $"?lambda={Uri.EscapeDataString(lambda)}";

        (int status, string body) = await app.GetAsync($"api/runs/{app.RunId}/soup{query}");

        Assert.Equal(400, status);
        Assert.Contains(expected, Error(body));
        Assert.DoesNotContain('\n', Error(body));
        AssertNoInternals(body);
    }

    [Fact]
    public async Task Soup_VeryLongLambda_Returns400WithoutEchoingIt()
    {
        string hugeNumber = new string('9', 4000) + ",0";   // parses to +∞
        string manyWeights = string.Join(",", Enumerable.Repeat("0.001", 1000));

        (int status1, string body1) = await app.GetAsync($"api/runs/{app.RunId}/soup?lambda={hugeNumber}");
        (int status2, string body2) = await app.GetAsync($"api/runs/{app.RunId}/soup?lambda={manyWeights}");

        Assert.Equal(400, status1);
        Assert.Contains("lambda[0] = '99999999999999999999999999999999…' is not a finite number", Error(body1));
        Assert.InRange(body1.Length, 1, 200);
        Assert.Equal(400, status2);
        Assert.Contains("lambda has 1000 weights; this run has 2 experts", Error(body2));
        Assert.InRange(body2.Length, 1, 200);
        AssertNoInternals(body1 + body2);
    }

    [Theory]
    [InlineData("api/runs/nope/soup?lambda=0.5,0.5", "no run 'nope'")]
    [InlineData("api/runs/nope/results", "no run 'nope'")]
    [InlineData("api/runs/nope/soup?lambda=bad", "no run 'nope'")]  // an unknown run comes before a bad λ
    public async Task Api_UnknownRunId_Returns404NamingIt(string path, string expected)
    {
        (int status, string body) = await app.GetAsync(path);

        Assert.Equal(404, status);
        Assert.Equal(expected, Error(body));
        AssertNoInternals(body);
    }

    [Theory]
    [InlineData("api/runs/..%2F..%2Fetc/results")]
    [InlineData("api/runs/..%2F..%2F..%2F..%2Fetc%2Fpasswd/results")]
    [InlineData("api/runs/..%2F..%2Fetc/soup?lambda=0.5,0.5")]
    [InlineData("api/runs/%2E%2E/results")]
    [InlineData("..%2F..%2Fetc%2Fpasswd")]
    public async Task Api_PathTraversalAttempt_Returns404WithNoFileContent(string path)
    {
        (int status, string body) = await app.GetAsync(path);

        Assert.Equal(404, status);
        Assert.NotEmpty(Error(body));
        Assert.DoesNotContain("root:", body);
        AssertNoInternals(body);
    }

    [Theory]
    [InlineData("api/nothing")]
    [InlineData("api/runs/{id}/nothing")]
    [InlineData("nothing.html")]
    public async Task UnknownPath_Returns404Json(string path)
    {
        using HttpResponseMessage response = await app.Http.GetAsync(path.Replace("{id}", app.RunId));
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(404, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("not found", Error(body));
    }

    [Theory]
    [InlineData("", "text/html", "<div id=\"runs\"")]    // the home page is the default document
    [InlineData("run.html", "text/html", "id=\"pareto\"")]
    [InlineData("app.js", "text/javascript", "plotly_click")]
    [InlineData("vendor/plotly.min.js", "text/javascript", "plotly.js")]
    public async Task StaticFiles_Served(string path, string mediaType, string content)
    {
        using HttpResponseMessage response = await app.Http.GetAsync(path);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(content, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Soup_SixConcurrentDistinctLambdas_AllComputed()
    {
        double[] l2 = [0.11, 0.12, 0.13, 0.14, 0.15, 0.16];

        SoupRollout[] soups = await Task.WhenAll(l2.Select(l => app.SoupAsync($"{1 - l:R},{l:R}")));

        for (int i = 0; i < l2.Length; i++)
        {
            Assert.Equal([1 - l2[i], l2[i]], soups[i].Lambda);
            Assert.False(soups[i].Cached);
            Assert.All(soups[i].Returns, r => Assert.True(double.IsFinite(r)));
            Assert.NotEmpty(soups[i].Frames);
        }
    }

    [Fact]
    public async Task Soup_ConcurrentIdenticalRequests_ShareOneComputation()
    {
        SoupRollout[] soups = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => app.SoupAsync("0.42,0.58")));

        Assert.All(soups, s => Assert.Equal(soups[0].Returns, s.Returns));
        // A request that arrived while the rollout ran got that very rollout (same server time);
        // one that arrived after it finished got the cached copy.
        SoupRollout[] computed = soups.Where(s => !s.Cached).ToArray();
        Assert.NotEmpty(computed);
        Assert.All(computed, s => Assert.Equal(computed[0].ServerMs, s.ServerMs));
    }

    private static string Error(string body)
    {
        using JsonDocument doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("error").GetString()!;
    }

    /// <summary>Errors say what is wrong with the request, never how the server is built.</summary>
    private static void AssertNoInternals(string body)
    {
        Assert.DoesNotContain("   at ", body);
        Assert.DoesNotContain("Exception", body);
    }
}
