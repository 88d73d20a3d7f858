using ScottPlot;

namespace RewardedSoups.Runner.Report;

/// <summary>
/// The report's figures, each rendered by ScottPlot to PNG bytes (the caller writes them to disk and
/// embeds the same bytes in the HTML). Every figure uses the fonts found on the machine by SkiaSharp
/// (on Debian: fonts-dejavu-core).
/// </summary>
internal static class ReportFigures
{
    private const int Width = 900;
    private const int Height = 600;

    private static readonly Color MorlColor = Color.FromHex("#d62728");
    private static readonly Color EnsembleColor = Color.FromHex("#9467bd");
    private static readonly Color InitColor = Colors.Black;
    private static readonly Color IntervalColor = Colors.Gray.WithAlpha(0.6);

    /// <summary>
    /// The Pareto plane of rewards <paramref name="a"/> (x) and <paramref name="b"/> (y): RS experts
    /// and soups coloured by λ_b (the weight of expert b; for two rewards λ₂, from expert 1 to expert 2),
    /// the shared init, every MORL policy, and each point's interval as a cross of error bars.
    /// With two rewards the soups are joined in λ order and MORL's front is drawn as a dashed line;
    /// with more rewards the soups fill a simplex, so a line through them would mean nothing.
    /// </summary>
    public static byte[] Pareto(ReportSummary summary, int a, int b)
    {
        ExperimentResults results = summary.Results;
        bool twoRewards = results.Rewards.Count == 2;
        using var plot = NewPlot();
        IColormap colormap = new ScottPlot.Colormaps.Viridis();

        // RS: the experts are the λ-path's endpoints, so they belong to the same ordered family as the soups.
        List<PolicyResult> rs = summary.Soups.Concat(summary.ExpertsByReward.OfType<PolicyResult>())
            .OrderBy(p => p.Lambda![b]).ThenBy(p => -p.Lambda![a]).ToList();
        List<PolicyResult> morl = summary.Morl.ToList();
        var everyPoint = new List<PolicyResult>(rs.Concat(morl));
        if (summary.Init is not null) everyPoint.Add(summary.Init);
        AddIntervalCrosses(plot, everyPoint, a, b);

        string hvKind = twoRewards ? "HV" : $"{results.Rewards.Count}-D HV";
        if (twoRewards)
        {
            var path = plot.Add.ScatterLine(rs.Select(p => p.Mean[a]).ToArray(), rs.Select(p => p.Mean[b]).ToArray(), Colors.Gray);
            path.LineWidth = 2;
            path.LegendText = $"RS: experts and soups in λ order ({hvKind} {ReportFormat.Number(results.RsFront.Hypervolume)})";
        }
        bool firstSoup = true;
        foreach (PolicyResult soup in rs.Where(p => p.Kind == "soup"))
        {
            var marker = plot.Add.Marker(soup.Mean[a], soup.Mean[b], MarkerShape.FilledCircle, 11, colormap.GetColor(soup.Lambda![b]));
            // A dark rim keeps the pale end of the colormap visible on white.
            marker.MarkerLineColor = Colors.Black;
            marker.MarkerLineWidth = 1;
            // Without a path line (more than two rewards) the first soup carries the family's legend entry.
            if (!twoRewards && firstSoup)
                marker.LegendText = $"RS soups, colour = λ of expert {b + 1} ({hvKind} {ReportFormat.Number(results.RsFront.Hypervolume)})";
            firstSoup = false;
        }

        bool firstExpert = true;
        var expertLabels = new List<(PolicyResult Expert, string Text)>();
        foreach (PolicyResult expert in rs.Where(p => p.Kind == "expert"))
        {
            int index = Array.IndexOf(expert.Lambda!, expert.Lambda!.Max());
            var marker = plot.Add.Marker(expert.Mean[a], expert.Mean[b], MarkerShape.FilledDiamond, 18, colormap.GetColor(expert.Lambda![b]));
            marker.MarkerLineColor = Colors.Black;
            marker.MarkerLineWidth = 1.5f;
            if (firstExpert) marker.LegendText = "RS experts (one-hot λ), labelled";
            firstExpert = false;
            expertLabels.Add((expert, $"expert {index + 1}: {expert.Label}"));
        }

        if (morl.Count > 0)
        {
            if (twoRewards)
            {
                // MORL's non-dominated policies joined left to right: the front RS is compared with.
                var front = morl.Where(p => results.MorlFront.Front.Contains(p.Label)).OrderBy(p => p.Mean[a]).ToList();
                if (front.Count > 1)
                {
                    var line = plot.Add.ScatterLine(front.Select(p => p.Mean[a]).ToArray(), front.Select(p => p.Mean[b]).ToArray(), MorlColor);
                    line.LinePattern = LinePattern.Dashed;
                    line.LineWidth = 1.5f;
                }
            }
            var markers = plot.Add.Markers(morl.Select(p => p.Mean[a]).ToArray(), morl.Select(p => p.Mean[b]).ToArray(),
                MarkerShape.FilledTriangleUp, 12, MorlColor);
            markers.LegendText = $"MORL, one policy per μ ({hvKind} {ReportFormat.Number(results.MorlFront.Hypervolume)})";
        }

        // Soups of the other merge methods (soups.methods) or soup modes: each its own path in λ order, on the same plane.
        var palette = new ScottPlot.Palettes.Category10();
        for (int m = 1; m < results.SoupModes.Count; m++)
        {
            SoupModeResult mode = results.SoupModes[m];
            var members = results.Policies.Where(p => p.Kind == mode.Kind && p.Lambda is not null).OrderBy(p => p.Lambda![b]).ThenBy(p => -p.Lambda![a]).ToList();
            if (members.Count == 0) continue;
            AddPath(plot, members, members, a, b, palette.GetColor(m + 2), LinePattern.Dotted, MarkerShape.OpenCircle, 9,
                $"{mode.Mode} soups ({hvKind} {ReportFormat.Number(mode.Front.Hypervolume)})", twoRewards);
        }

        // The experts' output-space ensembles: their own path in λ order, from expert to expert.
        if (results.Ensemble is EnsembleResult ensemble)
        {
            var members = results.Policies.Where(p => p.Kind == "ensemble").Concat(summary.ExpertsByReward.OfType<PolicyResult>())
                .OrderBy(p => p.Lambda![b]).ThenBy(p => -p.Lambda![a]).ToList();
            AddPath(plot, members, members.Where(p => p.Kind == "ensemble").ToList(), a, b, EnsembleColor, LinePattern.DenselyDashed, MarkerShape.OpenSquare, 10,
                $"output-space ensembles ({hvKind} {ReportFormat.Number(ensemble.Front.Hypervolume)})", twoRewards);
        }

        if (summary.Init is PolicyResult init)
        {
            var marker = plot.Add.Marker(init.Mean[a], init.Mean[b], MarkerShape.FilledSquare, 13, InitColor);
            marker.LegendText = "shared init";
        }
        double[] reference = results.ReferencePoint;
        if (summary.Init is null || reference[a] != summary.Init.Mean[a] || reference[b] != summary.Init.Mean[b])
        {
            var marker = plot.Add.Marker(reference[a], reference[b], MarkerShape.Cross, 14, InitColor);
            marker.LegendText = "hypervolume reference point";
        }

        var colorbar = plot.Add.ColorBar(new UnitColorAxis(colormap), Edge.Right);
        colorbar.Label = $"λ{Subscript(b + 1)}: weight of expert {b + 1}";
        // Five ticks: the automatic ones are dense enough to run into the colorbar's label.
        colorbar.Axis.SetTicks([0, 0.25, 0.5, 0.75, 1], ["0", "0.25", "0.5", "0.75", "1"]);

        plot.Title(twoRewards
            ? $"Pareto front: RS {hvKind} {ReportFormat.Number(results.RsFront.Hypervolume)} vs MORL {ReportFormat.Number(results.MorlFront.Hypervolume)}"
            : $"Projection on ({results.Rewards[a]}, {results.Rewards[b]}); {hvKind}: RS {ReportFormat.Number(results.RsFront.Hypervolume)} vs MORL {ReportFormat.Number(results.MorlFront.Hypervolume)}");
        plot.XLabel(results.Rewards[a]);
        plot.YLabel(results.Rewards[b]);
        plot.Axes.Margins(0.12, 0.08);
        // Below the frame: a legend inside would cover points wherever the front happens to lie.
        plot.ShowLegend(Edge.Bottom);
        // Labels last: where they go depends on where every marker lands in pixels.
        // Every policy is a marker on this plane (init, experts, soups of every mode, MORL).
        var obstacles = results.Policies.Select(p => new Coordinates(p.Mean[a], p.Mean[b])).ToList();
        PlaceLabels(plot, expertLabels.Select(e => (new Coordinates(e.Expert.Mean[a], e.Expert.Mean[b]), e.Text)).ToList(), obstacles);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>
    /// A family of policies on the plane beside the RS front: with two rewards a line through <paramref name="path"/> (in
    /// λ order) carrying the legend, and markers on <paramref name="marked"/>; with more, the markers carry the legend.
    /// </summary>
    private static void AddPath(Plot plot, List<PolicyResult> path, List<PolicyResult> marked, int a, int b, Color color, LinePattern pattern,
        MarkerShape shape, float size, string legend, bool twoRewards)
    {
        if (twoRewards)
        {
            var line = plot.Add.ScatterLine(path.Select(p => p.Mean[a]).ToArray(), path.Select(p => p.Mean[b]).ToArray(), color);
            line.LineWidth = 1.5f;
            line.LinePattern = pattern;
            line.LegendText = legend;
        }
        var dots = plot.Add.Markers(marked.Select(p => p.Mean[a]).ToArray(), marked.Select(p => p.Mean[b]).ToArray(), shape, size, color);
        if (!twoRewards) dots.LegendText = legend;
    }

    /// <summary>
    /// Adds each label next to its point where it covers the fewest markers and earlier labels and stays inside
    /// the data frame: candidates in eight directions at three distances, the nearest among the least covered;
    /// a label set apart from its point gets a thin leader line to it.
    /// </summary>
    private static void PlaceLabels(Plot plot, IReadOnlyList<(Coordinates At, string Text)> labels, IReadOnlyList<Coordinates> obstacles)
    {
        if (labels.Count == 0) return;
        plot.RenderInMemory(Width, Height);
        PixelRect frame = plot.RenderManager.LastRender.DataRect;
        const float MarkerRadius = 9;
        var markers = obstacles.Select(c => plot.GetPixel(c)).ToList();
        var placed = new List<PixelRect>();
        using Paint paint = Paint.NewDisposablePaint();
        foreach ((Coordinates at, string label) in labels)
        {
            var text = plot.Add.Text(label, at);
            text.LabelFontSize = 13;
            text.LabelBold = true;
            text.LabelBackgroundColor = Colors.White.WithAlpha(0.75);
            text.Alignment = Alignment.UpperLeft;
            PixelSize size = text.LabelStyle.Measure(paint).Size;
            Pixel anchor = plot.GetPixel(at);
            PixelRect best = default;
            double bestScore = double.PositiveInfinity;
            foreach (float distance in new[] { 12f, 30f, 55f })
                foreach ((int dx, int dy) in new[] { (1, -1), (1, 1), (-1, -1), (-1, 1), (1, 0), (-1, 0), (0, -1), (0, 1) })
                {
                    float x = anchor.X + dx * distance, y = anchor.Y + dy * distance;
                    float left = dx > 0 ? x : dx < 0 ? x - size.Width : x - size.Width / 2;
                    float top = dy > 0 ? y : dy < 0 ? y - size.Height : y - size.Height / 2;
                    var rect = new PixelRect(left, left + size.Width, top + size.Height, top);
                    int covered = markers.Count(m => Near(rect, m, m == anchor ? 0 : MarkerRadius)) + placed.Count(r => Overlap(rect, r));
                    bool outside = rect.Left < frame.Left || rect.Right > frame.Right || rect.Top < frame.Top || rect.Bottom > frame.Bottom;
                    double score = (outside ? 1000 : 0) + covered * 100 + distance;
                    if (score < bestScore) (bestScore, best) = (score, rect);
                }
            placed.Add(best);
            text.OffsetX = best.Left - anchor.X;
            text.OffsetY = best.Top - anchor.Y;
            if (Math.Max(Math.Abs(best.HorizontalCenter - anchor.X) - best.Width / 2, Math.Abs(best.VerticalCenter - anchor.Y) - best.Height / 2) > 20)
            {
                // A leader from the point to the nearest point of the label's box.
                var nearest = new Pixel(Math.Clamp(anchor.X, best.Left, best.Right), Math.Clamp(anchor.Y, best.Top, best.Bottom));
                var leader = plot.Add.Line(at, plot.GetCoordinates(nearest));
                leader.Color = Colors.Black.WithAlpha(0.6);
                leader.LineWidth = 1;
            }
        }

        static bool Near(PixelRect r, Pixel p, float radius) =>
            p.X >= r.Left - radius && p.X <= r.Right + radius && p.Y >= r.Top - radius && p.Y <= r.Bottom + radius;
        static bool Overlap(PixelRect r, PixelRect o) => r.Left < o.Right && o.Left < r.Right && r.Top < o.Bottom && o.Top < r.Bottom;
    }

    /// <summary>
    /// Two experts only: the soup λ*(μ) chosen for each preference μ (its λ₂ against μ₂; the dashed diagonal is rewarded
    /// soups' default λ = μ), and on the right-hand axis the test utility λ*(μ) gains over λ = μ with its paired interval.
    /// </summary>
    public static byte[] Preferences(ExperimentResults results)
    {
        PreferencesResult prefs = results.Preferences ?? throw new ArgumentException("the results have no preferences section", nameof(results));
        using var plot = NewPlot();
        var items = prefs.Items.OrderBy(i => i.Mu[1]).ToList();
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.Color = Colors.Gray;
        diagonal.LegendText = "λ = μ (rewarded soups' default)";
        var chosen = plot.Add.ScatterLine(items.Select(i => i.Mu[1]).ToArray(), items.Select(i => i.LambdaStar[1]).ToArray(), Color.FromHex("#1f77b4"));
        chosen.MarkerShape = MarkerShape.FilledCircle;
        chosen.MarkerSize = 9;
        chosen.LineWidth = 2;
        chosen.LegendText = "λ*(μ): the soup with the best validation utility";
        plot.Axes.Left.Label.Text = "λ₂ of the soup chosen";

        var gained = items.Where(i => i.StarMinusMu is not null).ToList();
        if (gained.Count > 0)
        {
            Color color = Color.FromHex("#ff7f0e");
            double[] xs = gained.Select(i => i.Mu[1]).ToArray(), mean = gained.Select(i => i.StarMinusMu!.Mean).ToArray();
            var bars = plot.Add.ErrorBar(xs, mean, gained.Select(i => i.StarMinusMu!.High is double h ? h - i.StarMinusMu.Mean : 0).ToArray());
            bars.YErrorNegative = gained.Select(i => i.StarMinusMu!.Low is double l ? i.StarMinusMu.Mean - l : 0).ToArray();
            bars.Color = color;
            bars.Axes.YAxis = plot.Axes.Right;
            var line = plot.Add.ScatterLine(xs, mean, color);
            line.MarkerShape = MarkerShape.FilledSquare;
            line.MarkerSize = 8;
            line.LineWidth = 1.5f;
            line.LegendText = "test utility of λ*(μ) − of λ = μ (right axis, paired 95% interval)";
            line.Axes.YAxis = plot.Axes.Right;
            var zero = plot.Add.HorizontalLine(0, 1, color.WithAlpha(0.5), LinePattern.Dotted);
            zero.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "utility gained on test";
            plot.Axes.Right.Label.ForeColor = color;
        }
        plot.Title("From a preference μ to a soup: λ*(μ) against λ = μ");
        plot.XLabel($"μ₂ (weight of {results.Rewards[1]} in the utility μ · R)");
        plot.Axes.SetLimitsX(-0.05, 1.05);
        plot.Axes.SetLimitsY(-0.05, 1.05, plot.Axes.Left);
        plot.ShowLegend(Edge.Bottom);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>
    /// Two experts only: each reward's mean along λ₂ with its interval, against the straight chord
    /// between the experts (linear-mode connectivity holds where the soups stay on or above the chord).
    /// Rewards can differ in scale by orders of magnitude, so the second one gets the right-hand axis.
    /// </summary>
    public static byte[] Lambda(ReportSummary summary)
    {
        ExperimentResults results = summary.Results;
        using var plot = NewPlot();
        List<PolicyResult> path = summary.Soups.Concat(summary.ExpertsByReward.OfType<PolicyResult>())
            .OrderBy(p => p.Lambda![1]).ToList();
        double[] xs = path.Select(p => p.Lambda![1]).ToArray();
        Color[] colors = [Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e")];
        IYAxis[] axes = [plot.Axes.Left, plot.Axes.Right];

        for (int r = 0; r < 2; r++)
        {
            double[] mean = path.Select(p => p.Mean[r]).ToArray();
            // NaN interval (one episode): no bar rather than a bar of NaN length.
            double[] up = path.Select(p => double.IsNaN(p.High[r]) ? 0 : p.High[r] - p.Mean[r]).ToArray();
            double[] down = path.Select(p => double.IsNaN(p.Low[r]) ? 0 : p.Mean[r] - p.Low[r]).ToArray();

            var bars = plot.Add.ErrorBar(xs, mean, up);
            bars.YErrorNegative = down;
            bars.Color = colors[r];
            bars.Axes.YAxis = axes[r];

            var line = plot.Add.ScatterLine(xs, mean, colors[r]);
            line.MarkerShape = MarkerShape.FilledCircle;
            line.MarkerSize = 9;
            line.LineWidth = 2;
            line.LegendText = $"{results.Rewards[r]}, {(r == 0 ? "left" : "right")} axis (mean, {IntervalName(results)})";
            line.Axes.YAxis = axes[r];

            if (summary.ExpertsByReward[0] is PolicyResult first && summary.ExpertsByReward[1] is PolicyResult second)
            {
                var chord = plot.Add.Line(0, first.Mean[r], 1, second.Mean[r]);
                chord.LinePattern = LinePattern.Dashed;
                chord.LineWidth = 2;
                chord.Color = colors[r];
                chord.LegendText = $"{results.Rewards[r]}: chord between the experts";
                chord.Axes.YAxis = axes[r];
            }
            // The output-space ensemble of the same λ, for comparison: the same colour, dotted, open squares.
            var ensembles = results.Policies.Where(p => p.Kind == "ensemble").Concat(summary.ExpertsByReward.OfType<PolicyResult>()).OrderBy(p => p.Lambda![1]).ToList();
            if (results.Ensemble is not null && ensembles.Count > 2)
            {
                var dotted = plot.Add.ScatterLine(ensembles.Select(p => p.Lambda![1]).ToArray(), ensembles.Select(p => p.Mean[r]).ToArray(), colors[r]);
                dotted.LinePattern = LinePattern.Dotted;
                dotted.LineWidth = 2;
                dotted.MarkerShape = MarkerShape.OpenSquare;
                dotted.MarkerSize = 9;
                dotted.LegendText = $"{results.Rewards[r]}: output-space ensemble of the same λ";
                dotted.Axes.YAxis = axes[r];
            }
            axes[r].Label.Text = results.Rewards[r];
            axes[r].Label.ForeColor = colors[r];
        }

        plot.Title(results.Ensemble is null
            ? "Rewards along the soup path (LMC check: soups on or above the dashed chord)"
            : "Rewards along λ: soups (solid), ensembles (dotted), chord (dashed)");
        plot.XLabel("λ₂ (weight of expert 2; 0 = expert 1, 1 = expert 2)");
        plot.Axes.SetLimitsX(-0.05, 1.05);
        plot.Axes.AutoScaleY(plot.Axes.Left);
        plot.Axes.AutoScaleY(plot.Axes.Right);
        plot.ShowLegend(Edge.Bottom);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>
    /// Episodic return against env steps, one line per training; logs without points are named in the corner.
    /// A training's colour is its role (the part of its label after the training seed, <c>s2-expert-1</c> → <c>expert-1</c>:
    /// init black, then one colour per role in order of appearance) and its line pattern its training seed, so that
    /// the same role has the same colour in every seed and no two lines look alike while there are ≤ 9 roles and ≤ 4 seeds.
    /// </summary>
    public static byte[] Learning(IReadOnlyList<LearningCurve> curves)
    {
        using var plot = NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        LinePattern[] patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
        var roles = new List<string>();
        var seeds = new List<string>();
        foreach (LearningCurve curve in curves.Where(c => c.HasPoints))
        {
            (string seed, string role) = SeedAndRole(curve.Label);
            if (!roles.Contains(role)) roles.Add(role);
            if (!seeds.Contains(seed)) seeds.Add(seed);
            var line = plot.Add.ScatterLine(curve.Steps, curve.Returns);
            line.LineWidth = 2;
            line.LegendText = curve.Label;
            var nonInit = roles.Where(r => r != "init").ToList();
            line.Color = role == "init" ? InitColor : palette.GetColor(nonInit.IndexOf(role));
            line.LinePattern = patterns[seeds.IndexOf(seed) % patterns.Length];
        }
        List<string> without = curves.Where(c => !c.HasPoints).Select(c => c.Label).ToList();
        if (without.Count > 0)
            plot.Add.Annotation("no log data: " + string.Join(", ", without), Alignment.UpperLeft);
        if (curves.Any(c => c.HasPoints))
            plot.ShowLegend(Edge.Right);
        plot.Title("Learning curves (training reward of each run)");
        plot.XLabel("environment steps");
        plot.YLabel("episodic return");
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>A job label's training seed and role: <c>s2-expert-1</c> → (<c>s2</c>, <c>expert-1</c>); a label of another form is its own role.</summary>
    internal static (string Seed, string Role) SeedAndRole(string label)
    {
        int dash = label.IndexOf('-');
        return dash > 1 && label[0] == 's' && label[1..dash].All(char.IsAsciiDigit) ? (label[..dash], label[(dash + 1)..]) : ("", label);
    }

    /// <summary>Env steps per training seed for each front, split into the shared pre-training and the RL fine-tunings.</summary>
    public static byte[] Cost(ExperimentResults results)
    {
        using var plot = NewPlot();
        CostResult cost = results.Cost;
        (string Name, long Total, int Trainings)[] fronts =
        [
            ("RS", cost.RsSteps, cost.RsTrainings),
            ("MORL", cost.MorlSteps, cost.MorlTrainings),
        ];
        Color pretrain = Colors.Gray.WithLightness(0.75f);
        Color[] colors = [Color.FromHex("#1f77b4"), MorlColor];
        var bars = new List<Bar>();
        for (int i = 0; i < fronts.Length; i++)
        {
            double shared = Math.Min(cost.PretrainSteps, fronts[i].Total);
            bars.Add(new Bar { Position = i, ValueBase = 0, Value = shared, FillColor = pretrain });
            bars.Add(new Bar
            {
                Position = i,
                ValueBase = shared,
                Value = fronts[i].Total,
                FillColor = colors[i],
                Label = ReportFormat.Steps(fronts[i].Total),
            });
        }
        var plottable = plot.Add.Bars(bars);
        plottable.ValueLabelStyle.FontSize = 14;
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "shared pre-training (init)", FillColor = pretrain });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"RS: {cost.RsTrainings} expert fine-tunings", FillColor = colors[0] });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"MORL: {cost.MorlTrainings} trainings, one per μ", FillColor = colors[1] });
        plot.ShowLegend(Alignment.UpperLeft);

