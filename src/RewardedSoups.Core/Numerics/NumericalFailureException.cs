namespace RewardedSoups.Numerics;

/// <summary>
/// A computation gave numbers that cannot be right: a training diverged (a NaN or infinite loss or
/// gradient norm), a result about to be written holds NaN or ±∞, or this machine's kernels disagree with
/// a float64 reference. The message is one line naming the job step, or the file and field, at fault
/// ("training diverged: gradient norm NaN at pretrain step 118"). It is a failure of the computation,
/// not of the user's input: faces report it with exit status 1, and nothing that held the value is
/// written or marked done.
/// </summary>
public sealed class NumericalFailureException(string message) : Exception(message);
