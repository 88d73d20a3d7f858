using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using RewardedSoups.App;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>
/// The app's limits over real HTTP, each test on its own server and copy of the tiny run: one
/// computation per λ however many ask, none for a client that has gone, a bounded queue (503 beyond),
/// a cache bounded in size that deletes the least recently used soups first.
/// </summary>
[Collection(nameof(AppCollection))]
public sealed class AppLimitsTests(AppFixture app)
{
    [Fact]
    public async Task Soup_ConcurrentRequestsForOneLambda_ComputedOnce()
    {
        await using GatedApp server = await GatedApp.StartAsync(app.RunDir, new AppOptions());
        RunHost run = server.Run;

        Task<HttpResponseMessage>[] requests = Enumerable.Range(0, 5).Select(_ => server.SoupAsync("0.35,0.65")).ToArray();
        await GatedApp.WaitUntil(() => run.Waiting == 5, "all five requests wait for the soup");
        // The queue starts the computation on its own thread: the five may all be waiting before it has begun.
        await GatedApp.WaitUntil(() => server.Showcase.Started.Count >= 1, "the soup's computation starts");
        Assert.Single(server.Showcase.Started);
        server.Showcase.Open();
        string[] bodies = await Task.WhenAll(requests.Select(async r =>
        {
            using HttpResponseMessage response = await r;
            Assert.Equal(200, (int)response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }));

        Assert.Single(server.Showcase.Started);
        Assert.Equal(1, server.Queue.Started);
        Assert.All(bodies, b => Assert.Equal(bodies[0], b)); // the one computation's answer, serverMs included
        Assert.False(JsonDocument.Parse(bodies[0]).RootElement.GetProperty("cached").GetBoolean());
    }

    [Fact]
    public async Task Soup_RequestAbandonedWhileQueued_IsNeverComputed()
    {
        await using GatedApp server = await GatedApp.StartAsync(app.RunDir, new AppOptions { MaxQueued = 4 });
        (Task<HttpResponseMessage> first, Task<HttpResponseMessage> second) = await server.HoldBothSlotsAsync("0.9,0.1", "0.8,0.2");
        using var leave = new CancellationTokenSource();
        Task<HttpResponseMessage> abandoned = server.SoupAsync("0.7,0.3", leave.Token);
        await GatedApp.WaitUntil(() => server.Queue.Waiting == 1, "the third soup waits in the queue");

        await leave.CancelAsync(); // the client goes away
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await GatedApp.WaitUntil(() => server.Queue.Waiting == 0, "the abandoned soup leaves the queue");
        server.Showcase.Open();
        await AssertOk(first);
        await AssertOk(second);
        // First come, first served: had the abandoned soup stayed queued, it would start before this one.
        await AssertOk(server.SoupAsync("0.6,0.4"));

        Assert.Equal([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]], server.Showcase.Started.ToArray());
        Assert.Equal(3, server.Queue.Started);
        Assert.Equal(1, server.Queue.Abandoned);
        Assert.Equal(["0.6,0.4", "0.8,0.2", "0.9,0.1"], CachedLambdas(server.CacheDir));
    }

    [Fact]
    public async Task Soup_RequestAbandonedWhileComputing_ItsComputationIsCancelled()
    {
        await using GatedApp server = await GatedApp.StartAsync(app.RunDir, new AppOptions());
        using var leave = new CancellationTokenSource();
        Task<HttpResponseMessage> abandoned = server.SoupAsync("0.45,0.55", leave.Token);
        await GatedApp.WaitUntil(() => server.Showcase.Started.Count == 1, "the soup is being computed");

        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await GatedApp.WaitUntil(() => server.Showcase.Cancelled == 1, "the computation's token is cancelled");
        await GatedApp.WaitUntil(() => server.Queue.Running == 0, "its slot is free again");
        Assert.Empty(CachedLambdas(server.CacheDir));
        server.Showcase.Open();
        using HttpResponseMessage again = await server.SoupAsync("0.45,0.55");

        Assert.Equal(200, (int)again.StatusCode);
        Assert.False(JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("cached").GetBoolean());
        Assert.Equal(2, server.Showcase.Started.Count);
    }

