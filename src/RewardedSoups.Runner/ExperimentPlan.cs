using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RewardedSoups.Jobs;
using RewardedSoups.Soup;

namespace RewardedSoups.Runner;

/// <summary>The kinds of job an experiment is made of.</summary>
public enum JobKind
{
    /// <summary>A PPO training: the shared init, an expert, or a MORL policy.</summary>
    Train,
    /// <summary>A soup of the experts' policies for one λ.</summary>
    Soup,
    /// <summary>Evaluation of one policy on every expert reward.</summary>
    Eval,
    /// <summary>An output-space ensemble of the experts for one λ (nothing is trained or merged: its folder names the experts and λ).</summary>
    Ensemble,
}

/// <summary>
/// One job: an id (also its folder under <c>jobs/</c>), its kind, the jobs it needs, and a key that
/// identifies its inputs (its own description and its dependencies' keys): a finished job whose
/// <c>job.json</c> holds the same key is not redone.
/// </summary>
/// <param name="Policy">For Eval jobs, the job whose policy is evaluated.</param>
/// <param name="Preference">For MORL trainings, the preference μ of the scalarised reward Σ μᵢ Rᵢ.</param>
/// <param name="Lambda">For Soup and Ensemble jobs, the weights.</param>
/// <param name="Mode">For Soup jobs, the family's soup mode.</param>
/// <param name="Search">For the λ search's soups (role <c>search</c>, <see cref="Preference"/> the μ searched): which proposal; their
/// λ is not known when the plan is made but computed when the job runs, from the evaluations it depends on.</param>
public sealed record Job(string Id, JobKind Kind, int Seed, string Role, IReadOnlyList<string> DependsOn, string Key,
    int? Expert = null, double[]? Preference = null, SoupWeights? Lambda = null, string? Policy = null, string? Mode = null, SearchSlot? Search = null);

/// <summary>A λ-search proposal: round (1-based), the index of its μ in <see cref="ExperimentConfig.SearchPreferences"/>, the direction's index in <see cref="Pareto.LambdaSearch.Directions"/>.</summary>
public sealed record SearchSlot(int Round, int Preference, int Direction);

/// <summary>
/// The jobs of an experiment, per training seed s: <c>s{s}-init</c>; <c>s{s}-expert-{i}</c> (fine-tuned
/// from the init on expert reward i); <c>s{s}-morl-{j}</c> (from the init on Σ μⱼ Rᵢ, same budget as an
/// expert); <c>s{s}-soup-{k}</c> (θ(λₖ) of the experts in the family's first soup mode) and
/// <c>s{s}-soup-{mode}-{k}</c> for its other modes; <c>s{s}-ensemble-{k}</c>, the experts' output-space ensemble for
/// the k-th λ of <c>ensembles</c>; <c>s{s}-search-{r}-{m}-{d}</c>, the λ search's proposal of round r for the m-th
/// searched μ in direction d (after every training seed's other jobs: a round depends on every seed's evaluations);
/// and an <c>…-eval</c> job for every policy.
/// </summary>
public sealed class ExperimentPlan
{
    public const string ResolvedConfigFile = "config.resolved.json";

    private readonly Dictionary<string, Job> _byId;

    private ExperimentPlan(ExperimentConfig config, string runDir, List<Job> jobs)
    {
        Config = config;
        RunDir = runDir;
        Jobs = jobs;
        _byId = jobs.ToDictionary(j => j.Id);
    }

    public ExperimentConfig Config { get; }

    public string RunDir { get; }

    public IReadOnlyList<Job> Jobs { get; }

    public Job Get(string id) =>
        _byId.TryGetValue(id, out Job? job) ? job : throw new SoupInputException($"{RunDir}: no job '{id}' in this experiment's plan");

    public string JobDir(Job job) => Path.Combine(RunDir, "jobs", job.Id);

    // Job ids are made here and nowhere else.

