using RewardedSoups.App;

namespace RewardedSoups.Tests;

/// <summary>Shutting the compute queue down: what runs is waited for, what waits is cancelled, nothing more is taken.</summary>
public sealed class ComputeQueueTests
{
    [Fact]
    public async Task Dispose_WaitsForTheRunningComputation_CancelsTheWaitingOne_RefusesNewOnes()
    {
        var queue = new ComputeQueue(slots: 1, maxWaiting: 4);
        using var started = new ManualResetEventSlim();
        bool finished = false;
        Task<int> running = queue.TryRun(_ =>
        {
            started.Set();
            Thread.Sleep(300);
            finished = true;
            return 1;
        }, CancellationToken.None)!;
        Task<int> waiting = queue.TryRun(_ => 2, CancellationToken.None)!;
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)));

        queue.Dispose();

        Assert.True(finished, "Dispose returned while a computation was still running");
        Assert.Equal(1, await running);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Null(queue.TryRun(_ => 3, CancellationToken.None));
        queue.Dispose();   // a second time: nothing to do
    }
}
