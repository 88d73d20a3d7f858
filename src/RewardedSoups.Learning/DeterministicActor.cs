using System.Diagnostics;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>
/// The deterministic action an evaluation takes for raw observations: one policy's mean action on its own normalised
/// observations (<see cref="PolicyActor"/>), or an output-space ensemble of policies (<see cref="GaussianProductActor"/>).
/// It counts what it computes: <see cref="ForwardPasses"/> (network evaluations of one observation row) and
/// <see cref="Elapsed"/> (wall time in <see cref="Act"/>: the policy's share of an evaluation, the simulator excluded).
/// </summary>
public abstract class DeterministicActor : IDisposable
{
    private readonly Stopwatch _clock = new();

    public abstract int ObservationSize { get; }

    public abstract int ActionSize { get; }

    /// <summary>Network evaluations of one observation row so far (an ensemble of k members counts k per row).</summary>
    public long ForwardPasses { get; private set; }

    /// <summary>Wall time spent in <see cref="Act"/> so far.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Actions <c>[rows × act]</c> for raw observations <c>[rows × obs]</c>, without gradients.</summary>
    public void Act(ReadOnlySpan<float> observations, int rows, Span<float> actions)
    {
        _clock.Start();
        try
        {
            ActCore(observations, rows, actions);
            ForwardPasses += (long)rows * Members;
        }
        finally
        {
            _clock.Stop();
        }
    }

    /// <summary>Networks run per observation row.</summary>
    protected abstract int Members { get; }

    protected abstract void ActCore(ReadOnlySpan<float> observations, int rows, Span<float> actions);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>One policy's mean action on its normalised observations, as every single policy is evaluated (<paramref name="normalized"/>: <c>rows × obs</c> floats exactly).</summary>
    protected static void MeanAction(GaussianPolicy policy, RunningMeanStd norm, ReadOnlySpan<float> observations, int rows, float[] normalized, Span<float> actions)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        norm.Normalize(observations, normalized);
        policy.Mean(tensor(normalized, [rows, policy.ObservationSize])).data<float>().CopyTo(actions);
    }
}

/// <summary>A policy's mean action on observations normalised by its own statistics (the deterministic policy); <paramref name="ownsPolicy"/>: disposed with the actor.</summary>
public sealed class PolicyActor(GaussianPolicy policy, RunningMeanStd norm, bool ownsPolicy = false) : DeterministicActor
{
    private float[] _normalized = [];

    public override int ObservationSize => policy.ObservationSize;

    public override int ActionSize => policy.ActionSize;

    protected override int Members => 1;

    protected override void ActCore(ReadOnlySpan<float> observations, int rows, Span<float> actions)
    {
        if (_normalized.Length != rows * policy.ObservationSize) _normalized = new float[rows * policy.ObservationSize];
        MeanAction(policy, norm, observations, rows, _normalized, actions);
    }

