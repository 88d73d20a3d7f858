using System.Diagnostics;

namespace RewardedSoups.Tasks;

/// <summary>
/// Counts what an evaluation spends computing a policy's outputs: network evaluations of one input row
/// (<see cref="Add"/>) and the wall time of the spans it times (<see cref="Time"/>). Becomes an <see cref="InferenceCost"/>.
/// </summary>
public sealed class InferenceTally
{
    private readonly Stopwatch _clock = new();

    public long ForwardPasses { get; private set; }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Counts <paramref name="rows"/> network evaluations of one input row.</summary>
    public void Add(long rows) => ForwardPasses += rows;

    /// <summary>Times <paramref name="work"/> (the policy's computation alone) and returns its result.</summary>
    public T Time<T>(Func<T> work)
    {
        _clock.Start();
        try
        {
            return work();
        }
        finally
        {
            _clock.Stop();
        }
    }

    public InferenceCost ToCost(int samples) => InferenceCost.Of(ForwardPasses, Elapsed.TotalSeconds, samples);
}
