using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RewardedSoups.Environments;
using RewardedSoups.Soup;
using RewardedSoups.Tasks;

namespace RewardedSoups.Runner;

/// <summary>
/// One rewarded-soups experiment, as a configuration file declares it (YAML or JSON; every key is
/// checked, an unknown one is an error naming it). See <c>configs/</c> for documented examples.
/// </summary>
public sealed record ExperimentConfig
{
    /// <summary>Name of the experiment (used in reports).</summary>
    public required string Name { get; init; }

    /// <summary>Task (e.g. <c>cheetah</c>).</summary>
    public required string Task { get; init; }

    /// <summary>Seed of the first repeat; repeat k uses Seed + k.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The whole experiment over this many training seeds.</summary>
    public int Repeats { get; init; } = 1;

    /// <summary>Jobs at once (0: one per core).</summary>
    public int Parallelism { get; init; }

    /// <summary>
    /// Where the jobs run (<c>executor:</c>; local by default). Not part of the experiment's identity: left out of the
    /// resolved configuration and the job keys, so a run folder can be continued on either executor.
    /// </summary>
    [JsonIgnore]
    public Slurm.ExecutorSettings Executor { get; init; } = Slurm.ExecutorSettings.Local;

    /// <summary>The shared pre-training: its reward (for families whose init is trained on one) and budget.</summary>
    public RewardFunction? PretrainReward { get; init; }

    public required long PretrainSteps { get; init; }

    /// <summary>The experts' rewards, N ≥ 2, in the order λ refers to; resolved against the task's terms when the configuration is read.</summary>
    public required IReadOnlyList<RewardFunction> Experts { get; init; }

    /// <summary>Budget of each expert, and of each MORL training.</summary>
    public required long ExpertSteps { get; init; }

    /// <summary>
    /// The λ grid of soups (experts included as its vertices), checked where it is read: by <see cref="Parse"/> from
    /// <c>soups</c>, by <see cref="ReadGrids"/> from a resolved configuration's <c>SoupWeights</c>.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<SoupWeights> SoupGrid { get; init; } = [];

    /// <summary>The λ grid as the resolved configuration holds it.</summary>
    [JsonPropertyName("SoupWeights")]
    public IEnumerable<double[]> SoupGridJson => SoupGrid.Select(w => w.ToArray());

    /// <summary>MORL preferences μ strictly inside the simplex (the experts are its vertices); read and checked as <see cref="SoupGrid"/> is.</summary>
    [JsonIgnore]
    public IReadOnlyList<double[]> MorlPreferences { get; init; } = [];

    [JsonPropertyName("MorlPreferences")]
    public IEnumerable<double[]> MorlPreferencesJson => MorlPreferences;

    /// <summary>
    /// The λ of the experts' output-space ensembles (<c>ensembles:</c> <c>true</c> for the soup grid's, or a list of λ): each is
    /// evaluated like a soup, the experts being the ensemble front's vertices (an ensemble with one-hot λ is its expert, so
    /// vertices are left out). Empty: no ensembles.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<SoupWeights> EnsembleGrid { get; init; } = [];

    [JsonPropertyName("EnsembleWeights")]
    public IEnumerable<double[]> EnsembleGridJson => EnsembleGrid.Select(w => w.ToArray());

    /// <summary>
    /// The search beyond the λ grid for λ*(μ) (<c>lambda_search:</c>; null: none): rounds of a compass search on the
    /// simplex around the best soup so far, at MORL's preferences or at every preference of the expected-utility grid too
    /// (<see cref="Pareto.LambdaSearch"/>). Each proposal is a soup job and an evaluation per training seed.
    /// </summary>
    public LambdaSearchSettings? LambdaSearch { get; init; }

    /// <summary>The preferences μ the λ search serves, in order: MORL's, or the expected-utility grid's then MORL's not on it.</summary>
    public IReadOnlyList<double[]> SearchPreferences()
    {
        if (LambdaSearch is null) return [];
        if (LambdaSearch.At == LambdaSearchSettings.AtMorl) return MorlPreferences;
        var mus = Pareto.SimplexGrid.Points(Experts.Count, EuDivisions).ToList();
        foreach (double[] mu in MorlPreferences)
            if (!mus.Any(m => Pareto.PreferredSoup.SameWeights(m, mu))) mus.Add(mu);
        return mus;
    }

