namespace RewardedSoups.Learning;

/// <summary>
/// Running mean and variance per feature (Chan et al.'s parallel update, as in gym's
/// <c>RunningMeanStd</c>), in float64. Observation normalisation: (x − mean)/√(var + ε), clipped
/// to ±<see cref="Clip"/>. <see cref="Frozen"/> statistics are used but never updated: experts
/// fine-tuned from a shared init keep the init's, so that their weights act on the same inputs and
/// a soup of them is a valid policy.
/// </summary>
public sealed class RunningMeanStd
{
    public const double Epsilon = 1e-8;
    public const float Clip = 10f;

    public RunningMeanStd(int size)
    {
        Mean = new double[size];
        Var = Enumerable.Repeat(1.0, size).ToArray();
        Count = 1e-4; // gym's initial count: the first batch dominates at once
    }

    public double[] Mean { get; }

    public double[] Var { get; }

    public double Count { get; set; }

    public bool Frozen { get; set; }

    public int Size => Mean.Length;

    /// <summary>Updates with a batch <c>[rows, Size]</c> (no-op when frozen).</summary>
    public void Update(ReadOnlySpan<float> batch, int rows)
    {
        if (Frozen || rows == 0) return;
        int d = Size;
        for (int j = 0; j < d; j++)
        {
            double mean = 0;
            for (int r = 0; r < rows; r++) mean += batch[r * d + j];
            mean /= rows;
            double m2 = 0;
            for (int r = 0; r < rows; r++)
            {
                double e = batch[r * d + j] - mean;
                m2 += e * e;
            }
            double var = m2 / rows;
            double delta = mean - Mean[j];
            double total = Count + rows;
            Mean[j] += delta * rows / total;
            Var[j] = (Var[j] * Count + var * rows + delta * delta * Count * rows / total) / total;
        }
        Count += rows;
    }

    /// <summary>Writes normalised, clipped copies of <paramref name="batch"/> rows into <paramref name="output"/>.</summary>
    public void Normalize(ReadOnlySpan<float> batch, Span<float> output)
    {
        int d = Size;
        for (int i = 0; i < batch.Length; i++)
        {
            int j = i % d;
            double z = (batch[i] - Mean[j]) / Math.Sqrt(Var[j] + Epsilon);
            output[i] = (float)Math.Clamp(z, -Clip, Clip);
        }
    }
}
