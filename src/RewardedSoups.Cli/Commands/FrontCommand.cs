using System.CommandLine;

namespace RewardedSoups.Cli.Commands;

/// <summary>Placeholder replaced when the Pareto module lands (same session).</summary>
public static class FrontCommand
{
    public static Command Create(CommandContext context) => new("front", "Pareto front, hypervolume and expected utility of a set of points.");
}
