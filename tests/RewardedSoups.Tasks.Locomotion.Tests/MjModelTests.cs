using RewardedSoups.Tasks.Locomotion.Tests.Fixtures;

namespace RewardedSoups.Tasks.Locomotion.Tests;

public sealed class MjModelTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Version_LoadedLibrary_Is222()
    {
        Assert.Equal(222, MuJoCo.Version);
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        var e = Assert.Throws<SoupInputException>(() => MjModel.Load(Path.Combine(_dir.Path, "absent.xml")));
        Assert.Contains("absent.xml", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Load_UnknownJointInActuator_CarriesMuJoCoErrorTextOnOneLine()
    {
        string path = _dir.Write("bad-actuator.xml", """
            <mujoco>
              <worldbody><body><joint name="hinge"/><geom size="0.1"/></body></worldbody>
              <actuator><motor joint="nope"/></actuator>
            </mujoco>
            """);
        var e = Assert.Throws<SoupInputException>(() => MjModel.Load(path));
        Assert.Contains("bad-actuator.xml", e.Message);
        Assert.Contains("unknown transmission target 'nope'", e.Message); // MuJoCo's own words
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Load_UnclosedElement_CarriesMuJoCoParseError()
    {
        string path = _dir.Write("broken.xml", "<mujoco><worldbody><body></worldbody></mujoco>");
        var e = Assert.Throws<SoupInputException>(() => MjModel.Load(path));
        Assert.StartsWith($"model '{path}': MuJoCo cannot load it: ", e.Message);
        Assert.Contains("XML parse error", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Load_AfterFailedLoad_StillLoads()
    {
        // MuJoCo swaps its error handlers during a load: a failure must not leave them broken.
        string bad = _dir.Write("bad.xml", "<mujoco><nonsense/></mujoco>");
        Assert.Throws<SoupInputException>(() => MjModel.Load(bad));
        using var model = MjModel.Load(_dir.Write("sled.xml", Sled.Xml));
        Assert.Equal(9, model.Nq);
    }

    [Fact]
    public void Qpos0_AfterDispose_ThrowsObjectDisposed()
    {
        var model = MjModel.Load(_dir.Write("sled.xml", Sled.Xml));
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Qpos0.Length);
    }
}
