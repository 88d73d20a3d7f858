using System.Runtime;

namespace RewardedSoups.Learning;

/// <summary>
/// Keeps TorchSharp's own Scalar temporaries alive through a stretch of libtorch calls (one training update,
/// one optimiser step, one evaluation) by holding the process in a no-GC region for that stretch.
/// </summary>
/// <remarks>
/// TorchSharp makes Scalars inside its own methods and drops them before the native call returns:
/// <c>a + b</c> is <c>a.add(b, 1)</c>, <c>x.square()</c> is <c>x.pow(2)</c>, <c>x * 0.5</c> converts inside the
/// operator. A garbage collection started by another thread while libtorch reads such a Scalar finalizes it
/// and frees its native memory: the call fails with "Unknown scalar type" (a humanoid training job, 2026-12-02,
/// update 29), "Expected false to be true", or reads a wrong value. Our own code cannot hold those Scalars (the
/// rule SOUP001 covers the ones it makes), so the guard removes the other half of the race: inside it no
/// collection can start, from any thread, until the span ends; the temporaries are collected after their
/// calls have returned. A stress run (bench <c>stress --alloc</c>: <c>x.square() + x</c> in a loop while another
/// thread allocates) fails about once in 70,000 calls without the guard and never with it.
/// <para>
/// Spans nest and overlap across threads: the region starts when the first span opens and ends when the last
/// one closes. Starting a region runs one blocking collection (about a millisecond for a job's small managed
/// heap; spans are one update or one step long, so this stays well under 1% of the work). If the span
/// allocates more than <see cref="BudgetBytes"/> of managed memory, or spans on several threads keep the region
/// open that long, the runtime ends the region early; that is counted in <see cref="EndedEarly"/> and the rest
/// of that span is unprotected (a hit still fails loudly, as before). Job processes run one trainer and stay
/// far below the budget (a humanoid PPO update allocates about 3 MiB of managed objects).
/// </para>
/// </remarks>
public static class ScalarGuard
{
    /// <summary>Managed bytes a region allows before the runtime ends it.</summary>
    public const long BudgetBytes = 192L << 20;

    private static readonly Lock Gate = new();
    private static int _open;
    private static bool _region;
    private static long _endedEarly;

    /// <summary>Regions the runtime ended before their last span closed (budget exceeded, or a collection was forced).</summary>
    public static long EndedEarly => Interlocked.Read(ref _endedEarly);

    /// <summary>Opens a span; dispose it when the stretch of libtorch calls is over.</summary>
    public static Span Enter()
    {
        lock (Gate)
        {
            if (_open++ == 0 && GCSettings.LatencyMode != GCLatencyMode.NoGCRegion)
            {
                try { _region = GC.TryStartNoGCRegion(BudgetBytes); }
                catch (InvalidOperationException) { _region = false; }   // another component holds a region
            }
        }
        return new Span();
    }

    private static void Exit()
    {
        lock (Gate)
        {
            if (--_open > 0 || !_region) return;
            _region = false;
            if (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion)
            {
                Interlocked.Increment(ref _endedEarly);
                return;
            }
            try { GC.EndNoGCRegion(); }
            catch (InvalidOperationException) { Interlocked.Increment(ref _endedEarly); }
        }
    }

    /// <summary>An open span of <see cref="ScalarGuard"/>; disposing it twice closes it once.</summary>
    public sealed class Span : IDisposable
    {
        private bool _open = true;

        internal Span() { }

        public void Dispose()
        {
            if (!_open) return;
            _open = false;
            Exit();
        }
    }
}
