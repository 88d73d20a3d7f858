using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RewardedSoups.Environments;
using RewardedSoups.Learning;
using YamlDotNet.RepresentationModel;

namespace RewardedSoups.Runner;

/// <summary>A reward of the experiment: a task's named reward, or named weighted terms.</summary>
public sealed record RewardSpec(string Name, IReadOnlyDictionary<string, double>? Terms);

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

    /// <summary>The shared pre-training: its reward and budget.</summary>
    public required RewardSpec PretrainReward { get; init; }

    public required long PretrainSteps { get; init; }

    /// <summary>The experts' rewards, N ≥ 2, in the order λ refers to.</summary>
    public required IReadOnlyList<RewardSpec> Experts { get; init; }

    /// <summary>Budget of each expert, and of each MORL training.</summary>
    public required long ExpertSteps { get; init; }

    /// <summary>The λ grid of soups (experts included as its vertices).</summary>
    public required IReadOnlyList<double[]> SoupWeights { get; init; }

    /// <summary>MORL preferences μ strictly inside the simplex (the experts are its vertices).</summary>
    public required IReadOnlyList<double[]> MorlPreferences { get; init; }

    /// <summary>Episodes per evaluation seed, and the evaluation seeds.</summary>
    public int Episodes { get; init; } = 10;

    public IReadOnlyList<int> EvaluationSeeds { get; init; } = [1000];

    /// <summary>Divisions of the simplex grid of preferences of the expected utility.</summary>
    public int EuDivisions { get; init; } = 10;

    public PpoSettings Ppo { get; init; } = new();

    public IEnumerable<int> TrainingSeeds => Enumerable.Range(0, Repeats).Select(k => Seed + k);

    /// <summary>Reads a YAML or JSON file (YAML is a superset; JSON is parsed as JSON for exact errors).</summary>
    public static ExperimentConfig Load(string path)
    {
        if (!File.Exists(path)) throw new SoupInputException($"{path}: no such configuration file");
        string text = File.ReadAllText(path);
        JsonNode? root;
        string trimmed = text.TrimStart();
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith('{'))
        {
            try { root = JsonNode.Parse(text); }
            catch (JsonException e) { throw new SoupInputException($"{path}: not valid JSON: {e.Message.Split('\n')[0]}"); }
        }
        else
        {
            root = YamlToJson(text, path);
        }
        return Parse(root, path);
    }

    /// <summary>Binds the document strictly.</summary>
    public static ExperimentConfig Parse(JsonNode? root, string source)
    {
        var r = new Reader(source);
        JsonObject doc = r.Object(root, "");
        r.Keys(doc, "", "name", "task", "seed", "repeats", "parallelism", "pretrain", "experts", "soups", "morl", "evaluation", "ppo");
        JsonObject pretrain = r.Object(r.Required(doc, "pretrain", ""), "pretrain");
        r.Keys(pretrain, "pretrain", "reward", "steps");
        JsonObject experts = r.Object(r.Required(doc, "experts", ""), "experts");
        r.Keys(experts, "experts", "rewards", "steps");
        var expertRewards = r.Array(r.Required(experts, "rewards", "experts"), "experts.rewards")
            .Select((n, i) => r.Reward(n ?? throw r.Error($"experts.rewards[{i}]", "is empty"), $"experts.rewards[{i}]")).ToList();
        if (expertRewards.Count < 2) throw r.Error("experts.rewards", $"needs at least 2 experts, found {expertRewards.Count}");
        var duplicate = expertRewards.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw r.Error("experts.rewards", $"reward '{duplicate.Key}' appears twice");
        int n = expertRewards.Count;

        JsonObject soups = doc["soups"] is null ? new JsonObject { ["step"] = 0.1 } : r.Object(doc["soups"], "soups");
        r.Keys(soups, "soups", "step", "divisions", "points");
        List<double[]> grid = SoupGrid(r, soups, n);

        var morlPrefs = new List<double[]>();
        if (doc["morl"] is not null)
        {
            JsonObject morl = r.Object(doc["morl"], "morl");
            r.Keys(morl, "morl", "preferences");
            foreach ((JsonNode? p, int i) in r.Array(r.Required(morl, "preferences", "morl"), "morl.preferences").Select((p, i) => (p, i)))
                morlPrefs.Add(r.Weights(p, $"morl.preferences[{i}]", n, allowVertices: false));
        }

        int episodes = 10;
        List<int> evalSeeds = [1000];
        int euDivisions = 10;
        if (doc["evaluation"] is not null)
        {
            JsonObject eval = r.Object(doc["evaluation"], "evaluation");
            r.Keys(eval, "evaluation", "episodes", "seeds", "eu_divisions");
            episodes = r.Int(eval["episodes"], "evaluation.episodes", 10, min: 1);
            if (eval["seeds"] is not null) evalSeeds = r.Array(eval["seeds"], "evaluation.seeds").Select((s, i) => r.Int(s, $"evaluation.seeds[{i}]", 0, int.MinValue)).ToList();
            if (evalSeeds.Count == 0) throw r.Error("evaluation.seeds", "needs at least one seed");
            euDivisions = r.Int(eval["eu_divisions"], "evaluation.eu_divisions", 10, min: 1);
        }

        var ppo = new PpoSettings();
        if (doc["ppo"] is not null)
        {
            JsonObject p = r.Object(doc["ppo"], "ppo");
            r.Keys(p, "ppo", "envs", "rollout_steps", "minibatches", "epochs", "lr", "hidden", "ent_coef", "gamma", "gae_lambda");
            ppo = ppo with
            {
                NumEnvs = r.Int(p["envs"], "ppo.envs", ppo.NumEnvs, 1),
                NumSteps = r.Int(p["rollout_steps"], "ppo.rollout_steps", ppo.NumSteps, 1),
                NumMinibatches = r.Int(p["minibatches"], "ppo.minibatches", ppo.NumMinibatches, 1),
                UpdateEpochs = r.Int(p["epochs"], "ppo.epochs", ppo.UpdateEpochs, 1),
                LearningRate = r.Double(p["lr"], "ppo.lr", ppo.LearningRate),
                Hidden = r.Int(p["hidden"], "ppo.hidden", ppo.Hidden, 1),
                EntCoef = (float)r.Double(p["ent_coef"], "ppo.ent_coef", ppo.EntCoef),
                Gamma = (float)r.Double(p["gamma"], "ppo.gamma", ppo.Gamma),
                GaeLambda = (float)r.Double(p["gae_lambda"], "ppo.gae_lambda", ppo.GaeLambda),
            };
            try { ppo.Validate(); }
            catch (SoupInputException e) { throw new SoupInputException($"{source}: {e.Message}"); }
        }

        return new ExperimentConfig
        {
            Name = r.String(r.Required(doc, "name", ""), "name"),
            Task = r.String(r.Required(doc, "task", ""), "task"),
            Seed = r.Int(doc["seed"], "seed", 1, int.MinValue),
            Repeats = r.Int(doc["repeats"], "repeats", 1, 1),
            Parallelism = r.Int(doc["parallelism"], "parallelism", 0, 0),
            PretrainReward = r.Reward(r.Required(pretrain, "reward", "pretrain"), "pretrain.reward"),
            PretrainSteps = r.Long(r.Required(pretrain, "steps", "pretrain"), "pretrain.steps", 1),
            Experts = expertRewards,
            ExpertSteps = r.Long(r.Required(experts, "steps", "experts"), "experts.steps", 1),
            SoupWeights = grid,
            MorlPreferences = morlPrefs,
            Episodes = episodes,
            EvaluationSeeds = evalSeeds,
            EuDivisions = euDivisions,
            Ppo = ppo,
        };
    }

    /// <summary>The λ grid: a step along the segment (N = 2), simplex divisions (any N), or explicit points; vertices always included.</summary>
    private static List<double[]> SoupGrid(Reader r, JsonObject soups, int n)
    {
        int given = (soups["step"] is null ? 0 : 1) + (soups["divisions"] is null ? 0 : 1) + (soups["points"] is null ? 0 : 1);
        if (given != 1) throw r.Error("soups", "give exactly one of 'step' (2 experts), 'divisions' or 'points'");
        var grid = new List<double[]>();
        if (soups["step"] is not null)
        {
            if (n != 2) throw r.Error("soups.step", $"a step works for 2 experts; for {n}, give 'divisions' or 'points'");
            double step = r.Double(soups["step"], "soups.step", 0.1);
            if (!(step > 0 && step <= 1)) throw r.Error("soups.step", $"must be in (0, 1], got {step.ToString(CultureInfo.InvariantCulture)}");
            int k = (int)Math.Round(1 / step);
            if (Math.Abs(k * step - 1) > 1e-9) throw r.Error("soups.step", $"1 / step must be a whole number, got {step.ToString(CultureInfo.InvariantCulture)}");
            for (int i = 0; i <= k; i++) grid.Add([(double)(k - i) / k, (double)i / k]);
        }
        else if (soups["divisions"] is not null)
        {
            int k = r.Int(soups["divisions"], "soups.divisions", 10, 1);
            grid.AddRange(Pareto.SimplexGrid.Points(n, k));
        }
        else
        {
            foreach ((JsonNode? p, int i) in r.Array(soups["points"], "soups.points").Select((p, i) => (p, i)))
                grid.Add(r.Weights(p, $"soups.points[{i}]", n, allowVertices: true));
            for (int v = 0; v < n; v++)
            {
                double[] vertex = new double[n];
                vertex[v] = 1;
                if (!grid.Any(g => g.SequenceEqual(vertex))) grid.Add(vertex);
            }
        }
        return grid;
    }

    private static JsonNode? YamlToJson(string text, string source)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlDotNet.Core.YamlException e) { throw new SoupInputException($"{source}: not valid YAML at line {e.Start.Line}: {e.Message.Split('\n')[0]}"); }
        if (stream.Documents.Count != 1) throw new SoupInputException($"{source}: expected one YAML document, found {stream.Documents.Count}");
        return Convert(stream.Documents[0].RootNode);

        static JsonNode? Convert(YamlNode node) => node switch
        {
            YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, Convert(kv.Value)))),
            YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
            YamlScalarNode scalar => Scalar(scalar),
            _ => null,
        };

        static JsonNode? Scalar(YamlScalarNode s)
        {
            string v = s.Value ?? "";
            if (s.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted) return JsonValue.Create(v);
            if (v is "" or "~" or "null") return null;
            if (v is "true" or "false") return JsonValue.Create(v == "true");
            if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return JsonValue.Create(d);
            return JsonValue.Create(v);
        }
    }

    /// <summary>Strict readers that name the file and the key path in every error.</summary>
    private sealed class Reader(string source)
    {
        public SoupInputException Error(string path, string message) => new($"{source}: {(path.Length == 0 ? "" : $"'{path}': ")}{message}");

        public JsonObject Object(JsonNode? node, string path) =>
            node as JsonObject ?? throw Error(path, "expected a mapping of keys");

        public JsonArray Array(JsonNode? node, string path) =>
            node as JsonArray ?? throw Error(path, "expected a list");

        public JsonNode Required(JsonObject obj, string key, string path) =>
            obj[key] ?? throw Error(path.Length == 0 ? key : $"{path}.{key}", "is required");

        public void Keys(JsonObject obj, string path, params string[] valid)
        {
            foreach ((string key, _) in obj)
                if (!valid.Contains(key))
                    throw Error(path.Length == 0 ? key : $"{path}.{key}", $"unknown key; valid here: {string.Join(", ", valid)}");
        }

        public string String(JsonNode node, string path) =>
            node is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 ? s : throw Error(path, "expected a non-empty text");

        public int Int(JsonNode? node, string path, int fallback, int min)
        {
            if (node is null) return fallback;
            long v = Long(node, path, min);
            return v <= int.MaxValue ? (int)v : throw Error(path, "too large");
        }

        public long Long(JsonNode node, string path, long min)
        {
            if (node is JsonValue v && v.TryGetValue(out long l) && l >= min) return l;
            if (node is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && x >= min && x < 9e18) return (long)x;
            throw Error(path, $"expected a whole number ≥ {min}, got {node.ToJsonString()}");
        }

        public double Double(JsonNode? node, string path, double fallback)
        {
            if (node is null) return fallback;
            if (node is JsonValue v && (v.TryGetValue(out double d) || (v.TryGetValue(out long l) && (d = l) == l)) && double.IsFinite(d)) return d;
            throw Error(path, $"expected a finite number, got {node.ToJsonString()}");
        }

        /// <summary>A reward: a name (a task's named reward), or <c>{name: x, terms: {term: weight}}</c>.</summary>
        public RewardSpec Reward(JsonNode node, string path)
        {
            if (node is JsonValue) return new RewardSpec(String(node, path), null);
            JsonObject obj = Object(node, path);
            Keys(obj, path, "name", "terms");
            JsonObject terms = Object(Required(obj, "terms", path), $"{path}.terms");
            var weights = new Dictionary<string, double>();
            foreach ((string term, JsonNode? w) in terms) weights[term] = Double(w, $"{path}.terms.{term}", 0);
            if (weights.Count == 0) throw Error($"{path}.terms", "needs at least one term");
            return new RewardSpec(String(Required(obj, "name", path), $"{path}.name"), weights);
        }

        /// <summary>A weight vector on the simplex; for 2 experts a bare number x means (1 − x, x).</summary>
        public double[] Weights(JsonNode? node, string path, int n, bool allowVertices)
        {
            double[] w;
            if (node is JsonValue && n == 2)
            {
                double x = Double(node, path, 0);
                w = [1 - x, x];
            }
            else
            {
                w = Array(node, path).Select((x, i) => Double(x, $"{path}[{i}]", 0)).ToArray();
            }
            if (w.Length != n) throw Error(path, $"has {w.Length} weights for {n} experts");
            if (w.Any(x => x < 0) || Math.Abs(w.Sum() - 1) > 1e-6)
                throw Error(path, $"weights must be non-negative and sum to 1, got [{string.Join(", ", w.Select(x => x.ToString(CultureInfo.InvariantCulture)))}]");
            if (!allowVertices && w.Any(x => x == 1))
                throw Error(path, "is an expert's own reward; the experts are the MORL front's endpoints already");
            return w;
        }
    }
}