        plot.Axes.Bottom.SetTicks([0, 1],
        [
            $"RS: init + {cost.RsTrainings} experts",
            $"MORL: init + {cost.MorlTrainings} preferences",
        ]);
        plot.Axes.Margins(bottom: 0);
        plot.Title($"{char.ToUpperInvariant(cost.Unit[0])}{cost.Unit[1..]} per training seed: RS/MORL = {ReportFormat.Percent(results.Cost.MorlSteps > 0 ? (double)cost.RsSteps / cost.MorlSteps : double.NaN)}");
        plot.YLabel("environment steps");
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(SansFont());
        return plot;
    }

    /// <summary>
    /// DejaVu Sans when installed: ScottPlot's own sans-serif guess on Debian is DejaVu Serif, and
    /// DejaVu Sans has the Greek and subscript glyphs (λ₂, μ) the labels use. (SkiaSharp answers an
    /// unknown name with a fallback face, hence the comparison of family names.)
    /// </summary>
    private static string SansFont()
    {
        const string preferred = "DejaVu Sans";
        // Not disposed: ScottPlot caches the typefaces it hands out.
        SkiaSharp.SKTypeface? face = Fonts.GetTypeface(preferred, bold: false, italic: false);
        return face?.FamilyName == preferred ? preferred : Fonts.Sans;
    }

    /// <summary>Each point's interval on both axes as a grey cross; NaN intervals (one episode) are left out.</summary>
    private static void AddIntervalCrosses(Plot plot, IReadOnlyList<PolicyResult> points, int a, int b)
    {
        var shown = points.Where(p => !double.IsNaN(p.Low[a]) && !double.IsNaN(p.High[a]) && !double.IsNaN(p.Low[b]) && !double.IsNaN(p.High[b])).ToList();
        if (shown.Count == 0) return;
        var bars = plot.Add.ErrorBar(
            shown.Select(p => p.Mean[a]).ToList(),
            shown.Select(p => p.Mean[b]).ToList(),
            shown.Select(p => p.High[b] - p.Mean[b]).ToList());
        bars.YErrorNegative = shown.Select(p => p.Mean[b] - p.Low[b]).ToList();
        bars.XErrorPositive = shown.Select(p => p.High[a] - p.Mean[a]).ToList();
        bars.XErrorNegative = shown.Select(p => p.Mean[a] - p.Low[a]).ToList();
        bars.Color = IntervalColor;
        bars.LineWidth = 1;
    }

    private static string IntervalName(ExperimentResults results) =>
        results.Interval.StartsWith("95%", StringComparison.Ordinal) ? "95% interval" : "interval";

    private static string Subscript(int n) =>
        string.Concat(n.ToString(System.Globalization.CultureInfo.InvariantCulture).Select(c => (char)('₀' + (c - '0'))));

    /// <summary>The colour scale of λ, always [0, 1], for the colorbar.</summary>
    private sealed class UnitColorAxis(IColormap colormap) : IHasColorAxis
    {
        public IColormap Colormap { get; set; } = colormap;

        public ScottPlot.Range GetRange() => new(0, 1);
    }
}
