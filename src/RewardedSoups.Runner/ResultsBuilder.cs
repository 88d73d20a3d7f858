using System.Globalization;
using System.Text;
using RewardedSoups.Pareto;
using RewardedSoups.Soup;
using RewardedSoups.Statistics;
using RewardedSoups.Tasks;

namespace RewardedSoups.Runner;

/// <summary>
/// Turns a finished run's evaluations into <c>results.json</c> and its CSV copies: every policy's
/// mean rewards with intervals, the RS front (soups, experts as its vertices) and the MORL front
/// (MORL policies, experts as its endpoints), their hypervolumes above the shared init's rewards,
/// expected utilities, the training cost of each front, and the linear-mode-connectivity gap.
/// </summary>
public static class ResultsBuilder
{
    public const string ResultsFile = "results.json";

    /// <summary>
    /// The results of a finished run; <paramref name="askedPreferences"/> adds preferences μ to its <c>preferences</c>
    /// analysis (source <c>asked</c>: what <c>soup prefer</c> asks; results.json is written without them).
    /// </summary>
    public static ExperimentResults Build(ExperimentPlan plan, ITaskFamily family, IReadOnlyList<double[]>? askedPreferences = null)
    {
        ExperimentConfig c = plan.Config;
        int n = c.Experts.Count;
        var seeds = c.TrainingSeeds.ToList();
        var policies = new List<PolicyResult>();
        List<List<double>>? initReturns = null;
        // Every policy's evaluations, one [reward][episode] per training seed: λ*(μ) splits them into validation and test.
        var returnsByLabel = new Dictionary<string, List<double[][]>>();
        // Each policy's measured seconds per evaluation sample: timings.json, not results.json (a measurement, not reproducible).
        var seconds = new Dictionary<string, double>();

        PolicyResult Summarise(string kind, string label, Func<int, Job> jobOf, double[]? lambda, double[]? mu, string? mode = null)
        {
            var pooled = Enumerable.Range(0, n).Select(_ => new List<double>()).ToList();
            var perSeed = new List<double[]>();
            Dictionary<string, List<double>>? measures = null;
            // Inference counts and times over the training seeds whose evaluations have them (a run may reuse evaluations made
            // before they were measured): what a policy costs does not depend on the seed's luck.
            InferenceCost? inference = null;
            double timedSeconds = 0;
            int timedSamples = 0;
            foreach (int s in seeds)
            {
                Job job = jobOf(s);
                EvalFile eval = JobRunner.ReadEval(plan, plan.EvalOf(job));
                if (eval.Inference is { } cost) inference = inference is null ? cost : inference.Plus(cost);
                if (JobRunner.ReadTiming(plan, plan.EvalOf(job)) is { } timing)
                {
                    timedSeconds += timing.Seconds;
                    timedSamples += timing.Samples;
                }
                (returnsByLabel.TryGetValue(label, out var kept) ? kept : returnsByLabel[label] = []).Add(eval.Returns);
                for (int i = 0; i < n; i++) pooled[i].AddRange(eval.Returns[i]);
                perSeed.Add(eval.Returns.Select(r => r.Average()).ToArray());
                // A measure is reported when every training seed's evaluation has it.
                IReadOnlyDictionary<string, double[]> these = eval.Measures ?? new Dictionary<string, double[]>();
                measures ??= these.ToDictionary(m => m.Key, _ => new List<double>());
                foreach (string name in measures.Keys.ToList())
                    if (these.TryGetValue(name, out double[]? values)) measures[name].AddRange(values);
                    else measures.Remove(name);
            }
            var intervals = pooled.Select(p => MeanInterval.Of(p)).ToArray();
            GainResult? gain = null;
            if (kind == "init") initReturns = pooled;
            else
            {
                var init = initReturns ?? throw new InvalidOperationException("the init is summarised before the policies compared with it");
                var gains = pooled.Select((p, i) => MeanInterval.OfDifferences(p, init[i])).ToArray();
                gain = new GainResult { Mean = gains.Select(g => g.Mean).ToArray(), Low = gains.Select(g => g.Low).ToArray(), High = gains.Select(g => g.High).ToArray() };
            }
            var result = new PolicyResult
            {
                Kind = kind,
                Label = label,
                Lambda = lambda,
                Mu = mu,
                Mean = intervals.Select(i => i.Mean).ToArray(),
                Low = intervals.Select(i => i.Low).ToArray(),
                High = intervals.Select(i => i.High).ToArray(),
                PerSeedMean = perSeed.ToArray(),
                Checkpoint = Path.GetRelativePath(plan.RunDir, jobOf(seeds[0]).Kind == JobKind.Ensemble
                    ? Path.Combine(plan.JobDir(jobOf(seeds[0])), JobRunner.EnsembleFileName)
                    : family.PolicyPath(plan.JobDir(jobOf(seeds[0])), jobOf(seeds[0]).Kind == JobKind.Train ? JobRunner.Role(jobOf(seeds[0])) : null)),
                Mode = mode,
                Gain = gain,
                Measures = measures is { Count: > 0 }
                    ? measures.Where(m => m.Value.Count > 0).ToDictionary(m => m.Key, m => MeasureResult.Of(MeanInterval.Of(m.Value)))
                    : null,
                Inference = inference is { Samples: > 0 }
                    ? new InferenceResult { ForwardPassesPerSample = inference.ForwardPassesPerSample, Samples = inference.Samples }
                    : null,
            };
            if (timedSamples > 0) seconds[label] = timedSeconds / timedSamples;
            return result;
        }

        policies.Add(Summarise("init", "init", plan.Init, null, null));
        for (int i = 0; i < n; i++)
        {
            double[] onehot = new double[n];
            onehot[i] = 1;
            policies.Add(Summarise("expert", c.Experts[i].Name, s => plan.Expert(s, i), onehot, null));
        }
        foreach (string mode in c.SoupModes)
            for (int k = 0; k < c.SoupGrid.Count; k++)
                policies.Add(Summarise(plan.SoupKind(mode), (mode == c.SoupModes[0] ? "soup " : $"soup[{mode}] ") + Format(c.SoupGrid[k].ToArray()),
                    s => plan.Get(plan.SoupId(s, k, mode)), c.SoupGrid[k].ToArray(), null, mode));
        for (int k = 0; k < c.EnsembleGrid.Count; k++)
            policies.Add(Summarise("ensemble", "ensemble " + Format(c.EnsembleGrid[k].ToArray()), s => plan.Get(ExperimentPlan.EnsembleId(s, k)), c.EnsembleGrid[k].ToArray(), null));
        for (int j = 0; j < c.MorlPreferences.Count; j++)
            policies.Add(Summarise("morl", "morl " + Format(c.MorlPreferences[j]), s => plan.Morl(s, j), null, c.MorlPreferences[j]));
        // The λ search's soups (kind "search"): candidates for λ*(μ), never members of a front (the grid draws the fronts).
        var searched = SearchJobs.All(plan);
        foreach ((SearchSlot slot, SearchRecord record) in searched.Where(x => x.Record.Lambda is not null))
        {
            string label = "search " + Format(record.Lambda!, fine: true);
            for (int k = 2; policies.Any(p => p.Label == label); k++) label = $"search {Format(record.Lambda!, fine: true)} #{k}";
            policies.Add(Summarise("search", label, s => plan.Get(ExperimentPlan.SearchId(s, slot)), record.Lambda, null, c.SoupModes[0]));
        }

        double[] reference = policies[0].Mean;
        var soups = policies.Where(p => p.Kind == "soup").ToList();
        var morl = policies.Where(p => p.Kind is "morl" or "expert").ToList();
        // Seed s's front: its policies' mean rewards on that seed, against the same reference point (the pooled init).
        double[] SeedHypervolumes(List<PolicyResult> members) =>
            seeds.Select((_, s) => Hypervolume.Compute(members.Select(p => p.PerSeedMean[s]).ToList(), reference)).ToArray();
        double[] SeedUtilities(List<PolicyResult> members) =>
            seeds.Select((_, s) => ExpectedUtility.Compute(members.Select(p => p.PerSeedMean[s]).ToList(), c.EuDivisions)).ToArray();
        FrontResult Front(List<PolicyResult> members, string description)
        {
            var points = members.Select(p => p.Mean).ToList();
            int[] front = Dominance.NonDominatedIndices(points);
            return new FrontResult
            {
                Front = front.Select(i => members[i].Label).ToList(),
                Hypervolume = Hypervolume.Compute(points, reference),
                ExpectedUtility = ExpectedUtility.Compute(points, c.EuDivisions),
                EuDivisions = c.EuDivisions,
                Members = description,
                HypervolumeSeeds = SeedSpread.Of(SeedHypervolumes(members)),
                ExpectedUtilitySeeds = SeedSpread.Of(SeedUtilities(members)),
            };
        }
        // Per-seed ratios a / b; null when some seed's b is 0 (no ratio to average).
        static SeedSpread? Ratios(double[] a, double[] b) =>
            b.All(x => x > 0) ? SeedSpread.Of(a.Select((x, s) => x / b[s]).ToArray()) : null;

        long pre = family.SpentBudget(TrainRole.Init, c.PretrainSteps, c.Settings), per = family.SpentBudget(TrainRole.Expert, c.ExpertSteps, c.Settings);
        var cost = new CostResult
        {
            Unit = family.CostUnit,
            PretrainSteps = pre,
            StepsPerTraining = per,
            RsTrainings = n,
            MorlTrainings = n + c.MorlPreferences.Count,
            RsSteps = pre + n * per,
            MorlSteps = pre + (n + c.MorlPreferences.Count) * per,
        };

        // Every soup mode's own front and LMC gaps, the first mode's being the RS front above.
        FrontResult rsFront = Front(soups, "soups of the λ grid (the experts are its vertices)"),
            morlFront = Front(morl, "MORL policies, one per preference μ, and the experts as the front's endpoints (μ = one-hot)");
        static double? Ratio(double x, double y) => y > 0 ? x / y : null;
        var modes = c.SoupModes.Select(mode =>
        {
            var members = policies.Where(p => p.Kind == plan.SoupKind(mode)).ToList();
            SoupMethod method = c.SoupMethodOf(mode);
            FrontResult front = Front(members, method.IsLinear ? $"soups made in mode '{mode}'" : $"soups made with {method.Method.Name} ('{mode}')");
            return new SoupModeResult
            {
                Mode = mode,
                Method = method.Method.Name,
                Parameters = method.IsLinear ? null : SettingsSection.ToJson(method.Parameters),
                Kind = plan.SoupKind(mode),
                Front = front,
                HypervolumeVsRs = Ratio(front.Hypervolume, rsFront.Hypervolume),
                HypervolumeVsMorl = Ratio(front.Hypervolume, morlFront.Hypervolume),
                HypervolumeVsRsSeeds = Ratios(front.HypervolumeSeeds!.PerSeed, rsFront.HypervolumeSeeds!.PerSeed),
                HypervolumeVsMorlSeeds = Ratios(front.HypervolumeSeeds.PerSeed, morlFront.HypervolumeSeeds!.PerSeed),
                Lmc = Lmc(members, n),
            };
        }).ToList();

        EnsembleResult? ensemble = null;
        (double Ensemble, double Soup, int Pairs)? ensembleTimes = null;
        if (c.EnsembleGrid.Count > 0)
        {
            var members = policies.Where(p => p.Kind is "ensemble" or "expert").ToList();
            FrontResult front = Front(members, "output-space ensembles of the experts on the ensemble grid, and the experts as its vertices");
            var pairs = policies.Where(p => p.Kind == "ensemble")
                .Select(e => (Ensemble: e, Soup: soups.FirstOrDefault(x => PreferredSoup.SameWeights(x.Lambda!, e.Lambda!))))
                .Where(p => p.Soup is not null).ToList();
            var beats = new int[n];
            var loses = new int[n];
            foreach ((PolicyResult e, PolicyResult? soup) in pairs)
            {
                var ours = returnsByLabel[e.Label];
                var theirs = returnsByLabel[soup!.Label];
                for (int i = 0; i < n; i++)
                {
                    MeanInterval d = MeanInterval.OfDifferences(ours.SelectMany(r => r[i]).ToList(), theirs.SelectMany(r => r[i]).ToList());
                    if (d.Low > 0) beats[i]++;
                    if (d.High < 0) loses[i]++;
                }
            }
            // Inference over the λ where both were measured (evaluations reused from runs made before it was measured have none).
            InferenceComparison? inference = null;
            var measured = pairs.Where(p => p.Ensemble.Inference is not null && p.Soup!.Inference is not null).ToList();
            if (measured.Count > 0)
            {
                double ePasses = measured.Average(p => p.Ensemble.Inference!.ForwardPassesPerSample), sPasses = measured.Average(p => p.Soup!.Inference!.ForwardPassesPerSample);
                if (sPasses > 0)
                    inference = new InferenceComparison { ForwardPassesPerSample = ePasses, SoupForwardPassesPerSample = sPasses, ForwardPassRatio = ePasses / sPasses, Lambdas = measured.Count };
            }
            var timed = pairs.Where(p => seconds.ContainsKey(p.Ensemble.Label) && seconds.ContainsKey(p.Soup!.Label)).ToList();
            if (timed.Count > 0)
            {
                double eSeconds = timed.Average(p => seconds[p.Ensemble.Label]), sSeconds = timed.Average(p => seconds[p.Soup!.Label]);
                if (sSeconds > 0) ensembleTimes = (eSeconds, sSeconds, timed.Count);
            }
            ensemble = new EnsembleResult
            {
                Combination = family.EnsembleCombination,
                Front = front,
                HypervolumeVsRs = Ratio(front.Hypervolume, rsFront.Hypervolume),
                HypervolumeVsMorl = Ratio(front.Hypervolume, morlFront.Hypervolume),
                HypervolumeVsRsSeeds = Ratios(front.HypervolumeSeeds!.PerSeed, rsFront.HypervolumeSeeds!.PerSeed),
                HypervolumeVsMorlSeeds = Ratios(front.HypervolumeSeeds.PerSeed, morlFront.HypervolumeSeeds!.PerSeed),
                VsRs = new SeedComparison
                {
                    HypervolumeDifference = SeedSpread.Of(front.HypervolumeSeeds.PerSeed.Select((x, s) => x - rsFront.HypervolumeSeeds.PerSeed[s]).ToArray()),
                    HypervolumeRatio = Ratios(front.HypervolumeSeeds.PerSeed, rsFront.HypervolumeSeeds.PerSeed),
                    ExpectedUtilityDifference = SeedSpread.Of(front.ExpectedUtilitySeeds!.PerSeed.Select((x, s) => x - rsFront.ExpectedUtilitySeeds!.PerSeed[s]).ToArray()),
                },
                TrainingSteps = cost.RsSteps,
                Inference = inference,
                BeatsSoup = beats,
                LosesToSoup = loses,
            };
        }

        return new ExperimentResults
        {
            Name = c.Name,
            Task = c.Task,
            Rewards = c.Experts.Select(e => e.Name).ToList(),
            TrainingSeeds = seeds,
            // Counted, not computed from the configuration: an image evaluation's "episode" is one image per prompt.
            EpisodesPerPolicy = initReturns![0].Count,
            EvaluationUnit = family.EvaluationUnit,
            Policies = policies,
            RsFront = rsFront,
            MorlFront = morlFront,
            ReferencePoint = reference,
            ReferencePointSource = "mean rewards of the shared init",
            Cost = cost,
            Lmc = Lmc(soups, n),
            SoupModes = modes,
            RsVsMorl = new SeedComparison
            {
                HypervolumeDifference = SeedSpread.Of(rsFront.HypervolumeSeeds!.PerSeed.Select((x, s) => x - morlFront.HypervolumeSeeds!.PerSeed[s]).ToArray()),
                HypervolumeRatio = Ratios(rsFront.HypervolumeSeeds.PerSeed, morlFront.HypervolumeSeeds!.PerSeed),
                ExpectedUtilityDifference = SeedSpread.Of(rsFront.ExpectedUtilitySeeds!.PerSeed.Select((x, s) => x - morlFront.ExpectedUtilitySeeds!.PerSeed[s]).ToArray()),
            },
            InitDetails = family.InitDetails(plan.JobDir(plan.Init(seeds[0]))),
            Preferences = PreferenceAnalysis.Build(returnsByLabel,
                policies.Where(p => p.Kind is "expert" or "soup").Select(p => (p.Label, p.Lambda!)).ToList(),
                policies.Where(p => p.Kind == "morl").Select(p => (p.Label, p.Mu!)).ToList(),
                c.Experts.Select(e => e.Name).ToList(), c.EuDivisions, askedPreferences,
                ensembles: c.EnsembleGrid.Count == 0 ? null : policies.Where(p => p.Kind is "expert" or "ensemble").Select(p => (p.Label, p.Lambda!)).ToList(),
                search: c.LambdaSearch is not { } search ? null : new SearchInput(search, c.SearchPreferences(),
                    policies.Where(p => p.Kind == "search").Select(p => (p.Label, p.Lambda!)).ToList(),
                    Proposals: searched.Count, Evaluations: searched.Count(x => x.Record.Lambda is not null) * seeds.Count,
                    GridEvaluations: seeds.Count * c.SoupGrid.Count, EpisodesPerEvaluation: initReturns![0].Count / seeds.Count)),
            Ensemble = ensemble,
            Timings = new Timings
            {
                SecondsPerSample = seconds,
                EnsembleSecondsPerSample = ensembleTimes?.Ensemble,
                SoupSecondsPerSample = ensembleTimes?.Soup,
                EnsembleTimeRatio = ensembleTimes is { } t ? t.Ensemble / t.Soup : null,
                EnsembleTimedLambdas = ensembleTimes?.Pairs,
            },
        };
    }

