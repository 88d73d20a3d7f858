using System.Diagnostics;
using System.Globalization;
using RewardedSoups.Learning;
using System.Runtime.InteropServices;
using TorchSharp;

namespace RewardedSoups.Bench;

/// <summary>
/// The race <see cref="ScalarGuard"/> closes, reproduced: <c>x.square() + x</c> (two TorchSharp Scalar temporaries
/// per iteration, made inside TorchSharp) in a loop on one thread while another thread allocates garbage, so
/// collections start during libtorch calls. Alternating, SECONDS each: unguarded, then in spans of 1,000
/// iterations under <see cref="ScalarGuard"/>. Reported: libtorch errors per million calls in each mode (the
/// guard's goal: none), the guard's cost as a ratio of call rates, and the regions the runtime ended early.
/// Usage: dotnet run -c Release --project bench/RewardedSoups.Bench -- scalar-stress [--seconds 20] [--runs 2]
/// </summary>
public static class ScalarStress
{
    public static int Run(string[] args)
    {
        double seconds = double.Parse(Program.Option(args, "--seconds", "20"), CultureInfo.InvariantCulture);
        int runs = int.Parse(Program.Option(args, "--runs", "2"), CultureInfo.InvariantCulture);
        torch.set_num_threads(1);
        using var x = torch.randn(64, 64);
        var stop = new CancellationTokenSource();
        var allocator = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) GC.KeepAlive(new byte[1024]);
        })
        { IsBackground = true, Name = "garbage" };
        allocator.Start();
        long[] calls = new long[2], errors = new long[2];
        double[] time = new double[2];
        for (int r = 0; r < runs; r++)
        {
            for (int mode = 0; mode < 2; mode++)
            {
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed.TotalSeconds < seconds)
                {
                    using ScalarGuard.Span? guard = mode == 1 ? ScalarGuard.Enter() : null;
                    for (int i = 0; i < 1000; i++)
                    {
                        try
                        {
                            using var y = x.square();
                            using var z = y + x;
                        }
                        catch (ExternalException) { errors[mode]++; }
                        calls[mode]++;
                    }
                }
                time[mode] += clock.Elapsed.TotalSeconds;
                Console.Error.WriteLine($"run {r + 1}, {(mode == 0 ? "unguarded" : "guarded")}: {calls[mode]} calls, {errors[mode]} errors so far");
            }
        }
        stop.Cancel();
        allocator.Join();
        double PerMillion(int m) => errors[m] * 1e6 / calls[m];
        Console.WriteLine();
        Console.WriteLine("| mode | calls | libtorch errors | per million calls | calls/s |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| unguarded | {calls[0]:N0} | {errors[0]} | {PerMillion(0):F1} | {calls[0] / time[0]:F0} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| ScalarGuard (spans of 1,000) | {calls[1]:N0} | {errors[1]} | {PerMillion(1):F1} | {calls[1] / time[1]:F0} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"guarded / unguarded call rate {calls[1] / time[1] / (calls[0] / time[0]):F2} (spans here are ~2 ms; a training update is ~500 ms); regions ended early: {ScalarGuard.EndedEarly}"));
        return errors[1] == 0 ? 0 : 1;
    }
}
