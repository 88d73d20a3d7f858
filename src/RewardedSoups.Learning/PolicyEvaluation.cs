using RewardedSoups.Environments;
using RewardedSoups.Statistics;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>One evaluated episode: the sum of each reward term over it, and its length.</summary>
public sealed record EpisodeResult(double[] TermSums, int Length, bool Terminated);

/// <summary>A recorded episode: reward-term sums, and per step every body's (x, y, z), <c>[steps][bodies × 3]</c>.</summary>
public sealed record RecordedEpisode(double[] TermSums, int Length, bool Terminated, IReadOnlyList<string> Bodies, IReadOnlyList<int> Parents, float[][] Frames);

/// <summary>A named reward's episode returns over an evaluation, with their 95% interval.</summary>
public sealed record RewardEstimate(string Reward, MeanInterval Return, double[] Episodes);

/// <summary>
/// Deterministic evaluation: the policy's mean action on normalised observations (the normaliser
/// as stored, never updated), one episode per environment instance, all instances stepped together.
/// </summary>
public static class PolicyEvaluation
{
    /// <summary>Runs one episode in each of <paramref name="env"/>'s instances, reset with <paramref name="seed"/>.</summary>
    public static List<EpisodeResult> Run(GaussianPolicy policy, RunningMeanStd obsNorm, IVectorEnv env, int seed)
    {
        using var actor = new PolicyActor(policy, obsNorm);
        return Run(actor, env, seed);
    }

    /// <summary>Runs one episode in each of <paramref name="env"/>'s instances with <paramref name="actor"/>'s deterministic actions.</summary>
    public static List<EpisodeResult> Run(DeterministicActor actor, IVectorEnv env, int seed)
    {
        if (actor.ObservationSize != env.ObservationSize || actor.ActionSize != env.ActionSize)
            throw new SoupInputException($"policy sizes (obs {actor.ObservationSize}, act {actor.ActionSize}) do not fit task '{env.Name}' (obs {env.ObservationSize}, act {env.ActionSize})");
        int envs = env.NumEnvs, terms = env.RewardTerms.Count;
        var results = new EpisodeResult?[envs];
        var sums = new double[envs, terms];
        var lengths = new int[envs];
        var actions = new float[envs * env.ActionSize];  // [envs, act]
        var termBuf = new float[envs * terms];           // [envs, terms]
        var terminated = new bool[envs];
        var truncated = new bool[envs];
        env.Reset(seed);
        int remaining = envs;
        using var noGrad = no_grad();
        using ScalarGuard.Span guard = ScalarGuard.Enter();   // one episode per instance: about 2 MiB of managed objects
        while (remaining > 0)
        {
            actor.Act(env.Observations, envs, actions);
            env.Step(actions, termBuf, terminated, truncated);
            for (int e = 0; e < envs; e++)
            {
                if (results[e] is not null) continue; // this instance already gave its episode
                for (int k = 0; k < terms; k++) sums[e, k] += termBuf[e * terms + k];
                lengths[e]++;
                if (terminated[e] || truncated[e])
                {
                    results[e] = new EpisodeResult(Enumerable.Range(0, terms).Select(k => sums[e, k]).ToArray(), lengths[e], terminated[e]);
                    remaining--;
                }
            }
        }
        return results.Select(r => r!).ToList();
    }

    /// <summary>
    /// One deterministic episode of instance 0 of <paramref name="env"/>, at most
    /// <paramref name="maxSteps"/> steps, recording body positions before the first step and after each.
    /// </summary>
    public static RecordedEpisode Record(GaussianPolicy policy, RunningMeanStd obsNorm, IRecordableEnv env, int seed, int maxSteps)
    {
        using var actor = new PolicyActor(policy, obsNorm);
        return Record(actor, env, seed, maxSteps);
    }

    /// <summary>As above, with <paramref name="actor"/>'s deterministic actions (a policy or an ensemble).</summary>
    public static RecordedEpisode Record(DeterministicActor actor, IRecordableEnv env, int seed, int maxSteps)
    {
        int envs = env.NumEnvs, terms = env.RewardTerms.Count, bodies = env.BodyNames.Count;
        var actions = new float[envs * env.ActionSize];
        var termBuf = new float[envs * terms];
        var terminated = new bool[envs];
        var truncated = new bool[envs];
        var sums = new double[terms];
        var positions = new double[bodies * 3];
        var frames = new List<float[]>(maxSteps + 1);
        void Capture()
        {
            env.ReadBodyPositions(0, positions);
            frames.Add(positions.Select(p => (float)p).ToArray());
        }
        env.Reset(seed);
        Capture();
        using var noGrad = no_grad();
        using ScalarGuard.Span guard = ScalarGuard.Enter();
        int length = 0;
        bool ended = false, fell = false;
        while (!ended && length < maxSteps)
        {
            actor.Act(env.Observations, envs, actions);
            env.Step(actions, termBuf, terminated, truncated);
            for (int k = 0; k < terms; k++) sums[k] += termBuf[k];
            length++;
            ended = terminated[0] || truncated[0];
            fell = terminated[0];
            if (!ended) Capture(); // after an auto-reset the bodies are back at the start: stop there
        }
        return new RecordedEpisode(sums, length, fell, env.BodyNames, env.BodyParents, frames.ToArray());
    }

    /// <summary>Each reward's return per episode (Σₖ wₖ · term sumₖ) with its mean and 95% interval.</summary>
    public static List<RewardEstimate> Estimate(IReadOnlyList<EpisodeResult> episodes, IReadOnlyList<string> terms, IEnumerable<RewardFunction> rewards)
    {
        var estimates = new List<RewardEstimate>();
        foreach (RewardFunction reward in rewards)
        {
            float[] w = reward.Resolve(terms);
            double[] returns = episodes.Select(ep => ep.TermSums.Select((s, k) => s * w[k]).Sum()).ToArray();
            estimates.Add(new RewardEstimate(reward.Name, MeanInterval.Of(returns), returns));
        }
        return estimates;
    }
}
