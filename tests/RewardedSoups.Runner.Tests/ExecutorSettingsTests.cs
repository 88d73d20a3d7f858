using RewardedSoups.Runner;
using RewardedSoups.Runner.Slurm;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

/// <summary>The configuration's <c>executor:</c> section: every key checked, and no part of the experiment's identity.</summary>
public sealed class ExecutorSettingsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Base = "name: x\ntask: fake\npretrain: {reward: a, steps: 10}\nexperts: {rewards: [a, b], steps: 10}\n";

    private ExperimentConfig Load(string executor)
    {
        string path = _dir.File($"c{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Base + executor);
        return ExperimentConfig.Load(path, FakeFamily.Catalogue);
    }

    [Fact]
    public void Read_EveryKey_BindsIt()
    {
        ExecutorSettings e = Load("executor:\n  kind: slurm\n  partition: gpu-a100\n  account: proj_42\n  qos: normal\n" +
                                  "  time: {init: \"8:00:00\", expert: 90, eval: 2-00, report: \"30\"}\n  cpus_per_task: 4\n  mem: 16G\n  gres: gpu:a100:1\n" +
                                  "  sbatch_args: [\"--exclude=node12\", \"--constraint=avx512\"]\n  setup: [\"module load dotnet/10\", \"export X=1\"]\n  signal_seconds: 300\n").Executor;
        Assert.Equal(ExecutorKind.Slurm, e.Kind);
        Assert.Equal(("gpu-a100", "proj_42", "normal"), (e.Partition, e.Account, e.Qos));
        Assert.Equal(new Dictionary<string, string> { ["init"] = "8:00:00", ["expert"] = "90", ["eval"] = "2-00", ["report"] = "30" }, e.Time);
        Assert.Equal((4, "16G", "gpu:a100:1", 300), (e.CpusPerTask, e.Mem, e.Gres, e.SignalSeconds));
        Assert.Equal(["--exclude=node12", "--constraint=avx512"], e.SbatchArgs);
        Assert.Equal(["module load dotnet/10", "export X=1"], e.Setup);
    }

    [Fact]
    public void Read_OneTimeLimit_AppliesToEveryKind_AndNoSectionIsLocal()
    {
        Assert.All(ExecutorSettings.JobKinds, k => Assert.Equal("1-12:00", Load("executor: {kind: slurm, time: \"1-12:00\"}").Executor.Time[k]));
        Assert.Same(ExecutorSettings.Local, Load("").Executor);
        Assert.Equal(ExecutorKind.Local, Load("").Executor.Kind);
    }

    [Fact]
    public void Executor_IsNotPartOfTheExperiment_ResolvedConfigurationAndJobKeysUnchanged()
    {
        ExperimentConfig local = Load("");
        ExperimentConfig slurm = Load("executor: {kind: slurm, partition: p, time: 60, cpus_per_task: 8}");
        Assert.Equal(ExperimentPlan.ConfigJson(local), ExperimentPlan.ConfigJson(slurm));
        Assert.DoesNotContain("xecutor", ExperimentPlan.ConfigJson(slurm));
        Assert.Equal(ExperimentPlan.Create(local, _dir.File("a")).Jobs.Select(j => j.Key), ExperimentPlan.Create(slurm, _dir.File("b")).Jobs.Select(j => j.Key));
    }

    [Theory]
    [InlineData("executor: {kind: pbs}", "'executor.kind': must be local or slurm")]
    [InlineData("executor: {partitions: gpu}", "executor.partitions")]
    [InlineData("executor: {partition: \"gpu; rm -rf /\"}", "'executor.partition': must be a Slurm name")]
    [InlineData("executor: {time: \"1:2:3:4\"}", "'executor.time': must be a Slurm time limit")]
    [InlineData("executor: {time: {expert: \"soon\"}}", "'executor.time.expert': must be a Slurm time limit")]
    [InlineData("executor: {time: {training: 60}}", "executor.time.training")]
    [InlineData("executor: {cpus_per_task: 0}", "executor.cpus_per_task")]
    [InlineData("executor: {mem: 16GiB}", "'executor.mem': must be a size")]
    [InlineData("executor: {gres: \"gpu:1 --wrap=x\"}", "'executor.gres': must be a generic resource")]
    [InlineData("executor: {sbatch_args: [\"--dependency=afterok:1\"]}", "'executor.sbatch_args[0]': --dependency is set by the executor")]
    [InlineData("executor: {sbatch_args: [\"-o\", \"x\"]}", "'executor.sbatch_args[0]': -o is set by the executor")]
    [InlineData("executor: {sbatch_args: [\"exclusive\"]}", "'executor.sbatch_args[0]': must be an sbatch option")]
    [InlineData("executor: {setup: [\"module load a\\nrm -rf /\"]}", "'executor.setup[0]': must be one line")]
    [InlineData("executor: {signal_seconds: 5}", "executor.signal_seconds")]
    public void Read_BadValue_OneLineErrorNamingTheKey(string executor, string expected)
    {
        var e = Assert.Throws<SoupInputException>(() => Load(executor));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
