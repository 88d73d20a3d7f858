using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using RewardedSoups.Runner;
using RewardedSoups.Tasks;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>Scheduling a plan's jobs: dependency order, the parallelism limit, the first failure, resuming, and the run folder's configuration.</summary>
public sealed class ExperimentRunnerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// A launch that finishes each job as a job process would (marker written, exit 0) after a short wait,
    /// unless <see cref="Exit"/> says otherwise; it records what was launched, with how many threads, and
    /// how many launched jobs were unfinished at once.
    /// </summary>
    private sealed class FakeLaunch(ExperimentPlan plan)
    {
        private int _running;

        public ConcurrentQueue<string> Launched { get; } = new();

        public ConcurrentDictionary<string, int> Threads { get; } = new();

        public int MostAtOnce { get; private set; }

        /// <summary>A job's exit status (0: finished); the default finishes every job.</summary>
        public Func<Job, int> Exit { get; init; } = _ => 0;

        public int DelayMs { get; init; } = 20;

        public Task<int> Launch(Job job, int threads, CancellationToken cancel)
        {
            Launched.Enqueue(job.Id);
            Threads[job.Id] = threads;
            // Counted when launched, uncounted before the task completes: the runner's own view of what runs.
            lock (Launched) MostAtOnce = Math.Max(MostAtOnce, ++_running);
            return Task.Run(async () =>
            {
                await Task.Delay(DelayMs, CancellationToken.None);
                int exit = Exit(job);
                if (exit == 0) PlanFixtures.Finish(plan, job);
                lock (Launched) _running--;
                return exit;
            }, CancellationToken.None);
        }
    }

    private static int Run(ExperimentPlan plan, Func<Job, int, CancellationToken, Task<int>> launch, int parallelism, CancellationToken cancel = default) =>
        ExperimentRunner.Run(plan, launch, parallelism, _ => { }, cancel);

    [Fact]
    public void Run_JobsInProcess_EveryJobDoneEachAfterItsDependencies()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var tasks = new TaskCatalogue([new FakeFamily()]);
        var finished = new ConcurrentDictionary<string, bool>();
        var early = new ConcurrentQueue<string>();
        int ran = Run(plan, (job, _, _) =>
        {
            if (!job.DependsOn.All(finished.ContainsKey)) early.Enqueue(job.Id);
            return Task.Run(() =>
            {
                JobRunner.Run(plan, job, tasks);
                finished[job.Id] = true;
                return 0;
            });
        }, parallelism: 2);
        Assert.Equal(14, ran);
        Assert.Empty(early);
        Assert.All(plan.Jobs, j => Assert.True(plan.IsDone(j), j.Id));
        Assert.All(plan.Jobs.Where(j => j.Kind == JobKind.Eval), j => Assert.True(File.Exists(Path.Combine(plan.JobDir(j), JobRunner.EvalFileName)), j.Id));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Run_ManyJobsReady_AtMostParallelismAtOnce(int parallelism)
    {
        // After the init, four jobs are ready at once (2 experts, the MORL policy, the init's evaluation).
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var launch = new FakeLaunch(plan);
        Assert.Equal(14, Run(plan, launch.Launch, parallelism));
        Assert.Equal(parallelism, launch.MostAtOnce);
        Assert.Equal(14, launch.Launched.Distinct().Count());
    }

    [Fact]
    public void Run_InitGivenEverySlot_EveryOtherJobOne_EvenTheLastAlone()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var launch = new FakeLaunch(plan);
        Run(plan, launch.Launch, parallelism: 4);
        Assert.Equal(4, launch.Threads["s1-init"]);
        // The init done, four jobs are ready for four slots.
        Assert.Equal(1, launch.Threads["s1-expert-1"]);
        // The last job runs alone, yet gets one thread as when it ran beside others: its numbers must not depend on timing.
        Assert.All(launch.Threads.Where(t => t.Key != "s1-init"), t => Assert.Equal(1, t.Value));
    }

    [Fact]
    public void Run_JobFails_NothingMoreLaunched_ErrorNamesTheJobAndItsLastError()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        Job expert = plan.Get("s1-expert-1");
        var launch = new FakeLaunch(plan)
        {
            Exit = job =>
            {
                if (job != expert) return 0;
                Directory.CreateDirectory(plan.JobDir(job));
                File.WriteAllLines(Path.Combine(plan.JobDir(job), ExperimentRunner.JobLog), ["starting", "error: out of memory", "exiting"]);
                return 3;
            },
        };
        var e = Assert.Throws<JobFailedException>(() => Run(plan, launch.Launch, parallelism: 1));
        Assert.Contains("job 's1-expert-1' failed (exit status 3): out of memory", e.Message);
        Assert.Contains(Path.Combine(plan.JobDir(expert), ExperimentRunner.JobLog), e.Message);
        Assert.Equal(["s1-init", "s1-expert-1"], launch.Launched);
    }

    [Fact]
    public void Run_JobFailsBesideAnother_TheOtherFinishesNothingNewStarts()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var failing = new FakeLaunch(plan) { Exit = job => job.Id == "s1-expert-1" ? 1 : 0, DelayMs = 0 };
        var slow = new FakeLaunch(plan) { DelayMs = 200 };
        // Expert 1 fails at once while expert 2, launched beside it, is still running.
        Task<int> Launch(Job job, int threads, CancellationToken cancel) =>
            job.Id is "s1-init" or "s1-expert-1" ? failing.Launch(job, threads, cancel) : slow.Launch(job, threads, cancel);
        var e = Assert.Throws<JobFailedException>(() => Run(plan, Launch, parallelism: 2));
        Assert.Contains("'s1-expert-1'", e.Message);
        Assert.Equal(["s1-expert-2"], slow.Launched);
        Assert.True(plan.IsDone(plan.Get("s1-expert-2")));
    }

    [Fact]
    public void Run_ExitZeroWithoutMarker_Failed()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var e = Assert.Throws<JobFailedException>(() => Run(plan, (_, _, _) => Task.FromResult(0), parallelism: 2));
        Assert.Contains("job 's1-init' failed (exit status 0)", e.Message);
    }

    [Fact]
    public void Run_LaunchFails_ErrorSaysTheJobCouldNotStart()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var e = Assert.Throws<JobFailedException>(() => Run(plan, (_, _, _) => Task.FromException<int>(new InvalidOperationException("no dotnet on PATH")), parallelism: 2));
        Assert.Contains("job 's1-init' could not be started: no dotnet on PATH", e.Message);
    }

    [Fact]
    public void Run_Again_FinishedJobsSkipped()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        Assert.Equal(14, Run(plan, new FakeLaunch(plan).Launch, parallelism: 2));
        var again = new FakeLaunch(plan);
        Assert.Equal(0, Run(plan, again.Launch, parallelism: 2));
        Assert.Empty(again.Launched);
    }

    [Fact]
    public void Run_AfterAFailure_ResumesWithTheJobsNotDone()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        Assert.Throws<JobFailedException>(() => Run(plan, new FakeLaunch(plan) { Exit = job => job.Id == "s1-morl-1" ? 1 : 0 }.Launch, parallelism: 1));
        string[] doneBefore = plan.Jobs.Where(plan.IsDone).Select(j => j.Id).ToArray();
        var resume = new FakeLaunch(plan);
        Assert.Equal(14 - doneBefore.Length, Run(plan, resume.Launch, parallelism: 1));
        Assert.Equal(plan.Jobs.Select(j => j.Id).Except(doneBefore).Order(), resume.Launched.Order());
    }

    [Fact]
    public void Run_EvaluationChanged_OnlyEvaluationsRunAgain()
    {
        ExperimentPlan before = PlanFixtures.Plan(_dir);
        Run(before, new FakeLaunch(before).Launch, parallelism: 2);
        ExperimentPlan after = PlanFixtures.Plan(_dir, PlanFixtures.Small + "\nevaluation: {episodes: 3}");
        var launch = new FakeLaunch(after);
        Assert.Equal(7, Run(after, launch.Launch, parallelism: 2));
        Assert.Equal(after.Jobs.Where(j => j.Kind == JobKind.Eval).Select(j => j.Id).Order(), launch.Launched.Order());
    }

    [Fact]
    public void Run_Cancelled_NothingLaunched()
    {
        ExperimentPlan plan = PlanFixtures.Plan(_dir);
        var launch = new FakeLaunch(plan);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Run(plan, launch.Launch, parallelism: 2, cancel.Token));
        Assert.Empty(launch.Launched);
    }

    [Fact]
    public void Prepare_NewFolder_ReopenedWithTheSameJobsAndKeys()
    {
        ExperimentConfig config = PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small + "\nrepeats: 2\nfake: {modes: 2}"));
        string run = _dir.File("run");
        ExperimentPlan prepared = ExperimentRunner.Prepare(config, run);
        Assert.True(File.Exists(Path.Combine(run, ExperimentPlan.ResolvedConfigFile)));
        ExperimentPlan reopened = ExperimentRunner.Open(run, FakeFamily.Catalogue);
        Assert.Equal(prepared.Jobs.Select(j => (j.Id, j.Key)), reopened.Jobs.Select(j => (j.Id, j.Key)));
        // Preparing the same configuration again is resuming it.
        Assert.Equal(prepared.Jobs.Select(j => j.Key), ExperimentRunner.Prepare(config, run).Jobs.Select(j => j.Key));
    }

    [Fact]
    public void Prepare_FolderOfAnotherConfiguration_Refused()
    {
        string run = _dir.File("run");
        ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small)), run);
        string before = File.ReadAllText(Path.Combine(run, ExperimentPlan.ResolvedConfigFile));
        var e = Assert.Throws<SoupInputException>(() => ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small + "\nevaluation: {episodes: 3}")), run));
        Assert.Contains("holds a run of another configuration", e.Message);
        Assert.Equal(before, File.ReadAllText(Path.Combine(run, ExperimentPlan.ResolvedConfigFile)));
    }

    [Fact]
    public void Reuse_OtherRunFolder_CopiesTheJobsWithTheSameIdAndKeyOnly()
    {
        ExperimentPlan first = ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small)), _dir.File("first"));
        foreach (Job job in first.Jobs)
        {
            PlanFixtures.Finish(first, job);
            File.WriteAllText(Path.Combine(first.JobDir(job), "out.txt"), job.Id);
        }
        File.CreateSymbolicLink(Path.Combine(first.JobDir(first.Jobs[0]), "link"), "/etc/hostname");
        // Another λ grid: the trainings and their evaluations are the same jobs, most soups are not.
        ExperimentPlan second = ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml("soups: {step: 0.25}\nmorl: {preferences: [0.5]}")), _dir.File("second"));
        List<Job> same = [.. second.Jobs.Where(j => first.Jobs.Any(f => f.Id == j.Id && f.Key == j.Key))];

        Assert.Equal(same.Count, ExperimentRunner.Reuse(second, first.RunDir));
        Assert.InRange(same.Count, 1, second.Jobs.Count - 1);
        Assert.Contains(same, j => j.Kind == JobKind.Train);
        Assert.All(second.Jobs, j => Assert.Equal(same.Contains(j), second.IsDone(j)));
        Assert.All(same, j => Assert.Equal(j.Id, File.ReadAllText(Path.Combine(second.JobDir(j), "out.txt"))));
        Assert.False(File.Exists(Path.Combine(second.JobDir(first.Jobs[0]), "link")));   // a symbolic link is not followed
        Assert.Empty(Directory.GetDirectories(Path.Combine(second.RunDir, "jobs"), ".reuse-*"));
        Assert.Equal(0, ExperimentRunner.Reuse(second, first.RunDir));                    // nothing left to copy
    }

    [Fact]
    public void Reuse_NotARunFolderOrItself_OneLineError()
    {
        ExperimentPlan plan = ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small)), _dir.File("run"));
        Assert.Equal($"--reuse: {_dir.Path}: not a run folder (no jobs/)", Assert.Throws<SoupInputException>(() => ExperimentRunner.Reuse(plan, _dir.Path)).Message);
        Assert.Contains("is the run folder itself", Assert.Throws<SoupInputException>(() => ExperimentRunner.Reuse(plan, plan.RunDir)).Message);
    }

    [Fact]
    public void Open_FolderWithoutAConfiguration_NotARunFolder()
    {
        var e = Assert.Throws<SoupInputException>(() => ExperimentRunner.Open(_dir.Path, FakeFamily.Catalogue));
        Assert.Contains("not a run folder", e.Message);
        Assert.Contains(ExperimentPlan.ResolvedConfigFile, e.Message);
    }

    [Theory]
    [InlineData("Repeats", "1000000", "'Repeats': 1000000 is outside [1, 100]")]
    [InlineData("EuDivisions", "100000000", "'EuDivisions': makes more than 1000000 preferences for 2 experts")]
    [InlineData("SoupWeights", "[[0.5, 0.5], [2, -1]]", "'SoupWeights[1]': weights: weight 2 is -1; weights must be non-negative, in [2, -1]")]
    [InlineData("SoupWeights", "[[0.5, 0.25, 0.25]]", "'SoupWeights[0]': has 3 weights for 2 experts")]
    [InlineData("MorlPreferences", "[[0.5, 0.6]]", "'MorlPreferences[0]': weights: sum to 1.1, not 1 (tolerance 1e-06), in [0.5, 0.6]")]
    [InlineData("MorlPreferences", "[[1, 0]]", "'MorlPreferences[0]': is an expert's own reward")]
    [InlineData("SoupWeights", "{\"a\": 1}", "'SoupWeights': expected a list")]
    [InlineData("Episodes", "0", "'Episodes': 0 is outside [1, 10000]")]
    [InlineData("Name", "\"../../etc\"", "'Name': must be a plain name")]
    [InlineData("SoupModes", "[\"linear\", \"linear\"]", "'SoupModes': must be distinct plain names")]
    public void Open_ResolvedConfigurationOutOfBounds_OneLineErrorNamingTheKey(string key, string json, string expected)
    {
        string run = _dir.File("run");
        ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small)), run);
        string path = Path.Combine(run, ExperimentPlan.ResolvedConfigFile);
        JsonObject root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root[key] = JsonNode.Parse(json);
        File.WriteAllText(path, root.ToJsonString());
        var e = Assert.Throws<SoupInputException>(() => ExperimentRunner.Open(run, FakeFamily.Catalogue));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Open_ResolvedConfigurationTooLarge_RefusedBeforeReading()
    {
        string run = _dir.File("run");
        ExperimentRunner.Prepare(PlanFixtures.Load(_dir, FakeFamily.Yaml(PlanFixtures.Small)), run);
        string path = Path.Combine(run, ExperimentPlan.ResolvedConfigFile);
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(ConfigLimits.MaxResolvedBytes + 1L);
        var e = Assert.Throws<SoupInputException>(() => ExperimentRunner.Open(run, FakeFamily.Catalogue));
        Assert.Equal($"{path}: {ConfigLimits.MaxResolvedBytes + 1L} bytes; a resolved configuration is at most {ConfigLimits.MaxResolvedBytes} bytes", e.Message);
    }

    [Theory]
    [InlineData("{\"Name\": ")]
    [InlineData("{\"Name\": \"x\"}")]  // required members missing
    public void Open_DamagedConfiguration_OneLineError(string text)
    {
        File.WriteAllText(_dir.File(ExperimentPlan.ResolvedConfigFile), text);
        var e = Assert.Throws<SoupInputException>(() => ExperimentRunner.Open(_dir.Path, FakeFamily.Catalogue));
        Assert.Contains("not a valid resolved configuration", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
