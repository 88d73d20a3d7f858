using System.Net;
using System.Text;
using RewardedSoups.Checkpoints;

namespace RewardedSoups.Runner.Report;

/// <summary>What <see cref="ExperimentReport.Write"/> produced: full paths of the HTML page and of every PNG.</summary>
public sealed record ReportFiles(string Html, IReadOnlyList<string> Figures);

/// <summary>
/// The report of a run: PNG figures under <c>figures/</c> and one self-contained <c>report.html</c>
/// (figures embedded as data URIs, inline CSS, no script and no external link, so it opens offline and
/// can be mailed as one file). Every file is written under a temporary name and renamed into place.
/// </summary>
public static class ExperimentReport
{
    private const string FiguresFolder = "figures";

    /// <summary>
    /// Writes the figures and <c>report.html</c> into <paramref name="runDir"/>. Training logs that are
    /// missing or hold no finished episode are listed in the report; the learning figure is written anyway.
    /// </summary>
    public static ReportFiles Write(ExperimentResults results, IReadOnlyList<(string Label, string LogPath)> trainingLogs, string runDir)
    {
        ReportSummary summary = ReportSummary.Of(results);
        List<LearningCurve> curves = trainingLogs.Select(log => LearningCurve.Read(log.Label, log.LogPath)).ToList();
        int rewards = results.Rewards.Count;

        // With more than two rewards pareto.png is the projection on the first two, and is also
        // saved as pareto-1-2.png so that every pair has a file of the same pattern; it is embedded once.
        string[] paretoNames = rewards > 2 ? ["pareto.png", "pareto-1-2.png"] : ["pareto.png"];
        var figures = new List<Figure>
        {
            new(paretoNames, $"Pareto plane ({results.Rewards[0]}, {results.Rewards[1]})",
                "RS experts (diamonds) and soups (circles, coloured by λ) against every MORL policy (triangles); grey crosses are the intervals; the hypervolumes are measured from the reference point"
                + (rewards > 2 ? $" in all {rewards} rewards." : "."),
                ReportFigures.Pareto(summary, 0, 1)),
        };
        for (int a = 0; a < rewards; a++)
        {
            for (int b = Math.Max(a + 1, 2); b < rewards; b++)
            {
                figures.Add(new([$"pareto-{a + 1}-{b + 1}.png"], $"Projection on ({results.Rewards[a]}, {results.Rewards[b]})",
                    $"Projection of the {rewards}-reward front on rewards {a + 1} and {b + 1}; hypervolumes are {rewards}-dimensional.",
                    ReportFigures.Pareto(summary, a, b)));
            }
        }
        if (rewards == 2)
        {
            figures.Add(new(["lambda.png"], "Rewards along λ (linear-mode connectivity)",
                "Each reward's mean with its interval along λ₂; the dashed line is the straight chord between the two experts. Soups below the chord lose reward by interpolation.",
                ReportFigures.Lambda(summary)));
        }
        if (rewards == 2 && results.Preferences is not null)
        {
            figures.Add(new(["preferences.png"], "From a preference to a soup: λ*(μ)",
                "For each preference μ of the expected-utility grid and of MORL, the soup whose utility μ · R is highest on the validation half of the evaluations, "
                + "and what it gains over λ = μ on the test half (paired: the same test episodes).",
                ReportFigures.Preferences(results)));
        }
        figures.Add(new(["learning.png"], "Learning curves",
            "Episodic training return against environment steps for every training (updates in which no episode ended are skipped).",
            ReportFigures.Learning(curves)));
        figures.Add(new(["cost.png"], "Cost of each front",
            "Environment steps per training seed spent to obtain each front.",
            ReportFigures.Cost(results)));

        string figuresDir = Path.Combine(runDir, FiguresFolder);
        Directory.CreateDirectory(figuresDir);
        var figurePaths = new List<string>();
        foreach (Figure figure in figures)
        {
            foreach (string name in figure.FileNames)
            {
                string path = Path.Combine(figuresDir, name);
                AtomicOutput.WriteAllBytes(path, figure.Png);
                figurePaths.Add(Path.GetFullPath(path));
            }
        }

        string htmlPath = Path.Combine(runDir, "report.html");
        AtomicOutput.WriteAllText(htmlPath, Html(summary, figures, curves));
        return new ReportFiles(Path.GetFullPath(htmlPath), figurePaths);
    }

