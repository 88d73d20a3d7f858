using RewardedSoups.Environments;

namespace RewardedSoups.Tasks.Locomotion.Tests.Fixtures;

/// <summary>The arrays one <see cref="IVectorEnv.Step"/> call needs, sized for <paramref name="env"/>.</summary>
public sealed class StepBuffers(IVectorEnv env)
{
    public float[] Actions { get; } = new float[env.NumEnvs * env.ActionSize];         // [envs, act]
    public float[] Rewards { get; } = new float[env.NumEnvs * env.RewardTerms.Count];  // [envs, terms]
    public bool[] Terminated { get; } = new bool[env.NumEnvs];
    public bool[] Truncated { get; } = new bool[env.NumEnvs];

    public void Step() => env.Step(Actions, Rewards, Terminated, Truncated);

    /// <summary>Reward term <paramref name="term"/> of instance <paramref name="instance"/> from the last step.</summary>
    public float Term(int instance, string term)
    {
        int t = env.RewardTerms.ToList().IndexOf(term);
        return Rewards[instance * env.RewardTerms.Count + t];
    }
}
