using System.Globalization;
using RewardedSoups.Runner;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>Hand-built <see cref="ExperimentResults"/> and fake training logs, shaped like a real run.</summary>
public static class ResultsFixtures
{
    public const double RsHypervolume2 = 123456.7;
    public const double MorlHypervolume2 = 148000;
    public const long RsSteps = 3_000_000;
    public const long MorlSteps = 6_000_000;

    /// <summary>
    /// Two rewards (forward, energy): init, 2 experts, 5 soups along λ₂ (slightly below the chord),
    /// 3 MORL policies; MORL ahead by hypervolume, as in the paper's locomotion results.
    /// </summary>
    public static ExperimentResults TwoRewards(string soupLabelPrefix = "soup", bool singleEpisode = false)
    {
        var policies = new List<PolicyResult>
        {
            Policy("init", "shared init", null, null, [100, -50], singleEpisode),
            Policy("expert", "expert forward", [1, 0], null, [1500, -400], singleEpisode),
            Policy("expert", "expert energy", [0, 1], null, [300, -20], singleEpisode),
        };
        double[] lambdas = [1 / 6.0, 2 / 6.0, 3 / 6.0, 4 / 6.0, 5 / 6.0];
        foreach (double l2 in lambdas)
        {
            // The chord, minus a bump that is largest mid-path: a mild LMC gap.
            double dip = 80 * l2 * (1 - l2);
            double forward = (1 - l2) * 1500 + l2 * 300 - dip;
            double energy = (1 - l2) * -400 + l2 * -20 - dip / 4;
            string label = $"{soupLabelPrefix} {l2.ToString("0.##", CultureInfo.InvariantCulture)}";
            policies.Add(Policy("soup", label, [1 - l2, l2], null, [forward, energy], singleEpisode));
        }
        policies.Add(Policy("morl", "morl mu=0.25", null, [0.25, 0.75], [600, -60], singleEpisode));
        policies.Add(Policy("morl", "morl mu=0.5", null, [0.5, 0.5], [1000, -150], singleEpisode));
        policies.Add(Policy("morl", "morl mu=0.75", null, [0.75, 0.25], [1350, -260], singleEpisode));
        List<PolicyResult> soups = policies.Where(p => p.Kind == "soup").ToList();

        return new ExperimentResults
        {
            Name = "cheetah-fwd-energy",
            Task = "cheetah",
            Rewards = ["forward", "energy"],
            TrainingSeeds = [1, 2, 3],
            EpisodesPerPolicy = singleEpisode ? 1 : 10,
            Policies = policies,
            RsFront = Front(policies.Where(p => p.Kind is "expert" or "soup"), RsHypervolume2, 820.5, "init, experts and soups"),
            MorlFront = Front(policies.Where(p => p.Kind == "morl"), MorlHypervolume2, 905.25, "init, experts and MORL policies"),
            ReferencePoint = [100, -50],
            ReferencePointSource = "shared init mean",
            Cost = new CostResult
            {
                PretrainSteps = 1_000_000,
                StepsPerTraining = 1_000_000,
                RsTrainings = 2,
                MorlTrainings = 5,
                RsSteps = RsSteps,
                MorlSteps = MorlSteps,
            },
            Lmc = Lmc(soups, 2),
        };
    }