    /// <summary>Episodes per evaluation seed, and the evaluation seeds.</summary>
    public int Episodes { get; init; } = 10;

    public IReadOnlyList<int> EvaluationSeeds { get; init; } = [1000];

    /// <summary>Divisions of the simplex grid of preferences of the expected utility.</summary>
    public int EuDivisions { get; init; } = 10;

    /// <summary>
    /// The kinds of soups, each with its own front: <c>soups.methods</c> in order, <c>linear</c> standing for the
    /// family's soup modes (LoRA's <c>delta</c> and <c>factors</c>; <c>linear</c> elsewhere), every other method for
    /// its label. The first draws the RS front; the others are compared with it.
    /// </summary>
    public required IReadOnlyList<string> SoupModes { get; init; }

    /// <summary>The merge methods of <c>soups.methods</c> (default: linear), as read; <see cref="SoupMethodOf"/> maps a soup mode to its method.</summary>
    [JsonIgnore]
    public IReadOnlyList<SoupMethod> SoupMethods { get; init; } = [SoupMethod.Linear];

    /// <summary>The methods as the resolved configuration holds them (every parameter written out).</summary>
    [JsonPropertyName("SoupMethods")]
    public JsonArray SoupMethodsJson => new(SoupMethods.Select(m => (JsonNode)m.ToJson()).ToArray());

    /// <summary>The merge method of a soup mode: its method's, or linear for the family's own modes.</summary>
    public SoupMethod SoupMethodOf(string mode) => SoupMethods.FirstOrDefault(m => !m.IsLinear && m.Label == mode) ?? SoupMethod.Linear;

    /// <summary>
    /// The task family's settings record, bound and checked once when the configuration is read
    /// (<see cref="ITaskFamily.ReadSettings"/>); the config key is the family's (<c>ppo</c>, <c>text</c>, …).
    /// Every job gets this record; nothing downstream parses or checks it again.
    /// </summary>
    [JsonIgnore]
    public ISettingsSection Settings { get; init; } = null!;

    /// <summary>The settings as their section, every default written out: what the resolved configuration holds and job keys hash.</summary>
    [JsonPropertyName("Settings")]
    public JsonObject SettingsJson => SettingsSection.ToJson(Settings);

    public IEnumerable<int> TrainingSeeds => Enumerable.Range(0, Repeats).Select(k => Seed + k);

    /// <summary>
    /// Reads a YAML or JSON file (YAML is a superset; JSON is parsed as JSON for exact errors) within
    /// <see cref="ConfigLimits"/>; the task's family checks its settings. Nothing is created: a run
    /// folder is made only from a configuration this accepted.
    /// </summary>
    public static ExperimentConfig Load(string path, TaskCatalogue tasks) => Parse(ConfigDocument.Read(path), path, tasks);

