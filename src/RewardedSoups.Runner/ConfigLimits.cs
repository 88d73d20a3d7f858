namespace RewardedSoups.Runner;

/// <summary>
/// What an experiment configuration may ask for. A configuration is input, and input can be hostile
/// or mistyped: without bounds a 50 MB file, a YAML "billion laughs", 100,000 nested brackets or
/// <c>soups: {step: 1e-9}</c> exhausted memory or the stack before any error. Each limit is far above
/// real use (the built-in configurations are under 3 KB, 5 levels deep, at most 102 jobs) and below
/// what would hurt the machine; an error names the key and the limit (docs/experiments.md, Limits).
/// The task families bound their own settings (e.g. <c>ppo.envs</c>) where they check them.
/// </summary>
public static class ConfigLimits
{
    /// <summary>Bytes of a configuration file: 1 MiB (the built-in ones are under 3 KB).</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Largest <c>config.resolved.json</c> a run folder may hold: its grids written out (1,001 soups of 16 weights is ~0.4 MiB).</summary>
    public const int MaxResolvedBytes = 4 << 20;

    /// <summary>Nesting of mappings and lists (a configuration needs 5: <c>experts.rewards[0].terms</c>).</summary>
    public const int MaxDepth = 32;

    /// <summary>Values in a document, YAML alias expansions counted each time they are used.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Characters of <c>name</c>, which names the run folder <c>runs/NAME</c>.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Training seeds (<c>repeats</c>); the built-in configurations use 1 to 3.</summary>
    public const int MaxRepeats = 100;

    /// <summary>Experts (<c>experts.rewards</c>); the built-in configurations have 2.</summary>
    public const int MaxExperts = 16;

    /// <summary>Points of the λ grid, per soup mode: a step of 0.001 along λ₂ (the demo has 11).</summary>
    public const int MaxSoups = 1001;

    /// <summary>Entries of <c>soups.methods</c>: each adds a front of soups to evaluate.</summary>
    public const int MaxSoupMethods = 16;

    /// <summary>MORL preferences, each a whole training (the demo has 3).</summary>
    public const int MaxMorlPreferences = 100;

    /// <summary>Evaluation seeds.</summary>
    public const int MaxEvaluationSeeds = 100;

    /// <summary>Evaluation episodes (or samples) per evaluation seed.</summary>
    public const int MaxEpisodes = 10_000;

    /// <summary>Preferences of the expected-utility grid, as <c>soup front --eu-divisions</c> allows.</summary>
    public const long MaxEuPreferences = 1_000_000;

    /// <summary>Jobs at once (<c>parallelism</c>, <c>--jobs</c>).</summary>
    public const int MaxParallelism = 1024;

    /// <summary>Budget of one training (<c>pretrain.steps</c>, <c>experts.steps</c>): 10⁹, a day or more of PPO on a core; it keeps every family's budget arithmetic (32-bit step and update counts) in range.</summary>
    public const long MaxSteps = 1_000_000_000;

    /// <summary>Jobs of the whole plan, all training seeds (the demo has 68, the humanoid study 102).</summary>
    public const int MaxJobs = 10_000;
}