    public override void Dispose()
    {
        if (ownsPolicy) policy.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// The output-space ensemble of Gaussian policies with weights λ: the mode of their weighted product Π πᵢ^{λᵢ}
/// (the policy multi-objective decoding prescribes, Shi et al. 2024), a Gaussian whose precision per action
/// dimension is Σ λᵢ/σᵢ² and whose mean is Σ cᵢ μᵢ(s) with cᵢ = (λᵢ/σᵢ²) / Σₖ λₖ/σₖ². When the members' standard
/// deviations are equal, cᵢ = λᵢ exactly: the mean action Σ λᵢ μᵢ(s). Each member normalises the observation
/// with its own statistics, as it was trained to. Members with λᵢ = 0 are not run; a single member with λ = 1
/// gives exactly its own actions. The members are owned (disposed with the ensemble).
/// </summary>
public sealed class GaussianProductActor : DeterministicActor
{
    private readonly (GaussianPolicy Policy, RunningMeanStd Norm)[] _members;
    private readonly double[][] _coefficients;   // [member][action]
    private float[] _normalized = [];
    private float[] _memberActions = [];
    private double[] _sum = [];

    /// <param name="members">Every expert with its weight; those weighted 0 are dropped (and disposed at once).</param>
    public GaussianProductActor(IReadOnlyList<(GaussianPolicy Policy, RunningMeanStd Norm, double Weight)> members)
    {
        if (members.Count == 0) throw new SoupInputException("an ensemble needs at least one member");
        var kept = members.Where(m => m.Weight > 0).ToList();
        if (kept.Count == 0) throw new SoupInputException("an ensemble needs a member with a weight above 0");
        foreach (var m in members.Where(m => !(m.Weight > 0))) m.Policy.Dispose();
        int obs = kept[0].Policy.ObservationSize, act = kept[0].Policy.ActionSize;
        foreach (var m in kept)
            if (m.Policy.ObservationSize != obs || m.Policy.ActionSize != act)
                throw new SoupInputException($"ensemble members differ in size: obs {m.Policy.ObservationSize}, act {m.Policy.ActionSize} against obs {obs}, act {act}");
        _members = kept.Select(m => (m.Policy, m.Norm)).ToArray();
        _coefficients = Coefficients(kept.Select(m => m.Weight).ToArray(), kept.Select(m => LogStd(m.Policy)).ToArray());
        ObservationSize = obs;
        ActionSize = act;
    }

    public override int ObservationSize { get; }

    public override int ActionSize { get; }

    protected override int Members => _members.Length;

    /// <summary>
    /// The weight of each member's mean per action dimension: λᵢ/σᵢ² normalised over members (λᵢ itself when the σᵢ of
    /// that dimension are all equal). <paramref name="logStd"/>: <c>[member][action]</c>.
    /// </summary>
    public static double[][] Coefficients(double[] weights, float[][] logStd)
    {
        int k = weights.Length, act = logStd[0].Length;
        var c = new double[k][];
        for (int i = 0; i < k; i++) c[i] = new double[act];
        for (int j = 0; j < act; j++)
        {
            bool equal = true;
            for (int i = 1; i < k; i++) equal &= logStd[i][j] == logStd[0][j];
            if (equal)
            {
                for (int i = 0; i < k; i++) c[i][j] = weights[i];
                continue;
            }
            double total = 0;
            for (int i = 0; i < k; i++) total += weights[i] * Math.Exp(-2.0 * logStd[i][j]);
            for (int i = 0; i < k; i++) c[i][j] = weights[i] * Math.Exp(-2.0 * logStd[i][j]) / total;
        }
        return c;
    }

    protected override void ActCore(ReadOnlySpan<float> observations, int rows, Span<float> actions)
    {
        int act = ActionSize;
        if (_normalized.Length != rows * ObservationSize) _normalized = new float[rows * ObservationSize];
        if (_memberActions.Length != rows * act) _memberActions = new float[rows * act];
        if (_members.Length == 1 && _coefficients[0].All(c => c == 1))
        {
            MeanAction(_members[0].Policy, _members[0].Norm, observations, rows, _normalized, actions);
            return;
        }
        if (_sum.Length != rows * act) _sum = new double[rows * act];
        double[] sum = _sum;
        Array.Clear(sum);
        for (int i = 0; i < _members.Length; i++)
        {
            MeanAction(_members[i].Policy, _members[i].Norm, observations, rows, _normalized, _memberActions);
            double[] c = _coefficients[i];
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < act; j++)
                    sum[r * act + j] += c[j] * _memberActions[r * act + j];
        }
        for (int x = 0; x < rows * act; x++) actions[x] = (float)sum[x];
    }

    private static float[] LogStd(GaussianPolicy policy)
    {
        using var noGrad = no_grad();
        return policy.LogStd.contiguous().data<float>().ToArray();
    }

    public override void Dispose()
    {
        foreach (var m in _members) m.Policy.Dispose();
        base.Dispose();
    }
}
