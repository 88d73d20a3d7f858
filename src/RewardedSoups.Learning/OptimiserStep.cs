using System.Globalization;
using RewardedSoups.Numerics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>
/// One optimiser step with the checks every trainer owes: zero the gradients, refuse a non-finite loss,
/// back-propagate, clip the gradients' global norm, refuse a non-finite norm, step. A refusal is a
/// <see cref="NumericalFailureException"/> naming the place ("training diverged: gradient norm NaN at pretrain
/// step 118"), thrown before the optimiser steps, so no weight is ever updated with a NaN and the job
/// stops instead of training on poisoned weights (what <c>clip_grad_norm_</c> alone does: it returns
/// NaN and multiplies every gradient by it).
/// </summary>
public static class OptimiserStep
{
    /// <summary>
    /// Runs the step and returns the loss. <paramref name="maxGradNorm"/> = ∞ measures the norm without
    /// clipping (the gradients are multiplied by exactly 1). <paramref name="where"/> names the place in an
    /// error: "pretrain step 118", "PPO update 3, epoch 2".
    /// </summary>
    public static double Apply(optim.Optimizer optimizer, Tensor loss, IEnumerable<Parameter> parameters, double maxGradNorm, Func<string> where)
    {
        optimizer.zero_grad();
        double value = loss.item<float>();
        Require(value, "loss", where);
        loss.backward();
        double norm = nn.utils.clip_grad_norm_(parameters, maxGradNorm);
        Require(norm, "gradient norm", where);
        optimizer.step();
        return value;
    }

    /// <summary>Throws when <paramref name="value"/> is NaN or ±∞: "training diverged: {quantity} NaN at {where}".</summary>
    public static void Require(double value, string quantity, Func<string> where)
    {
        if (!double.IsFinite(value))
            throw new NumericalFailureException($"training diverged: {quantity} {value.ToString(CultureInfo.InvariantCulture)} at {where()}");
    }
}
