namespace RewardedSoups.Learning;

/// <summary>
/// Generalised advantage estimation (Schulman et al. 2016) over a rollout laid out
/// <c>[steps, envs]</c>, as CleanRL computes it. <c>ended[t, e]</c> says the episode of env e ended
/// at step t (no bootstrap across it; a truncated episode's bootstrap is added to its last reward
/// by the caller).
/// </summary>
public static class Gae
{
    public static void Compute(
        ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<bool> ended, ReadOnlySpan<float> lastValues,
        int steps, int envs, float gamma, float lambda, Span<float> advantages, Span<float> returns)
    {
        for (int e = 0; e < envs; e++)
        {
            float last = 0;
            for (int t = steps - 1; t >= 0; t--)
            {
                int i = t * envs + e;
                float notDone = ended[i] ? 0f : 1f;
                float next = t == steps - 1 ? lastValues[e] : values[i + envs];
                float delta = rewards[i] + gamma * next * notDone - values[i];
                last = delta + gamma * lambda * notDone * last;
                advantages[i] = last;
                returns[i] = last + values[i];
            }
        }
    }
}
