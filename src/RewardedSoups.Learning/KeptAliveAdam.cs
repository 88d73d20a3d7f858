using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>
/// TorchSharp's Adam and AdamW with the same arithmetic, operation for operation (the same bits), but
/// every <see cref="Scalar"/> handed to libtorch held alive until the call returns.
/// </summary>
/// <remarks>
/// TorchSharp passes a <see cref="Scalar"/>'s native handle to libtorch without <c>GC.KeepAlive</c>, and its
/// optimisers build their Scalars as temporaries (<c>add_(grad, alpha: 1 - beta1)</c>). Once the handle is
/// read the temporary is unreachable, so a garbage collection started by another thread (the tiered
/// compiler, the finalizer, the app's compute threads) during the native call can finalize it, and the
/// finalizer frees the native Scalar while libtorch reads it: the freed block's first word is the
/// Scalar's type tag, and the step fails with "Expected false to be true … toFloat at Scalar.h" (seen in
/// CI, once in about ten runs of the suite) or, worse, reads a wrong value. Here each Scalar is a
/// <c>using</c> local, alive until its scope ends. The same rule for our own code is enforced by the
/// build (SOUP001, docs/architecture.md).
/// </remarks>
public static class KeptAliveAdam
{
    /// <summary>Adam (Kingma and Ba) with L2 weight decay added to the gradient, as <c>torch.optim.Adam</c>.</summary>
    public static Adam Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        => new AdamStep(parameters, lr, beta1, beta2, eps, weightDecay);

    /// <summary>AdamW (Loshchilov and Hutter: decoupled weight decay), as TorchSharp's <c>optim.AdamW</c> (default decay 0, not PyTorch's 0.01), with per-group options.</summary>
    public static AdamW AdamW(IEnumerable<AdamW.ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        => new AdamWStep(groups, lr, beta1, beta2, eps, weightDecay);

    /// <summary>
    /// One group's step constants (the Scalars held until disposed) and Adam's update of one parameter from its
    /// moments, TorchSharp's operations in TorchSharp's order.
    /// </summary>
    private sealed class Moments : IDisposable
    {
        private readonly Scalar _b1, _b2, _rest1, _rest2, _eps;
        private readonly double _beta1, _beta2;

        public Moments(bool? amsgrad, bool? maximize, double beta1, double beta2, double eps, double lr)
        {
            if (amsgrad == true || maximize == true) throw new NotSupportedException("KeptAliveAdam: amsgrad and maximize are not implemented");
            (_beta1, _beta2, Lr) = (beta1, beta2, lr);
            _b1 = beta1.ToScalar();
            _b2 = beta2.ToScalar();
            _rest1 = (1 - beta1).ToScalar();
            _rest2 = (1 - beta2).ToScalar();
            _eps = eps.ToScalar();
        }

        public double Lr { get; }

        public void Apply(Tensor param, Tensor grad, Tensor gradConj, Tensor expAvg, Tensor expAvgSq, long step)
        {
            double correction1 = 1 - Math.Pow(_beta1, step), correction2 = 1 - Math.Pow(_beta2, step);
            expAvg.mul_(_b1).add_(grad, alpha: _rest1);
            expAvgSq.mul_(_b2).addcmul_(grad, gradConj, value: _rest2);
            using Scalar root2 = Math.Sqrt(correction2).ToScalar(), stepSize = (-(Lr / correction1)).ToScalar();
            Tensor denom = (expAvgSq.sqrt() / root2).add_(_eps);
            param.addcdiv_(expAvg, denom, value: stepSize);
        }

        public void Dispose()
        {
            foreach (Scalar s in new[] { _b1, _b2, _rest1, _rest2, _eps }) s.Dispose();
        }
    }

    private sealed class AdamStep(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay)
        : Adam(parameters, lr, beta1, beta2, eps, weightDecay)
    {
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var o = (Options)group.Options;
            using var moments = new Moments(o.amsgrad, o.maximize, o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.LearningRate!.Value);
            double decay = o.weight_decay!.Value;
            using Scalar decayScalar = decay.ToScalar();
            foreach (Parameter param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                Tensor? grad = param.grad;
                if (grad is null) continue;
                state.step += 1;
                if (decay != 0) grad = grad.add(param, alpha: decayScalar);
                moments.Apply(param, grad, grad.conj(), state.exp_avg, state.exp_avg_sq, state.step);
            }
        }, closure);
    }

    private sealed class AdamWStep(IEnumerable<AdamW.ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
        : AdamW(groups, lr, beta1, beta2, eps, weightDecay)
    {
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var o = (Options)group.Options;
            using var moments = new Moments(o.amsgrad, o.maximize, o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.LearningRate!.Value);
            using Scalar shrink = (1 - moments.Lr * o.weight_decay!.Value).ToScalar();
            foreach (Parameter param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                Tensor? grad = param.grad;
                if (grad is null) continue;
                state.step += 1;
                param.mul_(shrink);
                moments.Apply(param, grad, grad, state.exp_avg, state.exp_avg_sq, state.step);
            }
        }, closure);
    }
}