    /// <summary>The id of the shared init of training seed <paramref name="seed"/>.</summary>
    public static string InitId(int seed) => $"s{seed}-init";

    /// <summary>The id of expert <paramref name="i"/> (0-based, the config's order) of a training seed.</summary>
    public static string ExpertId(int seed, int i) => $"s{seed}-expert-{i + 1}";

    /// <summary>The id of the MORL policy of preference <paramref name="j"/> (0-based) of a training seed.</summary>
    public static string MorlId(int seed, int j) => $"s{seed}-morl-{j + 1}";

    /// <summary>The id of the evaluation of a policy job.</summary>
    public static string EvalId(string policyId) => $"{policyId}-eval";

    /// <summary>The id of soup k (0-based) of seed s in a soup mode: the first mode keeps the short id.</summary>
    public string SoupId(int seed, int k, string mode) => SoupId(Config, seed, k, mode);

    private static string SoupId(ExperimentConfig config, int seed, int k, string mode) =>
        mode == config.SoupModes[0] ? $"s{seed}-soup-{k + 1:D2}" : $"s{seed}-soup-{mode}-{k + 1:D2}";

    /// <summary>The id of the ensemble of the k-th (0-based) λ of the ensemble grid of a training seed.</summary>
    public static string EnsembleId(int seed, int k) => $"s{seed}-ensemble-{k + 1:D2}";

    /// <summary>The shared init's job of a training seed.</summary>
    public Job Init(int seed) => Get(InitId(seed));

    /// <summary>Expert <paramref name="i"/>'s job (0-based) of a training seed.</summary>
    public Job Expert(int seed, int i) => Get(ExpertId(seed, i));

    /// <summary>The job of MORL preference <paramref name="j"/> (0-based) of a training seed.</summary>
    public Job Morl(int seed, int j) => Get(MorlId(seed, j));

    /// <summary>The evaluation job of a policy job.</summary>
    public Job EvalOf(Job policy) => Get(EvalId(policy.Id));

    /// <summary>The policy kind of a soup mode in results: <c>soup</c> for the first mode, <c>soup-MODE</c> for the others.</summary>
    public string SoupKind(string mode) => mode == Config.SoupModes[0] ? "soup" : $"soup-{mode}";

    public static string ConfigJson(ExperimentConfig config) =>
        JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>
    /// How many jobs <see cref="Create"/> makes, counted without making them: per training seed the
    /// init, the experts, the MORL policies, the soups of every mode and the ensembles, and an evaluation of each.
    /// </summary>
    public static long CountJobs(ExperimentConfig config) =>
        2L * config.Repeats * (1 + config.Experts.Count + config.MorlPreferences.Count + (long)config.SoupModes.Count * config.SoupGrid.Count + config.EnsembleGrid.Count)
        + 2L * CountSearchSoups(config);

    /// <summary>
    /// The λ search's soup jobs over every training seed (each has an evaluation): rounds × searched μ × N(N − 1) directions,
    /// counted without listing the expected-utility grid.
    /// </summary>
    public static long CountSearchSoups(ExperimentConfig config)
    {
        if (config.LambdaSearch is not { } search) return 0;
        int n = config.Experts.Count;
        long mus = search.At == LambdaSearchSettings.AtMorl ? config.MorlPreferences.Count
            : Pareto.SimplexGrid.Count(n, config.EuDivisions) + config.MorlPreferences.Count(mu => !mu.All(x => Math.Abs(x * config.EuDivisions - Math.Round(x * config.EuDivisions)) < 1e-9));
        return (long)config.Repeats * search.Rounds * mus * n * (n - 1);
    }

    /// <summary>The id of a λ-search soup of a training seed.</summary>
    public static string SearchId(int seed, SearchSlot slot) => $"s{seed}-search-{slot.Round}-{slot.Preference + 1:D2}-{slot.Direction + 1}";

