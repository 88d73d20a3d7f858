using System.Globalization;
using System.Text.Json;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Text;

/// <summary>
/// A language-model training's resumable state in one safetensors file: every parameter (state-dict
/// names), AdamW's moments and step per parameter (<c>optim.NAME.exp_avg</c>, <c>.exp_avg_sq</c>,
/// <c>.step</c>), and in the metadata the step reached, the logs so far and the settings (a checkpoint
/// of other settings is refused, not continued).
/// </summary>
internal static class LmTrainingState
{
    private const string Kind = "lm-training";

    public static void Write(string path, AdamW optimizer, IReadOnlyList<(string Name, Parameter P)> parameters, int step, IReadOnlyList<LmTrainLog> logs, LmTrainSettings s)
    {
        var tensors = new List<(TensorSpec Spec, byte[] Data)>();
        var states = optimizer.state_dict().State;
        for (int i = 0; i < parameters.Count; i++)
        {
            (string name, Parameter p) = parameters[i];
            var adam = (AdamW.State)states[i];
            tensors.Add(Export(name, p));
            tensors.Add(Export($"optim.{name}.exp_avg", adam.exp_avg));
            tensors.Add(Export($"optim.{name}.exp_avg_sq", adam.exp_avg_sq));
            tensors.Add((new TensorSpec($"optim.{name}.step", DType.I64, []), BitConverter.GetBytes(adam.step)));
        }
        TrainedCheckpoint.Write(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["rs.kind"] = Kind,
            ["rs.step"] = step.ToString(CultureInfo.InvariantCulture),
            ["rs.settings"] = JsonSerializer.Serialize(s),
            ["rs.logs"] = JsonSerializer.Serialize(logs),
        });
    }

    /// <summary>Restores the weights and the optimiser; returns the step reached and the logs written up to it.</summary>
    public static (int Step, List<LmTrainLog> Logs) Restore(string path, AdamW optimizer, IReadOnlyList<(string Name, Parameter P)> parameters, LmTrainSettings s)
    {
        using Checkpoint c = Checkpoint.Open(path);
        string Meta(string key) => c.Metadata.TryGetValue(key, out string? v) ? v : throw new SoupInputException($"{path}: no '{key}' in its metadata; not a language-model training checkpoint");
        if (Meta("rs.kind") != Kind) throw new SoupInputException($"{path}: a '{Meta("rs.kind")}' checkpoint, not a language-model training's");
        if (Meta("rs.settings") != JsonSerializer.Serialize(s))
            throw new SoupInputException($"{path}: the checkpoint was written by a training with other settings ({Meta("rs.settings")}); delete it to start again");
        int step = int.Parse(Meta("rs.step"), CultureInfo.InvariantCulture);
        List<LmTrainLog> logs = JsonSerializer.Deserialize<List<LmTrainLog>>(Meta("rs.logs")) ?? [];
        var states = optimizer.state_dict().State;
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            (string name, Parameter p) = parameters[i];
            var adam = (AdamW.State)states[i];
            Copy(c, name, p);
            Copy(c, $"optim.{name}.exp_avg", adam.exp_avg);
            Copy(c, $"optim.{name}.exp_avg_sq", adam.exp_avg_sq);
            adam.step = BitConverter.ToInt64(CheckpointTensors.ReadAll(c, $"optim.{name}.step", What));
        }
        return (step, logs);
    }

    private const string What = "a checkpoint of this language-model training";

    private static void Copy(Checkpoint c, string name, Tensor target) => CheckpointTensors.Copy(c, name, target, What);

    private static (TensorSpec, byte[]) Export(string name, Tensor t) => CheckpointTensors.Export(name, t);
}

/// <summary>Tensors of a training checkpoint: float32 export, and reading back with one-line errors naming the tensor and the file.</summary>
internal static class CheckpointTensors
{
    public static CheckpointTensor Get(Checkpoint c, string name, string what) =>
        c.TryGet(name, out CheckpointTensor t) ? t : throw new SoupInputException($"{c.Path}: no tensor '{name}'; not {what}");

    public static byte[] ReadAll(Checkpoint c, string name, string what)
    {
        CheckpointTensor t = Get(c, name, what);
        return t.File.ReadAll(t.Info);
    }

    public static void Copy(Checkpoint c, string name, Tensor target, string what)
    {
        CheckpointTensor source = Get(c, name, what);
        if (!source.Shape.AsSpan().SequenceEqual(target.shape))
            throw new SoupInputException($"{c.Path}: tensor '{name}' has shape {source.Info.ShapeText} but the run needs {TensorInfo.FormatShape(target.shape)}");
        target.copy_(tensor(ModuleTensors.ReadFloats(source), target.shape));
    }

    public static (TensorSpec, byte[]) Export(string name, Tensor t)
    {
        using Tensor cpu = t.detach().cpu().to(float32).contiguous();
        return (new TensorSpec(name, DType.F32, cpu.shape), cpu.bytes.ToArray());
    }
}