    /// <summary>A few plain-text lines for the end of a CLI run: experts vs init, the two fronts, cost, LMC gap.</summary>
    public static string SummaryTable(ExperimentResults results)
    {
        ReportSummary summary = ReportSummary.Of(results);
        var text = new StringBuilder();
        text.AppendLine($"{results.Name} ({results.Task}): {results.TrainingSeeds.Count} training seed(s), {results.EpisodesPerPolicy:N0} {results.EvaluationUnit} per policy");
        text.AppendLine("Experts vs shared init, on the expert's own reward (mean [interval]):");
        foreach (ExpertComparison c in summary.Experts)
        {
            string init = c.Init is null ? "no init" : ReportFormat.MeanInterval(c.Init.Mean[c.Reward], c.Init.Low[c.Reward], c.Init.High[c.Reward]);
            text.AppendLine($"  {c.RewardName}: {c.Expert.Label} {ReportFormat.MeanInterval(c.Expert.Mean[c.Reward], c.Expert.Low[c.Reward], c.Expert.High[c.Reward])} vs init {init}; {DisjointText(c)}{(c.PairedGain is string g ? "; " + g : "")}");
        }
        int w = Math.Max(16, results.Cost.Unit.Length + 2); // the cost column fits its unit's name
        text.AppendLine($"{"",-10}{"hypervolume",14}{"exp. utility",14}{results.Cost.Unit.PadLeft(w)}");
        text.AppendLine($"{"RS",-10}{ReportFormat.Number(results.RsFront.Hypervolume),14}{ReportFormat.Number(results.RsFront.ExpectedUtility),14}{ReportFormat.Steps(results.Cost.RsSteps).PadLeft(w)}");
        text.AppendLine($"{"MORL",-10}{ReportFormat.Number(results.MorlFront.Hypervolume),14}{ReportFormat.Number(results.MorlFront.ExpectedUtility),14}{ReportFormat.Steps(results.Cost.MorlSteps).PadLeft(w)}");
        text.AppendLine($"{"RS/MORL",-10}{ReportFormat.Percent(summary.HypervolumeRatio),14}{"",14}{ReportFormat.Percent(summary.CostRatio).PadLeft(w)}");
        if (results.Ensemble is EnsembleResult ens)
            text.AppendLine($"{"Ensemble",-10}{ReportFormat.Number(ens.Front.Hypervolume),14}{ReportFormat.Number(ens.Front.ExpectedUtility),14}{ReportFormat.Steps(ens.TrainingSteps).PadLeft(w)}");
        if (results.RsFront.HypervolumeSeeds is SeedSpread rsSeeds && results.MorlFront.HypervolumeSeeds is SeedSpread morlSeeds)
            text.AppendLine($"Hypervolume of each seed's front, mean over {results.TrainingSeeds.Count} seed(s) [95% interval]: RS {ReportSummary.Interval(rsSeeds)}, MORL {ReportSummary.Interval(morlSeeds)}");
        text.Append("LMC gap (soup - chord), min / mean:");
        for (int r = 0; r < results.Rewards.Count; r++)
            text.Append($" {results.Rewards[r]} {ReportFormat.Number(results.Lmc.Min[r])} / {ReportFormat.Number(results.Lmc.Mean[r])}{(r + 1 < results.Rewards.Count ? ";" : "")}");
        text.AppendLine();
        if (results.SoupModes.Count > 1)
        {
            text.Append("Soup modes (hypervolume, exp. utility, mean LMC gap per reward):");
            foreach (SoupModeResult m in results.SoupModes)
                text.Append($" {m.Mode} {ReportFormat.Number(m.Front.Hypervolume)}, {ReportFormat.Number(m.Front.ExpectedUtility)}, [{string.Join(", ", m.Lmc.Mean.Select(ReportFormat.Number))}]{(m == results.SoupModes[^1] ? "" : ";")}");
            text.AppendLine();
        }
        foreach (string m in results.MeasureNames)
        {
            string Of(PolicyResult p) => p.Measures?.GetValueOrDefault(m) is { } v ? ReportFormat.Number(v.Mean) : "—";
            var soups = results.Policies.Where(p => p.Kind == "soup" && p.Measures?.ContainsKey(m) == true).Select(p => p.Measures![m].Mean).ToList();
            text.AppendLine($"Measure {m} (not a reward; mean per policy): {string.Join(", ", results.Policies.Where(p => p.Kind is "init" or "expert").Select(p => $"{p.Label} {Of(p)}"))}"
                + (soups.Count > 0 ? $"; soups {ReportFormat.Number(soups.Min())} to {ReportFormat.Number(soups.Max())}" : ""));
        }
        if (results.Ensemble is not null)
            text.AppendLine(summary.EnsembleSentence());
        if (results.Preferences is PreferencesResult prefs)
        {
            text.AppendLine("Preference → soup (λ*(μ) chosen on the validation half of the evaluations; utilities μ · R on the test half, [paired interval]):");
            foreach (PreferenceResult p in prefs.Items.Where(i => i.Sources.Contains("morl")))
                text.AppendLine($"  μ {ReportFormat.Weights(p.Mu)}: λ* {ReportFormat.Weights(p.LambdaStar)} {ReportFormat.MeanInterval(p.TestStar)}; λ = μ {(p.TestMu is { } m ? ReportFormat.MeanInterval(m) : "not evaluated")}; "
                    + $"MORL {(p.TestMorl is { } o ? ReportFormat.MeanInterval(o) : "—")}; λ* − MORL {(p.StarMinusMorl is { } d ? ReportFormat.MeanInterval(d) : "—")}"
                    + (p.TestEnsemble is { } en ? $"; ensemble λ = μ {ReportFormat.MeanInterval(en)}, ensemble − soup {(p.EnsembleMinusMu is { } x ? ReportFormat.MeanInterval(x) : "—")}" : ""));
            int grid = prefs.Items.Count(i => i.Sources.Contains("eu") && i.StarMinusMu is not null);
            text.AppendLine($"  over the {grid} μ of the expected-utility grid: λ*(μ) above λ = μ beyond noise at {prefs.StarBeatsMu}, below at {prefs.StarLosesToMu}; mean gain {ReportFormat.Number(prefs.MeanGainOverMu)}");
            if (prefs.Search is { } search) text.AppendLine("  " + SearchSentence(search));
        }
        if (results.InitDetails is not null)
            text.AppendLine($"Init: {string.Join(", ", results.InitDetails.Select(kv => $"{kv.Key} {kv.Value?.ToJsonString()}"))}");
        text.AppendLine(summary.Verdict());
        return text.ToString();
    }

