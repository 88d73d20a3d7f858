using System.Globalization;

namespace RewardedSoups.Runner.Report;

/// <summary>
/// Episodic return against environment steps for one training, read from its
/// <c>train_log.csv</c>; <see cref="Problem"/> says why a log gave no curve (missing file, no
/// return column) so the report can say so instead of silently dropping the line.
/// </summary>
internal sealed record LearningCurve(string Label, double[] Steps, double[] Returns, string? Problem)
{
    // CleanRL's names (locomotion), then TRL's (LM-PPO: responses and mean task score).
    private static readonly string[] StepColumns = ["global_step", "samples"];
    private static readonly string[] ReturnColumns = ["charts/episodic_return", "env/score_mean"];
    private const string StepColumn = "global_step";
    private const string ReturnColumn = "charts/episodic_return";

    public bool HasPoints => Steps.Length > 0;

    /// <summary>
    /// Reads the <c>global_step</c> and <c>charts/episodic_return</c> columns, found by name in the
    /// header so that added columns (reward terms) do not matter. Rows whose return is NaN (no episode
    /// ended in that update) and rows that do not parse (a line cut short by a killed writer) are skipped.
    /// </summary>
    public static LearningCurve Read(string label, string path)
    {
        if (!File.Exists(path)) return Empty(label, $"no log at {path}");
        using var reader = new StreamReader(path);
        string? header = reader.ReadLine();
        string[] columns = header?.Split(',') ?? [];
        int stepIndex = StepColumns.Select(c => Array.IndexOf(columns, c)).FirstOrDefault(i => i >= 0, -1);
        int returnIndex = ReturnColumns.Select(c => Array.IndexOf(columns, c)).FirstOrDefault(i => i >= 0, -1);
        if (stepIndex < 0 || returnIndex < 0)
            return Empty(label, $"{path}: header lacks '{StepColumn}' or '{ReturnColumn}'");

        var steps = new List<double>();
        var returns = new List<double>();
        while (reader.ReadLine() is string line)
        {
            string[] cells = line.Split(',');
            if (cells.Length <= Math.Max(stepIndex, returnIndex)) continue;
            if (!double.TryParse(cells[stepIndex], NumberStyles.Float, CultureInfo.InvariantCulture, out double step)) continue;
            if (!double.TryParse(cells[returnIndex], NumberStyles.Float, CultureInfo.InvariantCulture, out double ret)) continue;
            if (!double.IsFinite(ret) || !double.IsFinite(step)) continue;
            steps.Add(step);
            returns.Add(ret);
        }
        return new LearningCurve(label, steps.ToArray(), returns.ToArray(),
            steps.Count == 0 ? $"{path}: no update with a finished episode yet" : null);
    }

    private static LearningCurve Empty(string label, string problem) => new(label, [], [], problem);
}