    /// <summary>Three rewards: init, 3 experts, 4 soups inside the simplex, 3 MORL policies.</summary>
    public static ExperimentResults ThreeRewards()
    {
        var policies = new List<PolicyResult>
        {
            Policy("init", "init", null, null, [0, 0, 0], false),
            Policy("expert", "expert a", [1, 0, 0], null, [10, 1, 2], false),
            Policy("expert", "expert b", [0, 1, 0], null, [2, 9, 1], false),
            Policy("expert", "expert c", [0, 0, 1], null, [1, 2, 11], false),
            Policy("soup", "soup abc", [1 / 3.0, 1 / 3.0, 1 / 3.0], null, [4, 3.8, 4.4], false),
            Policy("soup", "soup ab", [0.5, 0.5, 0], null, [5.5, 4.6, 1.2], false),
            Policy("soup", "soup bc", [0, 0.5, 0.5], null, [1.4, 5.2, 5.8], false),
            Policy("soup", "soup ac", [0.5, 0, 0.5], null, [5.2, 1.3, 6.1], false),
            Policy("morl", "morl 1", null, [0.6, 0.2, 0.2], [7, 3, 3], false),
            Policy("morl", "morl 2", null, [0.2, 0.6, 0.2], [3, 7, 3], false),
            Policy("morl", "morl 3", null, [0.2, 0.2, 0.6], [3, 3, 7], false),
        };
        return new ExperimentResults
        {
            Name = "three",
            Task = "hopper",
            Rewards = ["a", "b", "c"],
            TrainingSeeds = [1],
            EpisodesPerPolicy = 5,
            Policies = policies,
            RsFront = Front(policies.Where(p => p.Kind is "expert" or "soup"), 512.5, 4.2, "experts and soups"),
            MorlFront = Front(policies.Where(p => p.Kind == "morl"), 400.25, 4.5, "MORL"),
            ReferencePoint = [0, 0, 0],
            ReferencePointSource = "shared init mean",
            Cost = new CostResult { PretrainSteps = 100, StepsPerTraining = 100, RsTrainings = 3, MorlTrainings = 3, RsSteps = 400, MorlSteps = 400 },
            Lmc = Lmc(policies.Where(p => p.Kind == "soup").ToList(), 3),
        };
    }

    /// <summary>A <c>train_log.csv</c> with the real header; every third update has no finished episode (NaN).</summary>
    public static string WriteTrainLog(string path, double final, int updates = 40)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var lines = new List<string>
        {
            "update,global_step,charts/episodic_return,charts/episodes,losses/policy_loss,losses/value_loss,terms/forward",
        };
        for (int u = 1; u <= updates; u++)
        {
            string ret = u % 3 == 0 ? "NaN" : (final * (1 - Math.Exp(-u / 10.0))).ToString("R", CultureInfo.InvariantCulture);
            lines.Add($"{u},{u * 4096},{ret},4,0.01,0.5,1.5");
        }
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private static PolicyResult Policy(string kind, string label, double[]? lambda, double[]? mu, double[] mean, bool singleEpisode)
    {
        // Intervals 5% of |mean| wide (at least 1), or NaN from a single episode.
        double[] half = mean.Select(m => singleEpisode ? double.NaN : Math.Max(1, Math.Abs(m) * 0.05)).ToArray();
        return new PolicyResult
        {
            Kind = kind,
            Label = label,
            Lambda = lambda,
            Mu = mu,
            Mean = mean,
            Low = mean.Select((m, i) => m - half[i]).ToArray(),
            High = mean.Select((m, i) => m + half[i]).ToArray(),
            PerSeedMean = [mean],
            Checkpoint = $"jobs/{label.Replace(' ', '-')}/policy.safetensors",
        };
    }

    private static FrontResult Front(IEnumerable<PolicyResult> members, double hypervolume, double eu, string description) => new()
    {
        Front = members.Select(p => p.Label).ToList(),
        Hypervolume = hypervolume,
        ExpectedUtility = eu,
        EuDivisions = 20,
        Members = description,
    };

    private static LmcResult Lmc(IReadOnlyList<PolicyResult> soups, int rewards)
    {
        // Fixed, recognisable gaps: the report copies them, it does not recompute them.
        LmcPoint[] gaps = soups.Select((s, i) => new LmcPoint
        {
            Label = s.Label,
            Lambda = s.Lambda!,
            Gap = Enumerable.Repeat(-1.5 * (i + 1), rewards).ToArray(),
        }).ToArray();
        return new LmcResult
        {
            Gaps = gaps,
            Min = Enumerable.Range(0, rewards).Select(r => -20.25 - r).ToArray(),
            Mean = Enumerable.Range(0, rewards).Select(r => -11.125 - r).ToArray(),
            Max = Enumerable.Repeat(-1.5, rewards).ToArray(),
        };
    }
}