    /// <summary>Binds the document strictly.</summary>
    public static ExperimentConfig Parse(JsonNode? root, string source, TaskCatalogue tasks)
    {
        var r = new ConfigReader(source);
        JsonObject doc = r.Object(root, "");
        string task = r.String(r.Required(doc, "task", ""), "task");
        ITaskFamily family;
        try { family = tasks.Family(task); }
        catch (SoupInputException e) { throw r.Error("task", e.Message); }
        r.Keys(doc, "", "name", "task", "seed", "repeats", "parallelism", "pretrain", "experts", "soups", "morl", "ensembles", "lambda_search", "evaluation", "executor", family.SettingsKey);
        JsonObject pretrain = r.Object(r.Required(doc, "pretrain", ""), "pretrain");
        r.Keys(pretrain, "pretrain", "reward", "steps");
        if (family.InitUsesReward && pretrain["reward"] is null) throw r.Error("pretrain.reward", $"is required: the {family.Name} init is trained on a reward");
        if (!family.InitUsesReward && pretrain["reward"] is not null) throw r.Error("pretrain.reward", $"the {family.Name} init is pre-trained without a reward; remove the key");
        JsonObject experts = r.Object(r.Required(doc, "experts", ""), "experts");
        r.Keys(experts, "experts", "rewards", "steps");
        var expertRewards = AtMost(r, r.Array(r.Required(experts, "rewards", "experts"), "experts.rewards"), "experts.rewards", ConfigLimits.MaxExperts, "experts")
            .Select((n, i) => Reward(r, tasks, task, n ?? throw r.Error($"experts.rewards[{i}]", "is empty"), $"experts.rewards[{i}]")).ToList();
        if (expertRewards.Count < 2) throw r.Error("experts.rewards", $"needs at least 2 experts, found {expertRewards.Count}");
        var duplicate = expertRewards.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw r.Error("experts.rewards", $"reward '{duplicate.Key}' appears twice");
        int n = expertRewards.Count;

        JsonObject soups = doc["soups"] is null ? new JsonObject { ["step"] = 0.1 } : r.Object(doc["soups"], "soups");
        r.Keys(soups, "soups", "step", "divisions", "points", "methods");
        List<SoupWeights> grid = ReadSoupGrid(r, soups, n);
        IReadOnlyList<SoupMethod> soupMethods = soups["methods"] is null ? [SoupMethod.Linear]
            : ReadSoupMethods(r, AtMost(r, r.Array(soups["methods"], "soups.methods"), "soups.methods", ConfigLimits.MaxSoupMethods, "methods"), "soups.methods", n);

        var morlPrefs = new List<double[]>();
        if (doc["morl"] is not null)
        {
            JsonObject morl = r.Object(doc["morl"], "morl");
            r.Keys(morl, "morl", "preferences");
            JsonArray preferences = AtMost(r, r.Array(r.Required(morl, "preferences", "morl"), "morl.preferences"), "morl.preferences", ConfigLimits.MaxMorlPreferences, "preferences");
            foreach ((JsonNode? p, int i) in preferences.Select((p, i) => (p, i)))
                morlPrefs.Add(r.Weights(p, $"morl.preferences[{i}]", n, allowVertices: false));
        }
        // The soup θ(μ) of every MORL preference is made and evaluated too, appended after the grid (the grid's job
        // numbers do not move): RS and MORL are then compared at the same μ (results.json's preferences section).
        foreach (double[] mu in morlPrefs)
            if (!grid.Any(g => Pareto.PreferredSoup.SameWeights(g.ToArray(), mu))) grid.Add(SoupWeights.Of(mu));
        if (grid.Count > ConfigLimits.MaxSoups)
            throw r.Error("soups", $"the grid and the MORL preferences make {grid.Count} soups; at most {ConfigLimits.MaxSoups}");
        List<SoupWeights> ensembles = ReadEnsembles(r, doc["ensembles"], grid, n);

        int episodes = 10;
        List<int> evalSeeds = [1000];
        int euDivisions = 10;
        if (doc["evaluation"] is not null)
        {
            JsonObject eval = r.Object(doc["evaluation"], "evaluation");
            r.Keys(eval, "evaluation", "episodes", "seeds", "eu_divisions");
            episodes = r.Int(eval["episodes"], "evaluation.episodes", 10, min: 1, max: ConfigLimits.MaxEpisodes);
            if (eval["seeds"] is not null)
                evalSeeds = AtMost(r, r.Array(eval["seeds"], "evaluation.seeds"), "evaluation.seeds", ConfigLimits.MaxEvaluationSeeds, "seeds")
                    .Select((s, i) => r.Int(s, $"evaluation.seeds[{i}]", 0, int.MinValue)).ToList();
            if (evalSeeds.Count == 0) throw r.Error("evaluation.seeds", "needs at least one seed");
            euDivisions = r.Int(eval["eu_divisions"], "evaluation.eu_divisions", 10, min: 1);
            long preferences = Pareto.SimplexGrid.Count(n, euDivisions);
            if (preferences > ConfigLimits.MaxEuPreferences)
                throw r.Error("evaluation.eu_divisions", $"{euDivisions} divisions for {n} experts make {preferences} preferences; at most {ConfigLimits.MaxEuPreferences}");
        }

        long pretrainSteps = r.Long(r.Required(pretrain, "steps", "pretrain"), "pretrain.steps", family.InitUsesReward ? 1 : 0, ConfigLimits.MaxSteps);
        ISettingsSection settings = family.ReadSettings(task, doc[family.SettingsKey] is null ? null : r.Object(doc[family.SettingsKey], family.SettingsKey), r);

        RewardFunction? pretrainReward = pretrain["reward"] is null ? null : Reward(r, tasks, task, pretrain["reward"]!, "pretrain.reward");

        int seed = r.Int(doc["seed"], "seed", 1, int.MinValue);
        int repeats = r.Int(doc["repeats"], "repeats", 1, 1, ConfigLimits.MaxRepeats);
        if (seed + (long)repeats - 1 > int.MaxValue) throw r.Error("seed", $"the last repeat's seed, seed + repeats − 1, must be at most {int.MaxValue}, got {seed + (long)repeats - 1}");
        // Every policy's returns are pooled over episodes, evaluation seeds and training seeds: one return has no interval,
        // and the run would only fail when it writes results.json, after every training.
        if ((long)episodes * evalSeeds.Count * repeats < 2)
            throw r.Error("evaluation.episodes", "1 episode × 1 evaluation seed × 1 repeat gives each policy a single return, which has no 95% interval; " +
                "ask for at least 2 in all (more episodes, evaluation seeds or repeats)");
        // λ*(μ) is chosen on one half of each evaluation's returns and reported on the other: the search needs both halves.
        if (doc["lambda_search"] is not null && (long)episodes * evalSeeds.Count < 2)
            throw r.Error("lambda_search", "chooses on one half of each evaluation's returns and reports on the other, so an evaluation needs at least 2 " +
                "(evaluation.episodes × evaluation.seeds); got 1");
        var config = new ExperimentConfig
        {
            Name = PlainName(r, r.Required(doc, "name", ""), "name"),
            Task = task,
            Seed = seed,
            Repeats = repeats,
            Parallelism = r.Int(doc["parallelism"], "parallelism", 0, 0, ConfigLimits.MaxParallelism),
            PretrainReward = pretrainReward,
            PretrainSteps = pretrainSteps,
            Experts = expertRewards,
            ExpertSteps = r.Long(r.Required(experts, "steps", "experts"), "experts.steps", 1, ConfigLimits.MaxSteps),
            SoupGrid = grid,
            EnsembleGrid = ensembles,
            MorlPreferences = morlPrefs,
            Episodes = episodes,
            EvaluationSeeds = evalSeeds,
            EuDivisions = euDivisions,
            Settings = settings,
            SoupModes = SoupModesOf(soupMethods, family.SoupModes(settings), r),
            SoupMethods = soupMethods,
            Executor = Slurm.ExecutorSettings.Read(r, doc["executor"]),
            LambdaSearch = doc["lambda_search"] is null ? null : LambdaSearchSettings.Read(r, r.Object(doc["lambda_search"], "lambda_search"), "lambda_search", soups, morlPrefs.Count),
        };
        long jobs = ExperimentPlan.CountJobs(config);
        if (jobs > ConfigLimits.MaxJobs)
            throw r.Error("repeats", $"the plan has {jobs} jobs ({repeats} training seeds × {jobs / repeats}: the init, {n} experts, {morlPrefs.Count} MORL policies, " +
                $"{config.SoupModes.Count} × {grid.Count} soups, {ensembles.Count} ensembles, {ExperimentPlan.CountSearchSoups(config) / repeats} λ-search soups, and an evaluation of each); at most {ConfigLimits.MaxJobs}: fewer repeats, soups, ensembles, morl.preferences or experts");
        return config;
    }

