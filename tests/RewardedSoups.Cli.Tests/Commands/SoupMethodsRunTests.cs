using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests.Commands;

/// <summary>An experiment with several merge methods: the tiny cheetah run, real PPO, a front per method.</summary>
public sealed class SoupMethodsRunTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Run_WithSoupMethods_EachMethodGetsItsSoupsFrontAndRatios_TaskVectorSoupsUseTheInitAsBase()
    {
        string config = _dir.File("methods.yaml");
        File.WriteAllText(config, SharedRuns.TinyWithMethods());
        string run = _dir.File("run");
        var r = SharedRuns.CopyTo(config, run);
        Assert.True(r.Exit == 0, r.Err);

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "results.json")));
        JsonElement root = doc.RootElement;
        var modes = root.GetProperty("soup_modes").EnumerateArray().ToList();
        Assert.Equal(["linear", "ties", "dare_ties", "slerp"], modes.Select(m => m.GetProperty("mode").GetString()));
        Assert.Equal(["linear", "ties", "dare_ties", "slerp"], modes.Select(m => m.GetProperty("method").GetString()));
        Assert.Equal(0.5, modes[1].GetProperty("parameters").GetProperty("density").GetDouble());
        Assert.Equal(2, modes[2].GetProperty("parameters").GetProperty("seed").GetInt64());
        Assert.Equal(JsonValueKind.Null, modes[0].GetProperty("parameters").ValueKind);
        // The first kind is the RS front: its ratio to itself is 1; every front is compared with MORL's.
        Assert.Equal(root.GetProperty("rs_front").GetProperty("hypervolume").GetDouble(), modes[0].GetProperty("front").GetProperty("hypervolume").GetDouble());
        foreach (JsonElement m in modes)
        {
            double hv = m.GetProperty("front").GetProperty("hypervolume").GetDouble(), morl = root.GetProperty("morl_front").GetProperty("hypervolume").GetDouble();
            if (morl > 0) Assert.Equal(hv / morl, m.GetProperty("hypervolume_vs_morl").GetDouble(), 12);
        }

        var policies = root.GetProperty("policies").EnumerateArray().ToList();
        Assert.Equal(3, policies.Count(p => p.GetProperty("kind").GetString() == "soup-ties"));
        // slerp's ends are the experts byte for byte (t = λ₂ = 0 and 1), so they evaluate like them.
        JsonElement expert1 = policies.First(p => p.GetProperty("kind").GetString() == "expert");
        JsonElement slerpVertex = policies.First(p => p.GetProperty("kind").GetString() == "soup-slerp");
        Assert.Equal([1.0, 0.0], slerpVertex.GetProperty("lambda").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(expert1.GetProperty("mean").GetRawText(), slerpVertex.GetProperty("mean").GetRawText());

        // A task-vector soup names its method, parameters and the init it took as base.
        using Checkpoint ties = Checkpoint.Open(Path.Combine(run, "jobs", "s1-soup-ties-02", "policy.safetensors"));
        Assert.Equal("ties", ties.Metadata["soup.method"]);
        Assert.Contains("\"density\":0.5", ties.Metadata["soup.parameters"]);
        Assert.Contains(Path.Combine("s1-init", "policy.safetensors"), ties.Metadata["soup.base"]);
    }
}
