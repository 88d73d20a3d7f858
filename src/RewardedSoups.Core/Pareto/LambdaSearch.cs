namespace RewardedSoups.Pareto;

/// <summary>
/// The search beyond the λ grid for λ*(μ): a compass search on the simplex. Each round starts from the soup that serves
/// μ best so far (<see cref="PreferredSoup.Choose"/> on validation returns, grid and earlier rounds alike) and proposes
/// its neighbours one step δ away along every direction that moves weight from one expert to another,
/// λ + δ(eᵢ − eⱼ) for the ordered pairs i ≠ j (N = 2: the two neighbours on the segment, a bisection of the grid's
/// cells; N = 3: six). δ halves every round. A proposal off the simplex, already evaluated, or already proposed this round
/// (for an earlier μ or direction) is skipped: every proposal that is evaluated is new, and every one costs an evaluation.
/// Pure and deterministic: the same returns give the same proposals (a resumed run proposes what it proposed before).
/// </summary>
public static class LambdaSearch
{
    /// <summary>The directions λ + δ(eᵢ − eⱼ) as (i, j), in their fixed order: i ascending, then j ascending.</summary>
    public static IReadOnlyList<(int To, int From)> Directions(int rewards)
    {
        if (rewards < 2) throw new ArgumentException($"{rewards} reward(s): a search on the simplex needs at least 2", nameof(rewards));
        var list = new List<(int, int)>();
        for (int i = 0; i < rewards; i++)
            for (int j = 0; j < rewards; j++)
                if (i != j) list.Add((i, j));
        return list;
    }

    /// <summary>The step of round <paramref name="round"/> (1-based): <paramref name="firstStep"/> / 2^(round − 1).</summary>
    public static double Step(double firstStep, int round) =>
        round >= 1 ? firstStep / Math.Pow(2, round - 1) : throw new ArgumentOutOfRangeException(nameof(round), round, "rounds count from 1");

    /// <summary>
    /// One round's proposals for every preference of <paramref name="mus"/> (in order) and every direction: entry
    /// [μ index][direction index]. <paramref name="candidates"/> are the soups evaluated so far, (λ, validation returns
    /// [reward][episode]).
    /// </summary>
    public static SearchProposal[][] Round(IReadOnlyList<double[]> mus, IReadOnlyList<(double[] Lambda, double[][] Validation)> candidates, double step)
    {
        if (!(step > 0 && step <= 1)) throw new ArgumentOutOfRangeException(nameof(step), step, "a search step is in (0, 1]");
        if (mus.Count == 0) return [];
        int n = mus[0].Length;
        var directions = Directions(n);
        var proposed = new List<double[]>();
        var round = new SearchProposal[mus.Count][];
        for (int m = 0; m < mus.Count; m++)
        {
            double[] from = candidates[PreferredSoup.Choose(mus[m], candidates)].Lambda;
            round[m] = new SearchProposal[directions.Count];
            for (int d = 0; d < directions.Count; d++)
            {
                (int to, int away) = directions[d];
                double[]? lambda = Move(from, to, away, step);
                string? skipped = lambda is null ? $"off the simplex (weight {away + 1} is {from[away]:0.####} < δ {step:0.####})"
                    : candidates.Any(c => PreferredSoup.SameWeights(c.Lambda, lambda)) ? "already evaluated"
                    : proposed.Any(p => PreferredSoup.SameWeights(p, lambda)) ? "already proposed this round"
                    : null;
                if (skipped is null) proposed.Add(lambda!);
                round[m][d] = new SearchProposal(from, skipped is null ? lambda : null, skipped);
            }
        }
        return round;
    }

    /// <summary>λ + δ(e_to − e_from), or null when it leaves the simplex. Weights are rounded to 12 decimals, so that a point
    /// reached by two paths compares and prints alike.</summary>
    public static double[]? Move(double[] lambda, int to, int from, double step)
    {
        if (lambda[from] < step - 1e-12) return null;
        double[] moved = (double[])lambda.Clone();
        moved[to] = Math.Round(lambda[to] + step, 12);
        moved[from] = Math.Max(0, Math.Round(lambda[from] - step, 12));
        return moved[to] > 1 + 1e-12 ? null : moved;
    }
}

/// <summary>One proposal of a search round: the best λ it started <paramref name="From"/>, the λ to evaluate (null when skipped) and why it was skipped.</summary>
public sealed record SearchProposal(double[] From, double[]? Lambda, string? Skipped);