    /// <summary>
    /// <c>ensembles:</c> absent or <c>false</c>: none; <c>true</c>: the soup grid's λ (MORL's μ included); a list: those λ, each
    /// on the simplex with one weight per expert. One-hot λ are left out (the ensemble is then its expert, already evaluated).
    /// </summary>
    private static List<SoupWeights> ReadEnsembles(ConfigReader r, JsonNode? node, IReadOnlyList<SoupWeights> soupGrid, int n)
    {
        static bool Vertex(IReadOnlyList<double> w) => w.Any(x => x == 1);
        if (node is null) return [];
        if (node is JsonValue v && v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False)
            return r.Bool(node, "ensembles", false) ? soupGrid.Where(w => !Vertex(w)).ToList() : [];
        if (node is not JsonArray)
            throw r.Error("ensembles", $"must be true, false or a list of λ (one weight per expert, summing to 1); got {ConfigReader.Show(node)}");
        JsonArray points = AtMost(r, r.Array(node, "ensembles"), "ensembles", ConfigLimits.MaxSoups, "ensembles");
        var list = new List<SoupWeights>();
        for (int i = 0; i < points.Count; i++)
        {
            double[] w = r.Weights(points[i], $"ensembles[{i}]", n, allowVertices: true);
            if (list.Any(o => Pareto.PreferredSoup.SameWeights(o.ToArray(), w))) throw r.Error($"ensembles[{i}]", "appears twice");
            if (!Vertex(w)) list.Add(SoupWeights.Of(w));
        }
        return list;
    }

