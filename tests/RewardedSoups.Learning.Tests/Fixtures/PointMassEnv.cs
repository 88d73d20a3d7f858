using RewardedSoups.Environments;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>
/// A small real control task for fast learning tests: a point on a line must reach the origin.
/// Observation [x, v]; action a ∈ [-1, 1] accelerates it (v ← 0.9v + 0.1a, x ← x + 0.1v).
/// Reward terms: <c>closeness</c> = −|x|, <c>effort</c> = a². 50-step episodes, x₀ ~ U(−1, 1).
/// A random policy scores about −25 per episode; moving to the origin and staying, about −6.
/// </summary>
public sealed class PointMassEnv(int numEnvs) : IVectorEnv
{
    private readonly float[] _obs = new float[numEnvs * 2];
    private readonly float[] _final = new float[numEnvs * 2];
    private readonly int[] _t = new int[numEnvs];
    private Random _random = new(0);

    public string Name => "point-mass";
    public int NumEnvs => numEnvs;
    public int ObservationSize => 2;
    public int ActionSize => 1;
    public IReadOnlyList<string> RewardTerms { get; } = ["closeness", "effort"];
    public int MaxEpisodeSteps => 50;
    public ReadOnlySpan<float> Observations => _obs;
    public ReadOnlySpan<float> FinalObservations => _final;
    public long InvalidEpisodes { get; private set; }

    public void Reset(int seed)
    {
        _random = new Random(seed);
        for (int e = 0; e < numEnvs; e++) ResetOne(e);
    }

    private void ResetOne(int e)
    {
        _obs[2 * e] = (float)(_random.NextDouble() * 2 - 1);
        _obs[2 * e + 1] = 0;
        _t[e] = 0;
    }

    public void Step(ReadOnlySpan<float> actions, Span<float> rewardTerms, Span<bool> terminated, Span<bool> truncated)
    {
        for (int e = 0; e < numEnvs; e++)
        {
            float a = actions[e];
            bool invalid = !float.IsFinite(a);
            a = invalid ? 0 : Math.Clamp(a, -1f, 1f);
            float v = 0.9f * _obs[2 * e + 1] + 0.1f * a;
            float x = _obs[2 * e] + 0.1f * v;
            _obs[2 * e] = x;
            _obs[2 * e + 1] = v;
            rewardTerms[2 * e] = -Math.Abs(x);
            rewardTerms[2 * e + 1] = a * a;
            terminated[e] = false;
            truncated[e] = invalid || ++_t[e] >= MaxEpisodeSteps;
            if (invalid) InvalidEpisodes++;
            if (truncated[e])
            {
                _final[2 * e] = x;
                _final[2 * e + 1] = v;
                ResetOne(e);
            }
        }
    }

    public void Dispose() { }
}
