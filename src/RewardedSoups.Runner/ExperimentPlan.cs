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
public sealed record Job(string Id, JobKind Kind, int Seed, string Role, IReadOnlyList<string> DependsOn, string Key,
    int? Expert = null, double[]? Preference = null, SoupWeights? Lambda = null, string? Policy = null, string? Mode = null);

/// <summary>
/// The jobs of an experiment, per training seed s: <c>s{s}-init</c>; <c>s{s}-expert-{i}</c> (fine-tuned
/// from the init on expert reward i); <c>s{s}-morl-{j}</c> (from the init on Σ μⱼ Rᵢ, same budget as an
/// expert); <c>s{s}-soup-{k}</c> (θ(λₖ) of the experts in the family's first soup mode) and
/// <c>s{s}-soup-{mode}-{k}</c> for its other modes; <c>s{s}-ensemble-{k}</c>, the experts' output-space ensemble for
/// the k-th λ of <c>ensembles</c>; and an <c>…-eval</c> job for every policy.
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
        2L * config.Repeats * (1 + config.Experts.Count + config.MorlPreferences.Count + (long)config.SoupModes.Count * config.SoupGrid.Count + config.EnsembleGrid.Count);

    public static ExperimentPlan Create(ExperimentConfig config, string runDir)
    {
        var jobs = new List<Job>();
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
                    SoupMethod method = config.SoupMethodOf(mode);
                    string how = method.IsLinear ? mode : $"{mode} {method.ToJson().ToJsonString()}";
                    jobs.Add(new Job(id, JobKind.Soup, s, "soup", [init, .. experts.Select(e => e.Id)], Hash(expertsKey, id, how, JsonSerializer.Serialize(lambda.ToArray())), Lambda: lambda, Mode: mode));
                }
            }
            for (int k = 0; k < config.EnsembleGrid.Count; k++)
            {
                string id = EnsembleId(s, k);
                SoupWeights lambda = config.EnsembleGrid[k];
                jobs.Add(new Job(id, JobKind.Ensemble, s, "ensemble", [init, .. experts.Select(e => e.Id)], Hash(expertsKey, id, "ensemble", JsonSerializer.Serialize(lambda.ToArray())), Lambda: lambda));
            }
            string evalKey = Hash(config.Episodes.ToString(CultureInfo.InvariantCulture), JsonSerializer.Serialize(config.EvaluationSeeds), JsonSerializer.Serialize(config.Experts));
            foreach (Job policy in jobs.Where(j => j.Seed == s && j.Kind != JobKind.Eval).ToList())
                jobs.Add(new Job(EvalId(policy.Id), JobKind.Eval, s, "eval", [policy.Id], Hash(policy.Key, evalKey), Policy: policy.Id));
        }
        return new ExperimentPlan(config, runDir, jobs);
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

    private static string Hash(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\u001f", parts))))[..16];
}