    /// <summary>
    /// The entries of <c>soups.methods</c> (or of a resolved configuration's <c>SoupMethods</c>), checked against the
    /// run: labels are plain names and distinct, a method's input count fits the experts, slerp's <c>t</c> comes from
    /// λ.
    /// </summary>
    public static IReadOnlyList<SoupMethod> ReadSoupMethods(ConfigReader r, JsonArray entries, string path, int experts)
    {
        var methods = new List<SoupMethod>();
        for (int i = 0; i < entries.Count; i++)
        {
            string at = $"{path}[{i}]";
            SoupMethod m = SoupMethod.Read(entries[i] ?? throw r.Error(at, "is empty"), r, at);
            if (!IsPlainName(m.Label)) throw r.Error(at, $"label '{m.Label}' must be a plain name (letters, digits, '.', '_', '-')");
            if (methods.Any(o => o.Label == m.Label)) throw r.Error(at, $"label '{m.Label}' is used twice; give each entry its own 'label'");
            if (m.Method.Inputs is int exact && exact != experts) throw r.Error(at, $"{m.Method.Name} merges exactly {exact} models; this run has {experts} experts");
            if (m.Parameters is SlerpParameters { T: not null }) throw r.Error($"{at}.t", "in an experiment slerp's t is each soup's λ₂; remove 't'");
            methods.Add(m);
        }
        if (methods.Count == 0) throw r.Error(path, "needs at least one method");
        return methods;
    }

    private static List<string> SoupModesOf(IReadOnlyList<SoupMethod> methods, IReadOnlyList<string> familyModes, ConfigReader r)
    {
        var modes = methods.SelectMany(m => m.IsLinear ? familyModes : [m.Label]).ToList();
        string? twice = modes.GroupBy(m => m).FirstOrDefault(g => g.Count() > 1)?.Key;
        if (twice is not null) throw r.Error("soups.methods", $"soup kind '{twice}' appears twice (the family's modes are {string.Join(", ", familyModes)}); give another 'label'");
        return modes;
    }

