using System.Runtime.InteropServices;
using RewardedSoups.Checkpoints;
using RewardedSoups.Numerics;

namespace RewardedSoups.Learning;

/// <summary>
/// Writes what a training produced (weights, optimiser state, normalisers) as a safetensors file, after
/// checking that every floating value is finite: a checkpoint never holds NaN or ±∞, so a diverged
/// training cannot leave a file that a later soup, evaluation or resume would trust.
/// </summary>
public static class TrainedCheckpoint
{
    public static void Write(string path, IReadOnlyList<(TensorSpec Spec, byte[] Data)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        foreach ((TensorSpec spec, byte[] data) in tensors)
        {
            bool finite = spec.DType switch
            {
                DType.F32 => AllFinite(MemoryMarshal.Cast<byte, float>(data)),
                DType.F64 => AllFinite(MemoryMarshal.Cast<byte, double>(data)),
                _ => true,   // trainers write F32 and F64 (and integer counters)
            };
            if (!finite)
                throw new NumericalFailureException($"{path}: tensor '{spec.Name}' holds a NaN or infinite value; the checkpoint is not written");
        }
        SafetensorsWriter.WriteFile(path, tensors, metadata);
    }

    private static bool AllFinite<T>(ReadOnlySpan<T> values) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        foreach (T v in values)
            if (!T.IsFinite(v)) return false;
        return true;
    }
}
