using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using RewardedSoups.App;
using RewardedSoups.Cli;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using RewardedSoups.Tasks.Locomotion;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// One finished run of a built-in configuration, or of <paramref name="configText"/> when given (real
/// components, child job processes) served by the real app on Kestrel, on a loopback port the OS picks,
/// for every test that shares the fixture. The folder is this fixture's own copy of the suite's run of that
/// configuration (<see cref="SharedRuns"/>: made once, by whichever test of any test process asks first).
/// </summary>
public abstract class ServedRunFixture(string config, string? configText = null) : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private WebApplication? _app;

    /// <summary>The run folder served; the app caches soups in its <c>app-cache/</c>.</summary>
    public string RunDir => _dir.File("run");

    public string RunId => AppServer.RunId(Path.GetFullPath(RunDir));

    /// <summary>The server's root address, ending in '/'.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (configText is not null)
        {
            config = _dir.File(config);
            await File.WriteAllTextAsync(config, configText);
        }
        CliRunner.Result run = SharedRuns.CopyTo(config, RunDir);
        if (run.Exit != 0) throw new InvalidOperationException($"the {config} run failed (exit {run.Exit}): {run.Err}");
        // Port 0: Kestrel binds a free port and reports it in Urls; no window for another process to take it.
        _app = AppServer.Build([RunDir], Families.Catalogue, "127.0.0.1", 0, Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Urls.Single().TrimEnd('/') + "/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>GET <paramref name="path"/> (relative to the root): status and body as JSON.</summary>
    public async Task<(int Status, JsonElement Body)> GetJsonAsync(string path)
    {
        using HttpResponseMessage response = await Http.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        _dir.Dispose();
    }
}

/// <summary>The tiny locomotion run (real MuJoCo, real PPO: about 8 s), for every test of the <see cref="AppCollection"/>.</summary>
public sealed class AppFixture() : ServedRunFixture("tiny")
{
    /// <summary>The API's JSON: camelCase; NaN and ±Infinity read as numbers, so that a test sees them rather than a parse error.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerOptions.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>GET <paramref name="path"/> (relative to the root): status and body as text.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        using HttpResponseMessage response = await Http.GetAsync(path);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Asserts that <paramref name="live"/> is the episode the cheetah policy of a job folder plays, recorded
    /// directly from its file with the app's rollout seed: same length, reward terms and frames.
    /// </summary>
    public static void AssertReplays(string jobDir, SoupRollout live)
    {
        (GaussianPolicy policy, RunningMeanStd norm, _) = PolicyCheckpoint.Load(Path.Combine(jobDir, TrainingRun.PolicyFile), "cheetah");
        using (policy)
        using (IVectorEnv env = Families.Create("cheetah", 1))
        {
            RecordedEpisode written = PolicyEvaluation.Record(policy, norm, (IRecordableEnv)env, LocomotionShowcase.RolloutSeed, 1000);
            Assert.Equal(written.Length, live.Length);
            Assert.Equal(env.RewardTerms.Select((t, k) => written.TermSums[k]), env.RewardTerms.Select(t => live.Terms[t]));
            Assert.Equal(written.Frames, live.Frames);
        }
    }

    /// <summary>The soup for λ as the page receives it; fails the test on any status but 200.</summary>
    public async Task<SoupRollout> SoupAsync(string lambda)
    {
        (int status, string body) = await GetAsync($"api/runs/{RunId}/soup?lambda={Uri.EscapeDataString(lambda)}");
        Assert.True(status == 200, $"lambda={lambda}: {status} {body}");
        return JsonSerializer.Deserialize<SoupRollout>(body, Json)!;
    }

    /// <summary>The experts' output-space ensemble for λ as the page receives it; fails the test on any status but 200.</summary>
    public async Task<SoupRollout> EnsembleAsync(string lambda)
    {
        (int status, string body) = await GetAsync($"api/runs/{RunId}/ensemble?lambda={Uri.EscapeDataString(lambda)}");
        Assert.True(status == 200, $"lambda={lambda}: {status} {body}");
        Assert.Contains("\"ensemble\":true", body);
        return JsonSerializer.Deserialize<SoupRollout>(body, Json)!;
    }
}

[CollectionDefinition(nameof(AppCollection))]
public sealed class AppCollection : ICollectionFixture<AppFixture>;