    [Fact]
    public async Task Soup_QueueFull_Answers503WithRetryAfterAndComputesNothingMore()
    {
        await using GatedApp server = await GatedApp.StartAsync(app.RunDir, new AppOptions { MaxQueued = 1 });
        (Task<HttpResponseMessage> first, Task<HttpResponseMessage> second) = await server.HoldBothSlotsAsync("0.9,0.1", "0.8,0.2");
        Task<HttpResponseMessage> queued = server.SoupAsync("0.7,0.3");
        await GatedApp.WaitUntil(() => server.Queue.Waiting == 1, "the third soup fills the queue");

        using HttpResponseMessage refused = await server.SoupAsync("0.6,0.4");

        Assert.Equal(503, (int)refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter?.Delta);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 3600);
        string error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        Assert.StartsWith("busy: 3 soups are being computed or waiting; retry in ", error);
        server.Showcase.Open();
        await AssertOk(first);
        await AssertOk(second);
        await AssertOk(queued);
        Assert.Equal(3, server.Showcase.Started.Count);
        Assert.Equal(1, server.Queue.Rejected);
        // Once the queue has room, the refused λ is served.
        await AssertOk(server.SoupAsync("0.6,0.4"));
    }

    [Fact]
    public async Task Soup_ManyDistinctLambdas_CacheStaysWithinItsLimitAndDeletesTheLeastRecentlyUsedFirst()
    {
        const long limit = 1 << 20; // about six soups of the cheetah (1000 frames each)
        await using GatedApp server = await GatedApp.StartAsync(app.RunDir, new AppOptions { CacheBytes = limit }, open: true);
        var asked = new List<string>();
        string? firstEvicted = null;

        for (int i = 1; i <= 12; i++)
        {
            string lambda = $"{(100 - i) / 100.0:R},{i / 100.0:R}";
            await AssertOk(server.SoupAsync(lambda));
            asked.Add(lambda);
            if (i == 4) await AssertOk(server.SoupAsync(asked[0]), cached: true); // the first soup used again: now the most recent
            long onDisk = Directory.GetFiles(server.CacheDir, "soup-*.json").Sum(f => new FileInfo(f).Length);
            Assert.InRange(onDisk, 1, limit);
            Assert.Equal(onDisk, server.Run.Cache.Bytes);
            firstEvicted ??= asked.Except(CachedLambdas(server.CacheDir)).FirstOrDefault();
        }

        Assert.Equal(asked[1], firstEvicted); // 0.98,0.02: least recently used, as 0.99,0.01 was used again
        Assert.Contains(asked[^1], CachedLambdas(server.CacheDir));
        Assert.InRange(CachedLambdas(server.CacheDir).Length, 2, 11);
        // An evicted soup is computed again, and identical.
        await AssertOk(server.SoupAsync(asked[1]), cached: false);
    }

    /// <summary>The λ of every soup in a cache folder, as "a,b", sorted.</summary>
    private static string[] CachedLambdas(string cacheDir) =>
        !Directory.Exists(cacheDir)
            ? []
            : Directory.GetFiles(cacheDir, "soup-*.json")
                .Select(f => string.Join(",", JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("lambda").EnumerateArray()
                    .Select(e => e.GetDouble().ToString("R", CultureInfo.InvariantCulture))))
                .Order(StringComparer.Ordinal).ToArray();

    private static async Task AssertOk(Task<HttpResponseMessage> request, bool? cached = null)
    {
        using HttpResponseMessage response = await request;
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 200, $"{(int)response.StatusCode} {body}");
        if (cached is { } expected) Assert.Equal(expected, JsonDocument.Parse(body).RootElement.GetProperty("cached").GetBoolean());
    }
}
