namespace RewardedSoups.Pareto;

/// <summary>Minimum, maximum and mean of one reward's gap over all measured soups.</summary>
public sealed record GapSummary(double Min, double Max, double Mean);

/// <summary>
/// Linear-mode-connectivity gaps. <see cref="Gaps"/>[point][reward] is the reward measured at a
/// soup minus the chord value at the same weights; <see cref="PerReward"/>[reward] summarises a
/// column over all points, the experts themselves included (their gap is 0 by construction, so
/// Min ≤ 0 ≤ Max, and Min = 0 means the soup never falls below the chord).
/// </summary>
public sealed record ConnectivityReport(IReadOnlyList<double[]> Gaps, IReadOnlyList<GapSummary> PerReward);

/// <summary>
/// Linear mode connectivity of fine-tuned experts (Frankle et al., ICML 2020; the "LMC"
/// hypothesis of Ramé et al., "Rewarded soups", NeurIPS 2023, §3): is the reward of the weight
/// interpolation θ(λ) = Σ λ_i θ_i at least the same interpolation of the experts' rewards?
/// The gap R(θ(λ)) − Σ λ_i R(θ_i) is positive when the soup lies above the chord (the reward is
/// concave along the path, which is what makes soups good) and negative when it dips below it.
/// </summary>
public static class LinearModeConnectivity
{
    /// <summary>
    /// How far a λ entry may sit from 0 or 1 and still mark an expert's own measurement, so that
    /// grids built by repeated addition (0.1 + 0.1 + …) still find their endpoints.
    /// </summary>
    public const double VertexTolerance = 1e-9;

    /// <summary>
    /// Two experts: θ(λ) = (1 − λ) θ₁ + λ θ₂, so λ is the weight of expert 2. For every measured
    /// λ, gap = R(λ) − [(1 − λ) R(0) + λ R(1)] per reward. λ = 0 and λ = 1 must each be measured
    /// exactly once; λ outside [0, 1] is extrapolation and is compared with the extended chord.
    /// </summary>
    /// <param name="lambdas">[points] weight of expert 2 at each measured soup.</param>
    /// <param name="rewards">[points, rewards] reward vector measured at each λ.</param>
    /// <exception cref="ArgumentException">Lengths disagree, a value is not finite, or an endpoint is missing or repeated.</exception>
    public static ConnectivityReport Path(IReadOnlyList<double> lambdas, IReadOnlyList<double[]> rewards)
    {
        ArgumentNullException.ThrowIfNull(lambdas);
        var weights = new double[lambdas.Count][];
        for (int j = 0; j < lambdas.Count; j++)
        {
            double lambda = lambdas[j];
            if (!double.IsFinite(lambda))
            {
                throw new ArgumentException($"lambdas[{j}] is {lambda}; expected a finite number", nameof(lambdas));
            }

            weights[j] = [1 - lambda, lambda];
        }

        return Simplex(weights, rewards);
    }