    /// <summary>A name that is also a folder name: letters, digits, '.', '_' and '-', starting with a letter or digit, at most <see cref="ConfigLimits.MaxNameLength"/> characters.</summary>
    /// <summary>
    /// The checks <see cref="Parse"/> makes, on a configuration read back from a run folder's
    /// <c>config.resolved.json</c> (which anyone may have written): counts within <see cref="ConfigLimits"/>,
    /// every λ and μ on the simplex with one weight per expert, names plain, the plan within
    /// <see cref="ConfigLimits.MaxJobs"/>. A one-line error naming the file and the key.
    /// </summary>
    public static void CheckResolved(ExperimentConfig c, ConfigReader r)
    {
        if (!IsPlainName(c.Name) || c.Name.Length > ConfigLimits.MaxNameLength) throw r.Error("Name", "must be a plain name (letters, digits, '.', '_', '-')");
        int n = c.Experts.Count;
        if (n < 2 || n > ConfigLimits.MaxExperts) throw r.Error("Experts", $"{n} experts; between 2 and {ConfigLimits.MaxExperts}");
        Within(r, "Repeats", c.Repeats, 1, ConfigLimits.MaxRepeats);
        if (c.Seed + (long)c.Repeats - 1 > int.MaxValue) throw r.Error("Seed", $"the last repeat's seed would pass {int.MaxValue}");
        Within(r, "Parallelism", c.Parallelism, 0, ConfigLimits.MaxParallelism);
        Within(r, "Episodes", c.Episodes, 1, ConfigLimits.MaxEpisodes);
        Within(r, "PretrainSteps", c.PretrainSteps, 0, ConfigLimits.MaxSteps);
        Within(r, "ExpertSteps", c.ExpertSteps, 1, ConfigLimits.MaxSteps);
        Within(r, "EvaluationSeeds", c.EvaluationSeeds.Count, 1, ConfigLimits.MaxEvaluationSeeds);
        Within(r, "SoupWeights", c.SoupGrid.Count, 1, ConfigLimits.MaxSoups);
        Within(r, "MorlPreferences", c.MorlPreferences.Count, 0, ConfigLimits.MaxMorlPreferences);
        Within(r, "EnsembleWeights", c.EnsembleGrid.Count, 0, ConfigLimits.MaxSoups);
        Within(r, "SoupModes", c.SoupModes.Count, 1, ConfigLimits.MaxSoupMethods * ConfigLimits.MaxSoupMethods);
        if (c.SoupModes.Any(m => !IsPlainName(m)) || c.SoupModes.Distinct().Count() != c.SoupModes.Count) throw r.Error("SoupModes", "must be distinct plain names");
        Within(r, "EuDivisions", c.EuDivisions, 1, int.MaxValue);
        c.LambdaSearch?.Check(r, "LambdaSearch", c.MorlPreferences.Count);
        if (Pareto.SimplexGrid.Count(n, c.EuDivisions) > ConfigLimits.MaxEuPreferences) throw r.Error("EuDivisions", $"makes more than {ConfigLimits.MaxEuPreferences} preferences for {n} experts");
        long jobs = ExperimentPlan.CountJobs(c);
        if (jobs > ConfigLimits.MaxJobs) throw r.Error("Repeats", $"the plan has {jobs} jobs; at most {ConfigLimits.MaxJobs}");
    }

    private static void Within(ConfigReader r, string key, long value, long min, long max)
    {
        if (value < min || value > max) throw r.Error(key, $"{value} is outside [{min}, {max}]");
    }

    public static bool IsPlainName(string name) =>
        name.Length is > 0 and <= ConfigLimits.MaxNameLength && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static string PlainName(ConfigReader r, JsonNode node, string path)
    {
        string name = r.String(node, path);
        return IsPlainName(name) ? name : throw r.Error(path, $"names the run folder runs/NAME, so it must be a plain name: letters, digits, '.', '_' and '-', " +
            $"starting with a letter or digit, at most {ConfigLimits.MaxNameLength} characters; got {ConfigReader.Show(node)}");
    }

    /// <summary>The list, refused before any item is read when it has more than <paramref name="max"/> items.</summary>
    private static JsonArray AtMost(ConfigReader r, JsonArray list, string path, int max, string what) =>
        list.Count <= max ? list : throw r.Error(path, $"{list.Count} {what}; at most {max}");

    /// <summary>A reward of the configuration, resolved against the task's terms now (not when a job starts); errors name the key.</summary>
    private static RewardFunction Reward(ConfigReader r, TaskCatalogue tasks, string task, JsonNode node, string path)
    {
        RewardSpec spec = r.Reward(node, path);
        try { return tasks.Reward(task, spec); }
        catch (SoupInputException e) { throw r.Error(path, e.Message); }
    }

