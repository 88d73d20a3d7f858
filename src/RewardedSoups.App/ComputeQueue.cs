using System.Collections.Concurrent;
using System.Diagnostics;

namespace RewardedSoups.App;

/// <summary>
/// The app's live computations (soups for a new λ), for all runs served: at most <see cref="Slots"/>
/// run at once, at most <see cref="MaxWaiting"/> more wait in arrival order, and one more is refused
/// (the caller answers 503) rather than letting the wait grow without bound. A waiting computation
/// whose abandon token is cancelled (nobody waits for it any more) leaves the queue at once and is
/// never started; a running one gets the token, to stop if its work can. Computations run on
/// <see cref="Slots"/> threads of the queue's own, not the thread pool's: each blocks for its whole
/// length, and on a small machine the pool's few threads must stay free to answer meanwhile (503s
/// included); long-lived, so that libtorch's per-thread set-up is done once.
/// </summary>
public sealed class ComputeQueue : IDisposable
{
    /// <summary>Computations at once: the machine's cores are shared by rollouts, libtorch and the server.</summary>
    public const int DefaultSlots = 2;

    private readonly object _lock = new();
    private readonly LinkedList<Job> _waiting = new();
    private readonly BlockingCollection<Job> _ready = new();
    private readonly List<Thread> _threads = [];
    private bool _closed;
    private int _running;
    private long _started, _abandoned, _rejected;
    private double _meanSeconds = 0.1;

    public ComputeQueue(int slots, int maxWaiting)
    {
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), slots, "at least one computation must be able to run");
        if (maxWaiting < 0) throw new ArgumentOutOfRangeException(nameof(maxWaiting), maxWaiting, "cannot be negative");
        Slots = slots;
        MaxWaiting = maxWaiting;
        for (int i = 0; i < slots; i++)
        {
            var thread = new Thread(Work) { IsBackground = true, Name = $"soup compute {i + 1}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    /// <summary>The default bound on waiting computations: two per core.</summary>
    public static int DefaultMaxWaiting => 2 * Environment.ProcessorCount;

    public int Slots { get; }

    public int MaxWaiting { get; }

    public int Waiting
    {
        get { lock (_lock) return _waiting.Count; }
    }

    public int Running
    {
        get { lock (_lock) return _running; }
    }

    /// <summary>Computations started so far.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Computations that left the queue unstarted because nobody waited for them any more.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    /// <summary>Computations refused because the queue was full.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>
    /// A client's wait before retrying, in whole seconds (at least 1): the work ahead of it, spread over
    /// the slots, at the mean duration of recent computations.
    /// </summary>
    public int RetryAfterSeconds
    {
        get
        {
            lock (_lock) return (int)Math.Clamp(Math.Ceiling((_waiting.Count + _running) * _meanSeconds / Slots), 1, 3600);
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on one of the queue's threads when a slot is free; null when
    /// <see cref="MaxWaiting"/> computations already wait. The task is cancelled, and the work never
    /// started, if <paramref name="abandon"/> is cancelled while it waits; once started, the work is
    /// given <paramref name="abandon"/>.
    /// </summary>
    public Task<T>? TryRun<T>(Func<CancellationToken, T> work, CancellationToken abandon)
    {
        var job = new Job<T>(work, abandon);
        lock (_lock)
        {
            if (_closed)
            {
                _rejected++;
                return null;
            }
            if (_running < Slots && _waiting.Count == 0)
            {
                _running++;
            }
            else if (_waiting.Count < MaxWaiting)
            {
                job.Node = _waiting.AddLast(job);
            }
            else
            {
                _rejected++;
                return null;
            }
        }
        if (job.Node is null) Start(job);
        // Registered after the lock: a token already cancelled runs the callback here, which takes it.
        else job.Registration = abandon.Register(() => Abandon(job));
        return job.Result.Task;
    }

    private void Abandon(Job job)
    {
        lock (_lock)
        {
            if (job.Node is null || job.Node.List is null) return; // started meanwhile
            _waiting.Remove(job.Node);
            _abandoned++;
        }
        job.Cancel();
    }

    /// <summary>Hands a job to a free thread (one is free: a slot was taken for it).</summary>
    private void Start(Job job)
    {
        Interlocked.Increment(ref _started);
        job.Registration.Dispose();
        _ready.Add(job);
    }

    private void Work()
    {
        foreach (Job job in _ready.GetConsumingEnumerable())
        {
            long begin = Stopwatch.GetTimestamp();
            try
            {
                job.Run();
            }
            finally
            {
                Finished(Stopwatch.GetElapsedTime(begin).TotalSeconds);
            }
        }
    }

    /// <summary>A slot is free: the next waiting computation starts in it.</summary>
    private void Finished(double seconds)
    {
        Job? next = null;
        var skipped = new List<Job>();
        lock (_lock)
        {
            _meanSeconds = 0.8 * _meanSeconds + 0.2 * seconds;
            while (next is null && _waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                // Abandoned a moment ago, its callback not run yet: skipped like the others.
                if (first.Value.Abandoned)
                {
                    _abandoned++;
                    skipped.Add(first.Value);
                }
                else
                {
                    next = first.Value;
                }
            }
            if (next is null) _running--;
        }
        foreach (Job job in skipped) job.Cancel();
        if (next is not null) Start(next);
    }

    private abstract class Job
    {
        public LinkedListNode<Job>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public abstract bool Abandoned { get; }

        public abstract void Run();

        public abstract void Cancel();
    }

    private sealed class Job<T>(Func<CancellationToken, T> work, CancellationToken abandon) : Job
    {
        /// <summary>Continuations run on the pool, never inside the queue's bookkeeping.</summary>
        public TaskCompletionSource<T> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool Abandoned => abandon.IsCancellationRequested;

        public override void Run()
        {
            try
            {
                Result.TrySetResult(work(abandon));
            }
            catch (OperationCanceledException) when (abandon.IsCancellationRequested)
            {
                Result.TrySetCanceled(abandon);
            }
            catch (Exception e)
            {
                Result.TrySetException(e);
            }
        }

        public override void Cancel() => Result.TrySetCanceled(abandon);
    }

    /// <summary>
    /// Stops the queue: nothing more is accepted, the computations still waiting are cancelled unstarted, and the ones
    /// running are waited for (up to <see cref="ShutdownWait"/> each), so that whoever disposes what they use next (the
    /// app's showcases and their models, a test's run folder) does not pull it from under a running computation.
    /// </summary>
    public void Dispose()
    {
        var cancelled = new List<Job>();
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            while (_waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                cancelled.Add(first.Value);
            }
        }
        foreach (Job job in cancelled) job.Cancel();
        _ready.CompleteAdding();
        foreach (Thread thread in _threads)
            if (thread != Thread.CurrentThread) thread.Join(ShutdownWait);
    }

    /// <summary>How long <see cref="Dispose"/> waits for each running computation to end.</summary>
    public static readonly TimeSpan ShutdownWait = TimeSpan.FromSeconds(60);
}