    /// <summary>
    /// N experts: θ(λ) = Σ λ_i θ_i with λ_i the weight of expert i (expert order). For every
    /// measured λ, gap = R(λ) − Σ λ_i R(e_i) per reward, where R(e_i) is the reward measured at
    /// the vertex e_i (expert i alone); every vertex must be measured exactly once. λ entries must
    /// sum to 1; negative entries are extrapolation and are compared with the extended plane.
    /// </summary>
    /// <param name="lambdas">[points, experts] interpolation weights of each measured soup.</param>
    /// <param name="rewards">[points, rewards] reward vector measured at each λ.</param>
    /// <exception cref="ArgumentException">Lengths disagree, a value is not finite, weights do not sum to 1, or a vertex is missing or repeated.</exception>
    public static ConnectivityReport Simplex(IReadOnlyList<double[]> lambdas, IReadOnlyList<double[]> rewards)
    {
        int experts = PointArguments.RequireRectangular(lambdas, requireFinite: true, nameof(lambdas));
        int rewardCount = PointArguments.RequireRectangular(rewards, requireFinite: true, nameof(rewards));
        if (lambdas.Count != rewards.Count)
        {
            throw new ArgumentException(
                $"{lambdas.Count} weight vectors but {rewards.Count} reward vectors; need one reward vector per weight vector",
                nameof(rewards));
        }

        if (lambdas.Count == 0)
        {
            throw new ArgumentException("no measured soups", nameof(lambdas));
        }

        if (experts < 2)
        {
            throw new ArgumentException("interpolation needs at least two experts; weight vectors have 1 entry", nameof(lambdas));
        }

        for (int j = 0; j < lambdas.Count; j++)
        {
            double sum = 0;
            foreach (double w in lambdas[j])
            {
                sum += w;
            }

            if (Math.Abs(sum - 1) > VertexTolerance)
            {
                throw new ArgumentException($"lambdas[{j}] sums to {sum}; interpolation weights must sum to 1", nameof(lambdas));
            }
        }

        int[] vertexRows = FindVertices(lambdas, experts);
        var gaps = new double[lambdas.Count][];
        for (int j = 0; j < lambdas.Count; j++)
        {
            double[] lambda = lambdas[j];
            double[] gap = new double[rewardCount];
            for (int r = 0; r < rewardCount; r++)
            {
                double chord = 0;
                for (int i = 0; i < experts; i++)
                {
                    chord += lambda[i] * rewards[vertexRows[i]][r];
                }

                gap[r] = rewards[j][r] - chord;
            }

            gaps[j] = gap;
        }

        var summaries = new GapSummary[rewardCount];
        for (int r = 0; r < rewardCount; r++)
        {
            double min = double.PositiveInfinity;
            double max = double.NegativeInfinity;
            double sum = 0;
            foreach (double[] gap in gaps)
            {
                min = Math.Min(min, gap[r]);
                max = Math.Max(max, gap[r]);
                sum += gap[r];
            }

            summaries[r] = new GapSummary(min, max, sum / gaps.Length);
        }

        return new ConnectivityReport(gaps, summaries);
    }

    /// <summary>Row of each vertex e_i, i.e. of each expert measured alone.</summary>
    private static int[] FindVertices(IReadOnlyList<double[]> lambdas, int experts)
    {
        var rows = new int[experts];
        Array.Fill(rows, -1);
        for (int j = 0; j < lambdas.Count; j++)
        {
            int vertex = VertexOf(lambdas[j]);
            if (vertex < 0)
            {
                continue;
            }

            if (rows[vertex] >= 0)
            {
                throw new ArgumentException(
                    $"the weights of expert {vertex + 1} alone ({DescribeVertex(vertex, experts)}) appear twice, at lambdas[{rows[vertex]}] and lambdas[{j}]; the chord needs one measurement per expert",
                    nameof(lambdas));
            }

            rows[vertex] = j;
        }

        for (int i = 0; i < experts; i++)
        {
            if (rows[i] < 0)
            {
                throw new ArgumentException(
                    $"no measurement at the weights of expert {i + 1} alone ({DescribeVertex(i, experts)}); the chord needs every expert's own rewards",
                    nameof(lambdas));
            }
        }

        return rows;
    }

    /// <summary>i when λ is (within tolerance) the vertex e_i, otherwise −1.</summary>
    private static int VertexOf(ReadOnlySpan<double> lambda)
    {
        int vertex = -1;
        for (int i = 0; i < lambda.Length; i++)
        {
            if (Math.Abs(lambda[i] - 1) <= VertexTolerance)
            {
                if (vertex >= 0)
                {
                    return -1;
                }

                vertex = i;
            }
            else if (Math.Abs(lambda[i]) > VertexTolerance)
            {
                return -1;
            }
        }

        return vertex;
    }

    private static string DescribeVertex(int vertex, int experts)
    {
        string vector = $"λ = ({string.Join(", ", Enumerable.Range(0, experts).Select(i => i == vertex ? "1" : "0"))})";
        // Callers of Path think of λ as the scalar weight of expert 2; name that too.
        return experts == 2 ? $"{vector}, i.e. λ = {vertex} on a two-expert path" : vector;
    }
}