    /// <summary>
    /// A resolved configuration's λ grid and MORL preferences (<c>SoupWeights</c>, <c>MorlPreferences</c>), read with
    /// the checks <see cref="Parse"/> makes on <c>soups.points</c> and <c>morl.preferences</c>.
    /// </summary>
    public static ExperimentConfig ReadGrids(ExperimentConfig c, JsonObject root, ConfigReader r)
    {
        int n = c.Experts.Count;
        JsonArray soups = AtMost(r, r.Array(r.Required(root, "SoupWeights", ""), "SoupWeights"), "SoupWeights", ConfigLimits.MaxSoups, "soups");
        JsonArray morl = AtMost(r, r.Array(r.Required(root, "MorlPreferences", ""), "MorlPreferences"), "MorlPreferences", ConfigLimits.MaxMorlPreferences, "preferences");
        // Runs made before ensembles existed have no EnsembleWeights: none.
        JsonArray ensembles = root["EnsembleWeights"] is null ? []
            : AtMost(r, r.Array(root["EnsembleWeights"], "EnsembleWeights"), "EnsembleWeights", ConfigLimits.MaxSoups, "ensembles");
        return c with
        {
            EnsembleGrid = ensembles.Select((p, i) => SoupWeights.Of(r.Weights(p, $"EnsembleWeights[{i}]", n, allowVertices: true))).ToList(),
            SoupGrid = soups.Select((p, i) => SoupWeights.Of(r.Weights(p, $"SoupWeights[{i}]", n, allowVertices: true))).ToList(),
            MorlPreferences = morl.Select((p, i) => r.Weights(p, $"MorlPreferences[{i}]", n, allowVertices: false)).ToList(),
        };
    }

    /// <summary>The λ grid: a step along the segment (N = 2), simplex divisions (any N), or explicit points; vertices always included.</summary>
    private static List<SoupWeights> ReadSoupGrid(ConfigReader r, JsonObject soups, int n)
    {
        int given = (soups["step"] is null ? 0 : 1) + (soups["divisions"] is null ? 0 : 1) + (soups["points"] is null ? 0 : 1);
        if (given != 1) throw r.Error("soups", "give exactly one of 'step' (2 experts), 'divisions' or 'points'");
        var grid = new List<double[]>();
        if (soups["step"] is not null)
        {
            if (n != 2) throw r.Error("soups.step", $"a step works for 2 experts; for {n}, give 'divisions' or 'points'");
            double step = r.Double(soups["step"], "soups.step", 0.1);
            string shown = step.ToString(CultureInfo.InvariantCulture);
            if (!(step > 0 && step <= 1)) throw r.Error("soups.step", $"must be in (0, 1], got {shown}");
            double intervals = Math.Round(1 / step);
            if (intervals + 1 > ConfigLimits.MaxSoups)
                throw r.Error("soups.step", $"{shown} makes {(intervals + 1).ToString("G15", CultureInfo.InvariantCulture)} soups; at most {ConfigLimits.MaxSoups} (a step of 0.001)");
            int k = (int)intervals;
            if (Math.Abs(k * step - 1) > 1e-9) throw r.Error("soups.step", $"1 / step must be a whole number, got {shown}");
            for (int i = 0; i <= k; i++) grid.Add([(double)(k - i) / k, (double)i / k]);
        }
        else if (soups["divisions"] is not null)
        {
            int k = r.Int(soups["divisions"], "soups.divisions", 10, 1);
            long count = Pareto.SimplexGrid.Count(n, k);
            if (count > ConfigLimits.MaxSoups) throw r.Error("soups.divisions", $"{k} divisions for {n} experts make {count} soups; at most {ConfigLimits.MaxSoups}");
            grid.AddRange(Pareto.SimplexGrid.Points(n, k));
        }
        else
        {
            JsonArray points = AtMost(r, r.Array(soups["points"], "soups.points"), "soups.points", ConfigLimits.MaxSoups, "points");
            foreach ((JsonNode? p, int i) in points.Select((p, i) => (p, i)))
                grid.Add(r.Weights(p, $"soups.points[{i}]", n, allowVertices: true));
            for (int v = 0; v < n; v++)
            {
                double[] vertex = new double[n];
                vertex[v] = 1;
                if (!grid.Any(g => g.SequenceEqual(vertex))) grid.Add(vertex);
            }
            if (grid.Count > ConfigLimits.MaxSoups) throw r.Error("soups.points", $"{grid.Count} soups with the experts' vertices; at most {ConfigLimits.MaxSoups}");
        }
        return grid.Select(w => SoupWeights.Of(w)).ToList();
    }
}