    public static ExperimentPlan Create(ExperimentConfig config, string runDir)
    {
        var jobs = new List<Job>();
        var expertsKeys = new Dictionary<int, string>();
        string configKey = Hash(config.Task, config.SettingsJson.ToJsonString());
        foreach (int s in config.TrainingSeeds)
        {
            string init = InitId(s);
            string initKey = Hash(configKey, init, JsonSerializer.Serialize(config.PretrainReward), config.PretrainSteps.ToString(CultureInfo.InvariantCulture));
            jobs.Add(new Job(init, JobKind.Train, s, "init", [], initKey));
            var experts = new List<Job>();
            for (int i = 0; i < config.Experts.Count; i++)
            {
                string id = ExpertId(s, i);
                experts.Add(new Job(id, JobKind.Train, s, "expert", [init],
                    Hash(initKey, id, JsonSerializer.Serialize(config.Experts[i]), config.ExpertSteps.ToString(CultureInfo.InvariantCulture)), Expert: i));
            }
            jobs.AddRange(experts);
            string expertsKey = Hash(experts.Select(e => e.Key).ToArray());
            expertsKeys[s] = expertsKey;
            for (int j = 0; j < config.MorlPreferences.Count; j++)
            {
                string id = MorlId(s, j);
                double[] mu = config.MorlPreferences[j];
                jobs.Add(new Job(id, JobKind.Train, s, "morl", [init],
                    Hash(initKey, id, JsonSerializer.Serialize(config.Experts), JsonSerializer.Serialize(mu), config.ExpertSteps.ToString(CultureInfo.InvariantCulture)), Preference: mu));
            }
            foreach (string mode in config.SoupModes)
            {
                for (int k = 0; k < config.SoupGrid.Count; k++)
                {
                    string id = SoupId(config, s, k, mode);
                    SoupWeights lambda = config.SoupGrid[k];
                    string how = SoupHow(mode, config.SoupMethodOf(mode));
                    jobs.Add(new Job(id, JobKind.Soup, s, "soup", [init, .. experts.Select(e => e.Id)], Hash(expertsKey, id, how, JsonSerializer.Serialize(lambda.ToArray())), Lambda: lambda, Mode: mode));
                }
            }
            for (int k = 0; k < config.EnsembleGrid.Count; k++)
            {
                string id = EnsembleId(s, k);
                SoupWeights lambda = config.EnsembleGrid[k];
                jobs.Add(new Job(id, JobKind.Ensemble, s, "ensemble", [init, .. experts.Select(e => e.Id)], Hash(expertsKey, id, "ensemble", JsonSerializer.Serialize(lambda.ToArray())), Lambda: lambda));
            }
            string evalKey = EvalKey(config);
            foreach (Job policy in jobs.Where(j => j.Seed == s && j.Kind != JobKind.Eval).ToList())
                jobs.Add(new Job(EvalId(policy.Id), JobKind.Eval, s, "eval", [policy.Id], Hash(policy.Key, evalKey), Policy: policy.Id));
        }
        if (config.LambdaSearch is { } search) AddSearchJobs(config, search, jobs, expertsKeys);
        return new ExperimentPlan(config, runDir, jobs);
    }

    private static string EvalKey(ExperimentConfig config) =>
        Hash(config.Episodes.ToString(CultureInfo.InvariantCulture), JsonSerializer.Serialize(config.EvaluationSeeds), JsonSerializer.Serialize(config.Experts));

