using System.Diagnostics;
using RewardedSoups.Checkpoints;
using RewardedSoups.Tests.Fixtures;

namespace RewardedSoups.Tests;

public sealed class FolderLockTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Acquire_Twice_SecondRefusedNamingTheHoldersPid_ThenFreeAfterRelease()
    {
        string folder = _dir.File("run");
        using (FolderLock.Acquire(folder, "run folder"))
        {
            var e = Assert.Throws<FolderInUseException>(() => FolderLock.Acquire(folder, "run folder"));
            Assert.Equal($"{folder}: run folder is in use by process {Environment.ProcessId}; wait for it to finish, or stop it, and run again", e.Message);
        }
        using FolderLock again = FolderLock.Acquire(folder, "run folder");
    }

    [Fact]
    public void Acquire_LockOfAKilledProcess_IsTakenOver()
    {
        string folder = _dir.File("job");
        Directory.CreateDirectory(folder);
        // Another process takes the same kind of lock (flock on FOLDER/.lock), then dies by SIGKILL.
        using Process holder = Process.Start(new ProcessStartInfo("bash", ["-c", $"exec 9>'{folder}/.lock'; flock -x 9; echo locked; exec sleep 60"]) { RedirectStandardOutput = true })!;
        Assert.Equal("locked", holder.StandardOutput.ReadLine());
        Assert.Throws<FolderInUseException>(() => FolderLock.Acquire(folder, "job 's1-init'"));
        holder.Kill();
        holder.WaitForExit();
        using FolderLock taken = FolderLock.Acquire(folder, "job 's1-init'");
        Assert.Equal($"{Environment.ProcessId}", File.ReadAllText(Path.Combine(folder, FolderLock.HolderFileName)).Trim());
    }

    [Fact]
    public void AtomicOutput_RemovesTemporariesOfDeadProcessesOnly()
    {
        string destination = _dir.File("model.safetensors");
        using Process dead = Process.Start("true")!;
        dead.WaitForExit();
        using Process alive = Process.Start("sleep", "60")!;
        try
        {
            string ofDead = _dir.File($".model.safetensors.tmp-{dead.Id}-{Guid.NewGuid():N}");
            string ofDeadFolder = _dir.File($".model.safetensors.tmp-{dead.Id}-{Guid.NewGuid():N}");
            string ofLive = _dir.File($".model.safetensors.tmp-{alive.Id}-{Guid.NewGuid():N}");
            string older = _dir.File($".model.safetensors.tmp-{Guid.NewGuid():N}");        // written before PIDs were recorded
            string otherOutput = _dir.File($".other.safetensors.tmp-{dead.Id}-{Guid.NewGuid():N}");
            foreach (string f in new[] { ofDead, ofLive, older, otherOutput }) File.WriteAllText(f, "partial");
            Directory.CreateDirectory(ofDeadFolder);
            File.WriteAllText(Path.Combine(ofDeadFolder, "shard"), "partial");

            AtomicOutput.WriteAllText(destination, "done");

            Assert.Equal("done", File.ReadAllText(destination));
            Assert.False(File.Exists(ofDead));
            Assert.False(Directory.Exists(ofDeadFolder));
            Assert.True(File.Exists(ofLive));
            Assert.True(File.Exists(older));
            Assert.True(File.Exists(otherOutput));   // another destination's: cleaned when that one is written
        }
        finally
        {
            alive.Kill();
            alive.WaitForExit();
        }
    }
}
