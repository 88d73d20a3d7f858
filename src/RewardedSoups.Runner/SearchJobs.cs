using System.Text.Json;
using System.Text.Json.Serialization;
using RewardedSoups.Pareto;

namespace RewardedSoups.Runner;

/// <summary>
/// The λ search's jobs at run time: a search soup job computes its λ from the evaluations it depends on
/// (<see cref="LambdaSearch.Round"/> on their pooled validation halves, as results.json chooses λ*(μ)) and writes it in
/// <c>search.json</c> beside the soup, or only <c>search.json</c> when its proposal is skipped (its evaluation then
/// evaluates nothing).
/// </summary>
public static class SearchJobs
{
    public const string SearchFile = "search.json";

    // λ, δ and "<" as written, not \u escapes: a person reads this file.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The proposal of a search soup job, computed from the finished evaluations of the experts, the grid's soups and earlier rounds.</summary>
    public static SearchProposal Propose(ExperimentPlan plan, Job job)
    {
        SearchSlot slot = job.Search ?? throw new ArgumentException($"job '{job.Id}' is not a λ-search soup", nameof(job));
        ExperimentConfig c = plan.Config;
        var candidates = Candidates(plan, slot.Round).Select(x => (x.Lambda, x.Validation)).ToList();
        return LambdaSearch.Round(c.SearchPreferences(), candidates, c.LambdaSearch!.StepOf(slot.Round))[slot.Preference][slot.Direction];
    }

    /// <summary>What a search soup job writes: its proposal (λ null when skipped, with the reason).</summary>
    public static void Write(ExperimentPlan plan, Job job, SearchProposal proposal)
    {
        SearchSlot slot = job.Search!;
        var (to, from) = LambdaSearch.Directions(plan.Config.Experts.Count)[slot.Direction];
        var file = new SearchRecord(job.Preference!, slot.Round, plan.Config.LambdaSearch!.StepOf(slot.Round), $"weight from expert {from + 1} to expert {to + 1}",
            proposal.From, proposal.Lambda, proposal.Skipped);
        Checkpoints.AtomicOutput.WriteAllText(Path.Combine(plan.JobDir(job), SearchFile), Numerics.FiniteJson.Serialize(file, $"job '{job.Id}' {SearchFile}", Indented));
    }

    /// <summary>A finished search soup job's record.</summary>
    public static SearchRecord Read(ExperimentPlan plan, Job job)
    {
        string path = Path.Combine(plan.JobDir(job), SearchFile);
        if (!File.Exists(path)) throw new SoupInputException($"{path}: missing; the λ-search job '{job.Id}' did not write its proposal");
        if (new FileInfo(path).Length > 64 * 1024) throw new SoupInputException($"{path}: larger than a λ-search record can be");
        SearchRecord record;
        try { record = JsonSerializer.Deserialize<SearchRecord>(File.ReadAllText(path)) ?? throw new SoupInputException($"{path}: empty"); }
        catch (JsonException e) { throw new SoupInputException($"{path}: not a λ-search record: {e.Message.Split('\n')[0]}"); }
        if (record.Lambda is { } l && (l.Length != plan.Config.Experts.Count || l.Any(x => !double.IsFinite(x) || x < 0) || Math.Abs(l.Sum() - 1) > 1e-6))
            throw new SoupInputException($"{path}: lambda must be {plan.Config.Experts.Count} non-negative weights summing to 1");
        return record;
    }

    /// <summary>
    /// The soups a round chooses among, in a fixed order (the experts, the first soup mode's grid, the search soups of earlier
    /// rounds that were evaluated), each with its label's job ids and validation returns pooled over the training seeds.
    /// </summary>
    public static List<(double[] Lambda, double[][] Validation)> Candidates(ExperimentPlan plan, int beforeRound)
    {
        ExperimentConfig c = plan.Config;
        int n = c.Experts.Count;
        var list = new List<(double[], double[][])>();
        double[][] Pooled(Func<int, Job> jobOf) =>
            PreferenceAnalysis.Pool(c.TrainingSeeds.Select(s => PreferredSoup.Split(JobRunner.ReadEval(plan, plan.EvalOf(jobOf(s))).Returns).Validation).ToList());
        for (int i = 0; i < n; i++)
        {
            double[] onehot = new double[n];
            onehot[i] = 1;
            list.Add((onehot, Pooled(s => plan.Expert(s, i))));
        }
        for (int k = 0; k < c.SoupGrid.Count; k++)
            list.Add((c.SoupGrid[k].ToArray(), Pooled(s => plan.Get(plan.SoupId(s, k, c.SoupModes[0])))));
        foreach ((SearchSlot slot, SearchRecord record) in Evaluated(plan).Where(x => x.Slot.Round < beforeRound))
            list.Add((record.Lambda!, Pooled(s => plan.Get(ExperimentPlan.SearchId(s, slot)))));
        return list;
    }

    /// <summary>The search soups that were evaluated (not skipped), in the plan's order, with their records (the first training seed's).</summary>
    public static List<(SearchSlot Slot, SearchRecord Record)> Evaluated(ExperimentPlan plan) =>
        All(plan).Where(x => x.Record.Lambda is not null).ToList();

    /// <summary>Every search proposal of a finished search, skipped or not, in the plan's order (the first training seed's records).</summary>
    public static List<(SearchSlot Slot, SearchRecord Record)> All(ExperimentPlan plan)
    {
        int first = plan.Config.TrainingSeeds.First();
        return plan.Jobs.Where(j => j.Search is not null && j.Seed == first && plan.IsDone(j))
            .Select(j => (j.Search!, Read(plan, j))).ToList();
    }
}

/// <summary>A search soup job's <c>search.json</c>: the μ it serves, its round and step, the direction, the best λ it moved from, and λ (null when skipped, with why).</summary>
public sealed record SearchRecord(
    [property: JsonPropertyName("mu")] double[] Mu,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("step")] double Step,
    [property: JsonPropertyName("direction")] string Direction,
    [property: JsonPropertyName("from")] double[] From,
    [property: JsonPropertyName("lambda")] double[]? Lambda,
    [property: JsonPropertyName("skipped")] string? Skipped);