    /// <summary>One sentence on the λ search: what it cost in evaluations and what it changed at the μ it searched.</summary>
    public static string SearchSentence(SearchResult s) =>
        $"λ search ({s.Rounds} round(s) from δ = {ReportFormat.Number(s.FirstStep)}, at {(s.At == LambdaSearchSettings.AtMorl ? "MORL's" : "every")} {s.Preferences} μ): "
        + $"{s.Soups} extra soup(s) of {s.Proposals} proposals, {s.Evaluations} evaluations of {s.EpisodesPerEvaluation} episodes ({ReportFormat.Percent(s.EvaluationsVsGrid)} of the grid's {s.GridEvaluations}); "
        + $"λ*(μ) left the grid at {s.LeftGrid} of {s.Preferences} μ, above the grid's λ*(μ) beyond noise at {s.BeatsGrid}, below at {s.LosesToGrid}; mean test gain {ReportFormat.Number(s.MeanGainOverGrid)}";

    private static void AppendPreferences(StringBuilder html, ExperimentResults results)
    {
        if (results.Preferences is not PreferencesResult prefs) return;
        html.Append("<h3>From a preference μ to a soup: λ*(μ)</h3>\n");
        html.Append($"<p class=\"note\">Utility: {E(prefs.Utility)}. {E(prefs.Split)}. Candidates: {E(prefs.Candidates)}. "
            + $"Over the expected-utility grid λ*(μ) is above λ = μ beyond noise at {prefs.StarBeatsMu} preference(s), below at {prefs.StarLosesToMu}; "
            + $"mean gain {E(ReportFormat.Number(prefs.MeanGainOverMu))}.{(prefs.Search is { } search ? " " + E(SearchSentence(search)) + "." : "")}</p>\n");
        bool ensembles = results.Ensemble is not null;
        html.Append("<table>\n<tr><th>μ</th><th>from</th><th>λ*(μ)</th><th>test utility: λ*(μ)</th><th>λ = μ</th><th>MORL for μ</th><th>λ* − (λ = μ)</th><th>λ* − MORL</th><th>(λ = μ) − MORL</th>")
            .Append(prefs.Search is not null ? "<th>grid's λ*</th><th>λ* − grid's λ*</th>" : "")
            .Append(ensembles ? "<th>ensemble λ = μ</th><th>ensemble − soup (λ = μ)</th><th>ensemble λ*</th><th>its test utility</th>" : "").Append("</tr>\n");
        static string Cell(MeasureResult? m) => m is null ? "—" : ReportFormat.MeanInterval(m);
        foreach (PreferenceResult p in prefs.Items)
        {
            html.Append($"<tr><td>{E(ReportFormat.Weights(p.Mu))}</td><td>{E(string.Join(", ", p.Sources))}</td><td>{E(ReportFormat.Weights(p.LambdaStar))}</td>")
                .Append($"<td class=\"num\">{E(Cell(p.TestStar))}</td><td class=\"num\">{E(Cell(p.TestMu))}</td><td class=\"num\">{E(Cell(p.TestMorl))}</td>")
                .Append($"<td class=\"num\">{E(Cell(p.StarMinusMu))}</td><td class=\"num\">{E(Cell(p.StarMinusMorl))}</td><td class=\"num\">{E(Cell(p.MuMinusMorl))}</td>");
            if (prefs.Search is not null)
                html.Append($"<td>{E(p.LambdaStarGrid is null ? "—" : ReportFormat.Weights(p.LambdaStarGrid))}</td><td class=\"num\">{E(Cell(p.StarMinusGrid))}</td>");
            if (ensembles)
                html.Append($"<td class=\"num\">{E(Cell(p.TestEnsemble))}</td><td class=\"num\">{E(Cell(p.EnsembleMinusMu))}</td><td>{E(p.EnsembleStar is null ? "—" : ReportFormat.Weights(p.EnsembleStar))}</td><td class=\"num\">{E(Cell(p.TestEnsembleStar))}</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    /// <summary>One figure: its file name(s), heading, caption and PNG bytes (written to disk and embedded alike).</summary>
    private sealed record Figure(IReadOnlyList<string> FileNames, string Title, string Caption, byte[] Png);

    /// <summary>Disjointness with its direction: disjoint intervals are only good news when the expert is the better one.</summary>
    private static string DisjointText(ExpertComparison c) => c.Disjoint switch
    {
        true => c.Improvement > 0 ? "intervals disjoint, expert better" : "intervals disjoint, expert WORSE",
        false => "intervals overlap",
        null => "no interval to compare (single episode or no init)",
    };

    private static string Html(ReportSummary summary, IReadOnlyList<Figure> figures, IReadOnlyList<LearningCurve> curves)
    {
        ExperimentResults results = summary.Results;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append($"<title>{E(results.Name)}: rewarded soups vs MORL</title>\n");
        html.Append("<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append($"<h1>{E(results.Name)}: rewarded soups vs MORL</h1>\n");

        string rewardList = string.Join(", ", results.Rewards.Select(r => $"<b>{E(r)}</b>"));
        html.Append("<p class=\"lead\">")
            .Append($"Task <b>{E(results.Task)}</b> with {results.Rewards.Count} rewards ({rewardList}). ")
            .Append($"Rewarded soups (RS): {summary.Experts.Count} experts, one per reward, fine-tuned by RL from a shared init, ")
            .Append($"then {summary.Soups.Count} soups θ(λ) = Σ λ<sub>i</sub> θ<sub>i</sub> made by interpolating their weights. ")
            .Append($"Baseline: multi-objective RL (MORL), {summary.Morl.Count} policies, one trained per preference μ. ")
            .Append($"Training seeds: {E(string.Join(", ", results.TrainingSeeds))}; {results.EpisodesPerPolicy:N0} evaluation {E(results.EvaluationUnit)} per policy. ")
            .Append($"Intervals: {E(results.Interval)}.</p>\n");

        html.Append("<section class=\"summary\">\n<h2>Summary</h2>\n");
        html.Append($"<p class=\"verdict\">{E(summary.Verdict())}</p>\n");
        AppendExperts(html, summary);
        AppendFronts(html, summary);
        AppendLmc(html, results);
        AppendPreferences(html, results);
        html.Append("</section>\n");

        html.Append("<h2>Figures</h2>\n");
        if (results.Rewards.Count != 2)
            html.Append("<p class=\"note\">The λ-path figure is drawn for two experts only; the LMC gaps above cover every soup.</p>\n");
        List<LearningCurve> withoutData = curves.Where(c => !c.HasPoints).ToList();
        if (withoutData.Count > 0)
        {
            html.Append("<p class=\"note\">Training logs without data (left out of the learning curves):</p>\n<ul class=\"note\">\n");
            foreach (LearningCurve c in withoutData) html.Append($"<li>{E(c.Label)}: {E(c.Problem ?? "")}</li>\n");
            html.Append("</ul>\n");
        }
        foreach (Figure figure in figures)
        {
            string files = string.Join(", ", figure.FileNames.Select(name => $"<code>{FiguresFolder}/{E(name)}</code>"));
            html.Append($"<figure id=\"{E(Path.GetFileNameWithoutExtension(figure.FileNames[0]))}\">\n<h3>{E(figure.Title)}</h3>\n");
            html.Append($"<img alt=\"{E(figure.Title)}\" src=\"data:image/png;base64,{Convert.ToBase64String(figure.Png)}\">\n");
            html.Append($"<figcaption>{E(figure.Caption)} ({files})</figcaption>\n</figure>\n");
        }

        AppendPolicies(html, summary);
        html.Append($"<p class=\"note\">λ convention: {E(results.LambdaConvention)}. Hypervolume reference point: {E(ReportFormat.Weights(results.ReferencePoint))} ({E(results.ReferencePointSource)}).</p>\n");
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static void AppendExperts(StringBuilder html, ReportSummary summary)
    {
        html.Append("<h3>Experts vs shared init, on each expert's own reward</h3>\n<table>\n");
        html.Append("<tr><th>reward</th><th>expert</th><th>expert mean [interval]</th><th>init mean [interval]</th><th>expert − init</th><th>intervals</th><th>paired gain [interval]</th></tr>\n");
        foreach (ExpertComparison c in summary.Experts)
        {
            int r = c.Reward;
            string init = c.Init is null ? "no init" : ReportFormat.MeanInterval(c.Init.Mean[r], c.Init.Low[r], c.Init.High[r]);
            string verdictClass = c.Disjoint switch { true when c.Improvement > 0 => "good", null => "na", _ => "weak" };
            html.Append($"<tr><td>{E(c.RewardName)}</td><td>{E(c.Expert.Label)}</td>")
                .Append($"<td class=\"num\">{E(ReportFormat.MeanInterval(c.Expert.Mean[r], c.Expert.Low[r], c.Expert.High[r]))}</td>")
                .Append($"<td class=\"num\">{E(init)}</td><td class=\"num\">{E(ReportFormat.Number(c.Improvement))}</td>")
                .Append($"<td class=\"{verdictClass}\">{E(DisjointText(c))}</td>")
                .Append($"<td class=\"num\">{E(c.PairedGain ?? "—")}</td></tr>\n");
        }
        html.Append("</table>\n");
    }

    private static void AppendFronts(StringBuilder html, ReportSummary summary)
    {
        ExperimentResults results = summary.Results;
        FrontResult rs = results.RsFront, morl = results.MorlFront;
        double euRatio = morl.ExpectedUtility != 0 ? rs.ExpectedUtility / morl.ExpectedUtility : double.NaN;
        html.Append("<h3>Fronts</h3>\n<table>\n<tr><th></th><th>RS</th><th>MORL</th><th>RS / MORL</th></tr>\n");
        html.Append($"<tr><td>hypervolume</td><td class=\"num\">{E(ReportFormat.Number(rs.Hypervolume))}</td><td class=\"num\">{E(ReportFormat.Number(morl.Hypervolume))}</td><td class=\"num\">{E(ReportFormat.Percent(summary.HypervolumeRatio))}</td></tr>\n");
        if (rs.HypervolumeSeeds is SeedSpread rsSeeds && morl.HypervolumeSeeds is SeedSpread morlSeeds)
        {
            string ratio = results.RsVsMorl?.HypervolumeRatio is SeedSpread r
                ? r.Low is double lo && r.High is double hi ? $"{ReportFormat.Percent(r.Mean)} [{ReportFormat.Percent(lo)}, {ReportFormat.Percent(hi)}]" : ReportFormat.Percent(r.Mean)
                : "";
            html.Append($"<tr><td>hypervolume of each seed's front, mean over {results.TrainingSeeds.Count} seed(s) [95% interval]</td><td class=\"num\">{E(ReportSummary.Interval(rsSeeds))}</td><td class=\"num\">{E(ReportSummary.Interval(morlSeeds))}</td><td class=\"num\">{E(ratio)}</td></tr>\n");
        }
        html.Append($"<tr><td>expected utility ({rs.EuDivisions} / {morl.EuDivisions} divisions)</td><td class=\"num\">{E(ReportFormat.Number(rs.ExpectedUtility))}</td><td class=\"num\">{E(ReportFormat.Number(morl.ExpectedUtility))}</td><td class=\"num\">{E(ReportFormat.Percent(euRatio))}</td></tr>\n");
        html.Append($"<tr><td>{E(results.Cost.Unit)} per seed</td><td class=\"num\">{E(ReportFormat.Steps(results.Cost.RsSteps))}</td><td class=\"num\">{E(ReportFormat.Steps(results.Cost.MorlSteps))}</td><td class=\"num\">{E(ReportFormat.Percent(summary.CostRatio))}</td></tr>\n");
        html.Append($"<tr><td>RL trainings</td><td class=\"num\">{results.Cost.RsTrainings}</td><td class=\"num\">{results.Cost.MorlTrainings}</td><td></td></tr>\n");
        html.Append($"<tr><td>non-dominated policies</td><td>{E(string.Join(", ", rs.Front))}</td><td>{E(string.Join(", ", morl.Front))}</td><td></td></tr>\n");
        html.Append($"<tr><td>candidates</td><td>{E(rs.Members)}</td><td>{E(morl.Members)}</td><td></td></tr>\n");
        html.Append("</table>\n");
        if (results.Ensemble is EnsembleResult ens)
        {
            html.Append("<h3>Weights or outputs: soups against output-space ensembles of the same experts</h3>\n");
            html.Append($"<p class=\"note\">Ensemble: {E(ens.Combination)}. {E(summary.EnsembleSentence())}</p>\n");
            html.Append("<table>\n<tr><th></th><th>hypervolume</th><th>vs RS</th><th>vs MORL</th><th>expected utility</th><th>training</th><th>forward passes per sample</th><th>seconds per sample (policy only, measured: timings.json)</th><th>non-dominated</th></tr>\n");
            InferenceComparison? inf = ens.Inference;
            Timings? times = results.Timings;
            html.Append($"<tr><td>RS soups</td><td class=\"num\">{E(ReportFormat.Number(rs.Hypervolume))}</td><td class=\"num\">100%</td><td class=\"num\">{E(ReportFormat.Percent(summary.HypervolumeRatio))}</td><td class=\"num\">{E(ReportFormat.Number(rs.ExpectedUtility))}</td><td class=\"num\">{E(ReportFormat.Steps(results.Cost.RsSteps))}</td>")
                .Append($"<td class=\"num\">{E(inf is null ? "—" : ReportFormat.Number(inf.SoupForwardPassesPerSample))}</td><td class=\"num\">{E(times?.SoupSecondsPerSample is double ss ? ReportFormat.Number(ss) : "—")}</td><td>{E(string.Join(", ", rs.Front))}</td></tr>\n");
            html.Append($"<tr><td>ensembles</td><td class=\"num\">{E(ReportFormat.Number(ens.Front.Hypervolume))}</td><td class=\"num\">{E(ReportFormat.Percent(ens.HypervolumeVsRs ?? double.NaN))}</td><td class=\"num\">{E(ReportFormat.Percent(ens.HypervolumeVsMorl ?? double.NaN))}</td><td class=\"num\">{E(ReportFormat.Number(ens.Front.ExpectedUtility))}</td><td class=\"num\">{E(ReportFormat.Steps(ens.TrainingSteps))}</td>")
                .Append($"<td class=\"num\">{E(inf is null ? "—" : ReportFormat.Number(inf.ForwardPassesPerSample))}</td><td class=\"num\">{E(times?.EnsembleSecondsPerSample is double es ? ReportFormat.Number(es) : "—")}</td><td>{E(string.Join(", ", ens.Front.Front))}</td></tr>\n");
            html.Append("</table>\n");
        }
        if (results.SoupModes.Count > 1)
        {
            html.Append("<h3>Soup modes and merge methods</h3>\n<table>\n<tr><th>soups</th><th>method</th><th>hypervolume</th><th>vs RS</th><th>vs MORL</th><th>expected utility</th><th>mean LMC gap per reward</th><th>non-dominated soups</th></tr>\n");
            foreach (SoupModeResult m in results.SoupModes)
            {
                string method = m.Parameters is null ? m.Method : $"{m.Method} {m.Parameters.ToJsonString()}";
                html.Append($"<tr><td>{E(m.Mode)}</td><td>{E(method)}</td><td class=\"num\">{E(ReportFormat.Number(m.Front.Hypervolume))}</td><td class=\"num\">{E(ReportFormat.Percent(m.HypervolumeVsRs ?? double.NaN))}</td><td class=\"num\">{E(ReportFormat.Percent(m.HypervolumeVsMorl ?? double.NaN))}</td><td class=\"num\">{E(ReportFormat.Number(m.Front.ExpectedUtility))}</td><td>{E(string.Join(", ", m.Lmc.Mean.Select(ReportFormat.Number)))}</td><td>{E(string.Join(", ", m.Front.Front))}</td></tr>\n");
            }
            html.Append("</table>\n");
        }
        if (results.InitDetails is not null)
            html.Append($"<p class=\"note\">Shared init: {E(string.Join(", ", results.InitDetails.Select(kv => $"{kv.Key} {kv.Value?.ToJsonString()}")))}</p>\n");
        html.Append($"<p class=\"note\">Each front's {E(results.Cost.Unit)} include the shared pre-training's ({E(ReportFormat.Steps(results.Cost.PretrainSteps))}) and {E(ReportFormat.Steps(results.Cost.StepsPerTraining))} per RL training.</p>\n");
    }

    private static void AppendLmc(StringBuilder html, ExperimentResults results)
    {
        html.Append("<h3>Linear-mode connectivity: soup reward − chord between the experts</h3>\n<table>\n<tr><th>reward</th><th>min gap</th><th>mean gap</th><th>max gap</th></tr>\n");
        for (int r = 0; r < results.Rewards.Count; r++)
        {
            double max = r < results.Lmc.Max.Length ? results.Lmc.Max[r] : double.NaN;
            html.Append($"<tr><td>{E(results.Rewards[r])}</td><td class=\"num\">{E(ReportFormat.Number(results.Lmc.Min[r]))}</td><td class=\"num\">{E(ReportFormat.Number(results.Lmc.Mean[r]))}</td><td class=\"num\">{E(ReportFormat.Number(max))}</td></tr>\n");
        }
        html.Append("</table>\n<p class=\"note\">A negative gap means the soup earns less than the straight line between the experts predicts.</p>\n");
    }

    private static void AppendPolicies(StringBuilder html, ReportSummary summary)
    {
        ExperimentResults results = summary.Results;
        html.Append("<h2>All policies</h2>\n<table class=\"policies\">\n<tr><th>kind</th><th>label</th><th>λ or μ</th>");
        foreach (string reward in results.Rewards) html.Append($"<th>{E(reward)}</th>");
        // The family's measures (not rewards), e.g. images recognised by an independent classifier.
        IReadOnlyList<string> measures = results.MeasureNames;
        foreach (string m in measures) html.Append($"<th>measure: {E(m)}</th>");
        html.Append("<th>on front</th></tr>\n");
        foreach (PolicyResult p in results.Policies)
        {
            string weights = p.Lambda is not null ? "λ = " + ReportFormat.Weights(p.Lambda)
                : p.Mu is not null ? "μ = " + ReportFormat.Weights(p.Mu)
                : "";
            string front = results.RsFront.Front.Contains(p.Label) ? "RS"
                : results.MorlFront.Front.Contains(p.Label) ? "MORL"
                : "";
            html.Append($"<tr class=\"{E(p.Kind)}\"><td>{E(p.Kind)}</td><td>{E(p.Label)}</td><td>{E(weights)}</td>");
            for (int r = 0; r < results.Rewards.Count; r++)
                html.Append($"<td class=\"num\">{E(ReportFormat.MeanInterval(p.Mean[r], p.Low[r], p.High[r]))}</td>");
            foreach (string m in measures)
                html.Append($"<td class=\"num\">{E(p.Measures?.GetValueOrDefault(m) is { } v ? ReportFormat.MeanInterval(v) : "—")}</td>");
            html.Append($"<td>{front}</td></tr>\n");
        }
        html.Append("</table>\n");
    }

    /// <summary>HTML-escapes text (labels and reward names come from user configurations).</summary>
    private static string E(string text) => WebUtility.HtmlEncode(text);

    private const string Css = """
        body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
        h2 { margin-top: 1.8em; }
        .lead { font-size: 1.05em; }
        .summary { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .5em 1.2em 1em; }
        .verdict { font-size: 1.1em; font-weight: bold; }
        .note { color: #555; font-size: .92em; }
        table { border-collapse: collapse; margin: .6em 0; font-size: .93em; }
        th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: left; vertical-align: top; }
        th { background: #eef1f4; }
        td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
        td.good { color: #116329; }
        td.weak { color: #9a6700; }
        td.na { color: #777; }
        tr.init td { background: #f3f3f3; }
        tr.expert td { background: #eef5ff; }
        tr.morl td { background: #fff1f0; }
        figure { margin: 1.5em 0; }
        figure img { max-width: 100%; border: 1px solid #ddd; }
        figcaption { color: #555; font-size: .92em; }

        """;
}
