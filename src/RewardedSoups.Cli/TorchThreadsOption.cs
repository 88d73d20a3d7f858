using System.CommandLine;

namespace RewardedSoups.Cli;

/// <summary>
/// <c>--threads N</c> of the commands that run libtorch in this process (train, eval): default 1, the count a
/// run's jobs use unless told otherwise, because the thread count changes rounding and so the numbers.
/// </summary>
public static class TorchThreadsOption
{
    public static Option<int> Create(string description) => new("--threads") { Description = description, DefaultValueFactory = _ => 1 };

    /// <summary>Checks the parsed count (≥ 1, else a one-line error) and gives libtorch that many threads.</summary>
    public static void Apply(ParseResult parsed, Option<int> option)
    {
        int threads = parsed.GetValue(option);
        if (threads < 1) throw new SoupInputException($"--threads must be ≥ 1, got {threads}");
        TorchSharp.torch.set_num_threads(threads);
    }
}
