using System.Runtime.InteropServices;
using RewardedSoups.Checkpoints;
using static TorchSharp.torch;

namespace RewardedSoups.Learning;

/// <summary>A module's state dict to and from checkpoint tensors (F32, PyTorch key names).</summary>
public static class ModuleTensors
{
    /// <summary>Every entry of the state dict, as float32 tensors named by their state-dict key.</summary>
    public static List<(TensorSpec Spec, byte[] Data)> Export(nn.Module module)
    {
        var list = new List<(TensorSpec, byte[])>();
        foreach ((string name, Tensor tensor) in module.state_dict())
        {
            using Tensor cpu = tensor.detach().cpu().to(float32).contiguous();
            list.Add((new TensorSpec(name, DType.F32, cpu.shape), cpu.bytes.ToArray()));
        }
        return list;
    }

    /// <summary>
    /// Copies tensors of <paramref name="checkpoint"/> into the module's state dict; every key must be
    /// present with the same shape, else a one-line error names the tensor and the file.
    /// </summary>
    public static void Import(nn.Module module, Checkpoint checkpoint)
    {
        using var noGrad = no_grad();
        foreach ((string name, Tensor target) in module.state_dict())
        {
            if (!checkpoint.TryGet(name, out CheckpointTensor source))
                throw new SoupInputException($"{checkpoint.Path}: no tensor '{name}' (is this a policy checkpoint of this task?)");
            if (!source.Shape.AsSpan().SequenceEqual(target.shape))
                throw new SoupInputException($"{checkpoint.Path}: tensor '{name}' has shape {source.Info.ShapeText} but the policy needs {TensorInfo.FormatShape(target.shape)}");
            float[] values = ReadFloats(source);
            target.copy_(tensor(values, target.shape));
        }
    }

    /// <summary>A floating tensor of a checkpoint as float32 values.</summary>
    public static float[] ReadFloats(CheckpointTensor source) => source.File.ReadSingles(source.Info);

    /// <summary>A floating tensor of a checkpoint as float64 values.</summary>
    public static double[] ReadDoubles(CheckpointTensor source) => source.File.ReadDoubles(source.Info);

    public static byte[] Bytes(double[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
