using System.Runtime;
using RewardedSoups.Learning;
using static TorchSharp.torch;

namespace RewardedSoups.Tests;

/// <summary>The guard holds a process-wide no-GC region: these run after the parallel tests, by themselves.</summary>
[CollectionDefinition(nameof(ScalarGuardTests), DisableParallelization = true)]
public sealed class ScalarGuardTestsCollection;

/// <summary>
/// <see cref="ScalarGuard"/> must keep every collection, from any thread, out of a span (that is what keeps
/// TorchSharp's Scalar temporaries alive through their libtorch calls), end the region when the last span
/// closes, and count a region the runtime had to end early.
/// </summary>
[Collection(nameof(ScalarGuardTests))]
public sealed class ScalarGuardTests
{
    [Fact]
    public void Span_AnotherThreadAllocating_StartsNoCollection()
    {
        using var x = randn(32, 32);
        int before;
        using (ScalarGuard.Enter())
        {
            Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
            before = GC.CollectionCount(0);
            // 32 MiB of garbage from another thread while this one calls libtorch with TorchSharp's temporaries.
            var garbage = new Thread(() =>
            {
                for (int i = 0; i < 32 * 1024; i++) GC.KeepAlive(new byte[1024]);
            });
            garbage.Start();
            for (int i = 0; i < 2000; i++)
            {
                using Tensor y = x.square();
                using Tensor z = y + x;
            }
            garbage.Join();
            Assert.Equal(before, GC.CollectionCount(0));
        }
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }

    [Fact]
    public void Spans_Nested_RegionEndsWithTheLastOne_AndDoubleDisposeClosesOnce()
    {
        ScalarGuard.Span outer = ScalarGuard.Enter();
        ScalarGuard.Span inner = ScalarGuard.Enter();
        inner.Dispose();
        inner.Dispose();   // a second dispose must not close the outer span's region
        Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        outer.Dispose();
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }

    [Fact]
    public void Span_AllocatingBeyondTheBudget_IsCountedAsEndedEarly()
    {
        long endedBefore = ScalarGuard.EndedEarly;
        int collectionsBefore = GC.CollectionCount(0);
        using (ScalarGuard.Enter())
        {
            for (long allocated = 0; allocated < ScalarGuard.BudgetBytes + (32L << 20); allocated += 1024)
                GC.KeepAlive(new byte[1024]);
        }
        Assert.True(GC.CollectionCount(0) > collectionsBefore, "allocating beyond the budget must have collected");
        Assert.Equal(endedBefore + 1, ScalarGuard.EndedEarly);
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        using (ScalarGuard.Enter())   // and the next span gets a region again
            Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }
}
