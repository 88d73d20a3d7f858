using System.Globalization;
using RewardedSoups.Checkpoints;
using RewardedSoups.Learning;
using RewardedSoups.Soup;
using static TorchSharp.torch;

namespace RewardedSoups.Tasks.Image;

/// <summary>
/// A diffusion model as one safetensors file: the U-Net's state dict under its PyTorch names (F32)
/// and metadata. The architecture (<c>rs.channels</c>) and the trainable subset are metadata that
/// experts of one experiment share, so <c>soup merge</c> keeps them and a soup loads as a model;
/// reward, seed and cost differ per expert and are dropped from a soup, as for policies.
/// </summary>
public static class ImageModel
{
    public const string Kind = "image-diffusion";
    public const string FileName = "model.safetensors";

    public static Dictionary<string, string> Metadata(DiffusionUNet model) => new()
    {
        ["format"] = "pt",
        ["rs.kind"] = Kind,
        ["rs.task"] = ImageTask.Name,
        ["rs.channels"] = model.Channels.ToString(CultureInfo.InvariantCulture),
        ["rs.timesteps"] = Diffusion.Timesteps.ToString(CultureInfo.InvariantCulture),
        ["rs.schedule"] = "cosine",
        ["rs.prediction"] = "epsilon",
    };

    public static void Save(string path, DiffusionUNet model, IReadOnlyDictionary<string, string>? extra = null)
    {
        Dictionary<string, string> metadata = Metadata(model);
        if (extra is not null)
            foreach ((string key, string value) in extra) metadata[key] = value;
        TrainedCheckpoint.Write(path, ModuleTensors.Export(model), metadata);
    }

    /// <summary>Loads a model file (or a folder with <c>model.safetensors</c>, or a soup of models); a wrong file is a one-line error.</summary>
    public static DiffusionUNet Load(string path)
    {
        using Checkpoint checkpoint = Checkpoint.Open(path);
        return Load(checkpoint);
    }

    public static DiffusionUNet Load(Checkpoint checkpoint)
    {
        IReadOnlyDictionary<string, string> m = checkpoint.Metadata;
        if (m.GetValueOrDefault("rs.kind") != Kind)
            throw new SoupInputException($"{checkpoint.Path}: not an image diffusion model (metadata rs.kind = '{m.GetValueOrDefault("rs.kind")}')");
        if (!int.TryParse(m.GetValueOrDefault("rs.channels"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int channels) || channels < 4 || channels % 4 != 0)
            throw new SoupInputException($"{checkpoint.Path}: metadata 'rs.channels' = '{m.GetValueOrDefault("rs.channels")}' is not a positive multiple of 4");
        var model = TorchRandom.Shared(() => new DiffusionUNet(channels));
        ModuleTensors.Import(model, checkpoint);
        model.eval();
        return model;
    }

    /// <summary>
    /// A soup of <paramref name="models"/> in memory, parameter by parameter, into a new model: what the app
    /// serves live without writing a file. <paramref name="merge"/> is any merge method (task-vector methods
    /// with the init as <paramref name="baseModel"/>); the weights equal <c>soup merge</c>'s of the same files.
    /// </summary>
    public static DiffusionUNet Soup(IReadOnlyList<DiffusionUNet> models, MemoryMerge merge, DiffusionUNet? baseModel = null)
    {
        if (models.Count == 0) throw new SoupInputException("a soup needs at least one model");
        int channels = models[0].Channels;
        foreach (DiffusionUNet m in models.Append(baseModel ?? models[0]))
            if (m.Channels != channels) throw new SoupInputException($"models of {channels} and {m.Channels} channels cannot be mixed");
        var soup = TorchRandom.Shared(() => new DiffusionUNet(channels));
        using var noGrad = no_grad();
        var sources = models.Select(m => m.state_dict()).ToArray();
        Dictionary<string, Tensor>? baseWeights = baseModel?.state_dict();
        foreach ((string name, Tensor target) in soup.state_dict())
        {
            float[][] inputs = sources.Select(s => s[name].data<float>().ToArray()).ToArray();
            var merged = new float[target.numel()];
            merge.Tensor(name, inputs, baseWeights?[name].data<float>().ToArray(), merged);
            using Tensor values = tensor(merged).reshape(target.shape);
            target.copy_(values);
        }
        soup.eval();
        return soup;
    }
}