    private static LmcResult Lmc(List<PolicyResult> soups, int n)
    {
        var lambdas = soups.Select(s => s.Lambda!).ToList();
        var rewards = soups.Select(s => s.Mean).ToList();
        ConnectivityReport report = n == 2
            ? LinearModeConnectivity.Path(lambdas.Select(l => l[1]).ToList(), rewards)
            : LinearModeConnectivity.Simplex(lambdas, rewards);
        return new LmcResult
        {
            Gaps = soups.Select((s, i) => new LmcPoint { Label = s.Label, Lambda = s.Lambda!, Gap = report.Gaps[i] }).ToList(),
            Min = report.PerReward.Select(g => g.Min).ToArray(),
            Mean = report.PerReward.Select(g => g.Mean).ToArray(),
            Max = report.PerReward.Select(g => g.Max).ToArray(),
        };
    }

    /// <summary>Writes results.json, results_policies.csv and timings.json (measured times, apart from the reproducible results) atomically.</summary>
    public static void Write(ExperimentPlan plan, ExperimentResults results)
    {
        Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.RunDir, ResultsFile), Numerics.FiniteJson.Serialize(results, ResultsFile));
        if (results.Timings is { } timings)
            Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.RunDir, Timings.FileName), Numerics.FiniteJson.Serialize(timings, Timings.FileName));
        var csv = new StringBuilder("kind,label,weights");
        foreach (string r in results.Rewards) csv.Append($",{r}_mean,{r}_low,{r}_high");
        // Measures (not rewards) after the rewards, named measure_NAME_*: empty where a policy lacks one.
        IReadOnlyList<string> measures = results.MeasureNames;
        foreach (string m in measures) csv.Append($",measure_{m}_mean,measure_{m}_low,measure_{m}_high");
        csv.Append('\n');
        foreach (PolicyResult p in results.Policies)
        {
            double[]? w = p.Lambda ?? p.Mu;
            csv.Append(p.Kind).Append(',').Append(Quote(p.Label)).Append(',').Append(w is null ? "" : Quote(Format(w)));
            for (int i = 0; i < results.Rewards.Count; i++)
                csv.Append(',').Append(Num(p.Mean[i])).Append(',').Append(Num(p.Low[i])).Append(',').Append(Num(p.High[i]));
            foreach (string m in measures)
            {
                MeasureResult? r = p.Measures?.GetValueOrDefault(m);
                csv.Append(',').Append(r is null ? "" : Num(r.Mean)).Append(',').Append(r?.Low is { } low ? Num(low) : "").Append(',').Append(r?.High is { } high ? Num(high) : "");
            }
            csv.Append('\n');
        }
        Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.RunDir, "results_policies.csv"), csv.ToString());
    }

    /// <summary>Weights as a label: three decimals, or four (<paramref name="fine"/>) for the λ search's halved steps.</summary>
    public static string Format(double[] w, bool fine = false) =>
        "(" + string.Join(", ", w.Select(x => x.ToString(fine ? "0.####" : "0.###", CultureInfo.InvariantCulture))) + ")";

    private static string Num(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
