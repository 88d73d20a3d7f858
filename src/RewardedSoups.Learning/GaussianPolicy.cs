using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>
/// The actor-critic of CleanRL's <c>ppo_continuous_action.py</c>: tanh MLPs, orthogonal init
/// (gain √2 for hidden layers, 0.01 for the action mean, 1 for the value), a state-independent
/// log-std. Field names are the state-dict keys (<c>critic.0.weight</c>, <c>actor_mean.4.bias</c>,
/// <c>actor_logstd</c>), the same as CleanRL's PyTorch agent, so checkpoints interoperate.
/// </summary>
public sealed class GaussianPolicy : nn.Module
{
#pragma warning disable IDE1006 // PyTorch-style names are the checkpoint keys
    private readonly Sequential critic;
    private readonly Sequential actor_mean;
    private readonly Parameter actor_logstd;
#pragma warning restore IDE1006

    public GaussianPolicy(int observationSize, int actionSize, int hidden = 64) : base(nameof(GaussianPolicy))
    {
        ObservationSize = observationSize;
        ActionSize = actionSize;
        Hidden = hidden;
        critic = nn.Sequential(
            ("0", Layer(observationSize, hidden, Math.Sqrt(2))), ("1", nn.Tanh()),
            ("2", Layer(hidden, hidden, Math.Sqrt(2))), ("3", nn.Tanh()),
            ("4", Layer(hidden, 1, 1.0)));
        actor_mean = nn.Sequential(
            ("0", Layer(observationSize, hidden, Math.Sqrt(2))), ("1", nn.Tanh()),
            ("2", Layer(hidden, hidden, Math.Sqrt(2))), ("3", nn.Tanh()),
            ("4", Layer(hidden, actionSize, 0.01)));
        actor_logstd = nn.Parameter(zeros(1, actionSize));
        RegisterComponents();
    }

    public int ObservationSize { get; }

    public int ActionSize { get; }

    public int Hidden { get; }

    /// <summary>V(s): <c>[batch, obs] → [batch]</c>.</summary>
    public Tensor Value(Tensor observations) => critic.call(observations).squeeze(-1);

    /// <summary>The state-independent log standard deviation <c>[1, act]</c> (the parameter itself: do not modify).</summary>
    public Tensor LogStd => actor_logstd;

    /// <summary>Mean action <c>[batch, act]</c> (the deterministic policy used for evaluation).</summary>
    public Tensor Mean(Tensor observations) => actor_mean.call(observations);

    /// <summary>Log-probability <c>[batch]</c> and entropy <c>[batch]</c> of <paramref name="actions"/> under N(mean, exp(logstd)²).</summary>
    public (Tensor LogProb, Tensor Entropy, Tensor Value) Evaluate(Tensor observations, Tensor actions)
    {
        Tensor mean = actor_mean.call(observations);                   // [batch, act]
        Tensor logStd = actor_logstd.expand_as(mean);                  // [batch, act]
        Tensor z = (actions - mean) * (-logStd).exp();
        Tensor logProb = (z.square() * MinusHalf - logStd - HalfLog2Pi).sum(-1);
        Tensor entropy = (logStd + 0.5 + HalfLog2Pi).sum(-1);
        return (logProb, entropy, Value(observations));
    }

    /// <summary>Samples actions <c>[batch, act]</c> with their log-probabilities and the values, without gradients.</summary>
    public (Tensor Actions, Tensor LogProb, Tensor Value) Sample(Tensor observations, Generator generator)
    {
        using var noGrad = no_grad();
        Tensor mean = actor_mean.call(observations);
        Tensor std = actor_logstd.exp().expand_as(mean);
        Tensor actions = mean + std * randn(mean.shape, generator: generator);
        (Tensor logProb, _, Tensor value) = Evaluate(observations, actions);
        return (actions, logProb, value);
    }

    private static readonly Scalar MinusHalf = -0.5, Zero = 0.0;

    private const double HalfLog2Pi = 0.91893853320467274178; // ½·ln(2π)

    private static Linear Layer(int input, int output, double gain)
    {
        var layer = nn.Linear(input, output);
        using var noGrad = no_grad();
        nn.init.orthogonal_(layer.weight, gain);
        nn.init.constant_(layer.bias!, Zero);
        return layer;
    }
}