    /// <summary>
    /// The λ search's jobs, round after round: each proposal's soup (first soup mode) and evaluation per training seed. A round's
    /// soups depend on the evaluations of every training seed's experts, grid soups and earlier rounds (λ*(μ) is chosen on
    /// their pooled validation returns, as results.json chooses it), and their keys on those evaluations' keys: the λ a
    /// proposal computes when it runs is a function of its key.
    /// </summary>
    private static void AddSearchJobs(ExperimentConfig config, LambdaSearchSettings search, List<Job> jobs, Dictionary<int, string> expertsKeys)
    {
        string mode = config.SoupModes[0];
        SoupMethod method = config.SoupMethodOf(mode);
        string how = method.IsLinear ? mode : $"{mode} {method.ToJson().ToJsonString()}";
        var mus = config.SearchPreferences();
        int directions = config.Experts.Count * (config.Experts.Count - 1);
        string evalKey = EvalKey(config);
        var byId = jobs.ToDictionary(j => j.Id);
        var seen = config.TrainingSeeds.SelectMany(s => Enumerable.Range(0, config.Experts.Count).Select(i => EvalId(ExpertId(s, i)))
            .Concat(Enumerable.Range(0, config.SoupGrid.Count).Select(k => EvalId(SoupId(config, s, k, mode))))).ToList();
        for (int round = 1; round <= search.Rounds; round++)
        {
            string seenKey = Hash(seen.Select(id => byId[id].Key).ToArray());
            var added = new List<string>();
            foreach (int s in config.TrainingSeeds)
                for (int m = 0; m < mus.Count; m++)
                    for (int d = 0; d < directions; d++)
                    {
                        var slot = new SearchSlot(round, m, d);
                        string id = SearchId(s, slot);
                        // What the proposal depends on: every searched μ (a proposal already made this round for another μ is skipped),
                        // this round's step, and the evaluations it chooses on.
                        string key = Hash(expertsKeys[s], id, how, JsonSerializer.Serialize(mus), search.StepOf(round).ToString("R", CultureInfo.InvariantCulture), seenKey);
                        var soup = new Job(id, JobKind.Soup, s, "search", [InitId(s), .. Enumerable.Range(0, config.Experts.Count).Select(i => ExpertId(s, i)), .. seen],
                            key, Preference: mus[m], Mode: mode, Search: slot);
                        var eval = new Job(EvalId(id), JobKind.Eval, s, "eval", [id], Hash(key, evalKey), Policy: id);
                        jobs.Add(soup);
                        jobs.Add(eval);
                        byId[soup.Id] = soup;
                        byId[eval.Id] = eval;
                        added.Add(eval.Id);
                    }
            seen.AddRange(added);
        }
    }

    /// <summary>True when the job finished with the same inputs (its <c>job.json</c> holds its key).</summary>
    public bool IsDone(Job job) => JobFolder.IsFinished(JobDir(job), job.Key);

    /// <summary>
    /// The compute threads a job starts with when <paramref name="slots"/> jobs may run at once: the inits (which
    /// everything else waits for) share the slots, every other job gets one. A function of the plan alone, not of
    /// which jobs happen to be ready when it starts: libtorch's parallel kernels sum in an order that depends on
    /// the thread count, so a job's numbers do too, and a run must give the same numbers however its jobs were
    /// interleaved, interrupted or resumed (see also <see cref="JobRunner"/>, which keeps a started job's count).
    /// </summary>
    public int StartThreads(Job job, int slots) =>
        job.Kind == JobKind.Train && job.Role == "init" ? Math.Max(1, slots / Config.Repeats) : 1;

    /// <summary>Marks a job finished, atomically.</summary>
    public void MarkDone(Job job) => JobFolder.MarkFinished(JobDir(job), job.Id, job.Kind.ToString().ToLowerInvariant(), job.Key);

    /// <summary>
    /// What a soup job's key says of how it is made: the mode, and for other methods than linear the method with every
    /// parameter and, when its rule has been revised (<see cref="IMergeMethod.Revision"/>), the revision: soups an older
    /// rule made are then not this run's, and are made again.
    /// </summary>
    internal static string SoupHow(string mode, SoupMethod method)
    {
        if (method.IsLinear) return mode;
        string how = $"{mode} {method.ToJson().ToJsonString()}";
        return method.Method.Revision > 1 ? $"{how} revision {method.Method.Revision}" : how;
    }

    private static string Hash(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\u001f", parts))))[..16];
}
